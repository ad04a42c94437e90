"""One row per behavior segment: size, name and features in real units."""

from ulm import frames, pipelines, settings


def model(dbt, session):
    dbt.config(materialized="table")
    config = settings.from_dbt(dbt.config.get("ulm_settings"))
    dbt.ref("ml_user_segments")
    activity = frames.to_pandas(
        dbt.ref("fct_user_activity"), order_by=pipelines.ACTIVITY_KEYS
    )
    return pipelines.segment_profiles(activity, config)
