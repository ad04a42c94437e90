"""Top-N unseen items per user, with the item that led to each one."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    interactions = frames.to_pandas(
        # stored in key order (in_key_order checks it): read without a sort
        dbt.ref("int_user_item_interactions"),
        columns=pipelines.CF_INTERACTION_COLUMNS,
    )
    similarities = frames.to_pandas(dbt.ref("ml_item_similarities"))
    users = frames.to_pandas(dbt.ref("fct_user_activity").project("user_id"))
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    # Millions of rows: dbt-duckdb writes an Arrow table faster than pandas.
    return frames.to_arrow(
        pipelines.user_recommendations(interactions, similarities, users, as_of, config)
    )
