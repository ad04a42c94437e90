"""Holdout quality of every model beside its naive baseline."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    dbt.ref("ml_churn_scores")
    dbt.ref("ml_user_recommendations")
    dbt.ref("ml_segment_profiles")
    daily = frames.to_pandas(dbt.ref("int_user_daily_activity"))
    interactions = frames.to_pandas(dbt.ref("int_user_item_interactions"))
    activity = frames.to_pandas(dbt.ref("fct_user_activity"))
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    return pipelines.model_metrics(daily, interactions, activity, as_of, config)
