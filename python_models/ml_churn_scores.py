"""Churn probability, risk band, drivers and predicted revenue per active user."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    daily = frames.to_pandas(
        dbt.ref("int_user_daily_activity"), order_by=pipelines.DAILY_KEYS
    )
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    return pipelines.churn_scores(daily, as_of, config)
