"""Publish the public tables as the read-only file BI tools read (ulm.publish).

ulm_publish_staged has copied every public table but ml_model_metrics into
a new file once their tests passed; this model runs last, after the tests
of ml_model_metrics too, adds that table and the manifest, and swaps the
file onto the published path. A failing build never reaches the published
file. Run apart from ulm_publish_staged (another dbt process), it copies
every table itself.
"""

from ulm import frames, publish, settings


def model(dbt, session):
    dbt.config(materialized="table")
    settings.configure_logging()
    staged = frames.to_pandas(dbt.ref("ulm_publish_staged"))
    dbt.ref("ml_model_metrics")
    as_of = frames.to_pandas(dbt.ref("int_as_of_date"))
    return publish.publish_tables(
        session,
        [*staged["table_name"], "marts.ml_model_metrics"],
        publish.published_path(publish.working_file(session)),
        as_of_date=as_of["as_of_date"].iloc[0],
    )
