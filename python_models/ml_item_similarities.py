"""Item-item collaborative filtering: top-K neighbours per item."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    interactions = frames.to_pandas(
        # stored in key order (in_key_order checks it): read without a sort
        dbt.ref("int_user_item_interactions"),
        columns=pipelines.CF_INTERACTION_COLUMNS,
    )
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    # Many rows: dbt-duckdb writes an Arrow table faster than pandas.
    return frames.to_arrow(pipelines.item_similarities(interactions, as_of, config))
