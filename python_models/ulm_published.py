"""Copy the public tables into the read-only file BI tools read (ulm.publish).

It refs every public table, so dbt runs it last and, in `dbt build`, only
after all their tests passed: a failing build never reaches the published
file.
"""

from ulm import frames, publish, settings


def model(dbt, session):
    dbt.config(materialized="table")
    settings.configure_logging()
    public_tables = {
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
        "marts.ml_model_metrics": dbt.ref("ml_model_metrics"),
        "staging.stg_raw__events_rejected": dbt.ref("stg_raw__events_rejected"),
    }
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    return publish.publish_tables(
        session,
        list(public_tables),
        publish.published_path(publish.working_file(session)),
        as_of_date=as_of["as_of_date"].iloc[0],
    )
