"""KMeans behavior segment of every user (rules: ulm.segments)."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    activity = frames.to_pandas(
        dbt.ref("fct_user_activity"), order_by=pipelines.ACTIVITY_KEYS
    )
    return pipelines.segment_assignments(activity, config)
