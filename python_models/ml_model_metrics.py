"""Holdout quality of every model beside its naive baseline."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    # After the models it measures, so their fits are reused from the cache;
    # after ml_user_recommendations too, so the two item CF fits of a build
    # never hold memory at the same time.
    dbt.ref("ml_churn_scores")
    dbt.ref("ml_user_recommendations")
    dbt.ref("ml_segment_profiles")
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    # Each input is read for its own part and dropped before the next is read.
    churn_part = pipelines.churn_metrics(
        frames.to_pandas(
            dbt.ref("int_user_daily_activity"), order_by=pipelines.DAILY_KEYS
        ),
        as_of,
        config,
    )
    recommendation_part = pipelines.recommendation_metrics(
        frames.to_pandas(
            # stored in key order (in_key_order checks it): read without a sort
            dbt.ref("int_user_item_interactions"),
            columns=pipelines.EVALUATION_INTERACTION_COLUMNS,
        ),
        as_of,
        config,
    )
    segment_part = pipelines.segment_metrics(
        frames.to_pandas(
            dbt.ref("fct_user_activity"), order_by=pipelines.ACTIVITY_KEYS
        ),
        config,
    )
    return pipelines.model_metrics(churn_part, recommendation_part, segment_part, as_of)
