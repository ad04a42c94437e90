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
    daily = frames.to_pandas(
        dbt.ref("int_user_daily_activity"), order_by=pipelines.DAILY_KEYS
    )
    interactions = frames.to_pandas(
        dbt.ref("int_user_item_interactions"), order_by=pipelines.INTERACTION_KEYS
    )
    activity = frames.to_pandas(
        dbt.ref("fct_user_activity"), order_by=pipelines.ACTIVITY_KEYS
    )
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    return pipelines.model_metrics(daily, interactions, activity, as_of, config)
