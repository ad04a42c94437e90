"""Copy every public table but ml_model_metrics into the next published file.

It refs those tables, so in `dbt build` it runs once all of them passed
their tests, while ml_model_metrics is still being computed; ulm_published
then adds ml_model_metrics and the manifest and swaps the file in
(ulm.publish.stage_tables).
"""

from ulm import publish, settings


def model(dbt, session):
    dbt.config(materialized="table", schema="intermediate")
    settings.configure_logging()
    ready_tables = {
        "marts.fct_events": dbt.ref("fct_events"),
        "marts.fct_sessions": dbt.ref("fct_sessions"),
        "marts.fct_user_rfm": dbt.ref("fct_user_rfm"),
        "marts.fct_user_activity": dbt.ref("fct_user_activity"),
        "marts.fct_user_lifecycle": dbt.ref("fct_user_lifecycle"),
        "marts.fct_lifecycle_transitions": dbt.ref("fct_lifecycle_transitions"),
        "marts.fct_cohort_retention": dbt.ref("fct_cohort_retention"),
        "marts.dim_items": dbt.ref("dim_items"),
        "marts.dim_users": dbt.ref("dim_users"),
        "marts.ml_user_segments": dbt.ref("ml_user_segments"),
        "marts.ml_segment_profiles": dbt.ref("ml_segment_profiles"),
        "marts.ml_item_similarities": dbt.ref("ml_item_similarities"),
        "marts.ml_user_recommendations": dbt.ref("ml_user_recommendations"),
        "marts.ml_churn_scores": dbt.ref("ml_churn_scores"),
        "staging.stg_raw__events_rejected": dbt.ref("stg_raw__events_rejected"),
    }
    return publish.stage_tables(
        session,
        list(ready_tables),
        publish.published_path(publish.working_file(session)),
    )
