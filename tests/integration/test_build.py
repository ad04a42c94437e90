"""The whole `dbt build` on real inputs: the built-in sample and UCI Online Retail.

Each build writes its own DuckDB file, runs every model and every dbt test,
then the checks below read the tables back.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import PROJECT_ROOT, dataset_path, query, run_dbt, scalar

pytestmark = pytest.mark.integration

PUBLIC_TABLES = [
    "staging.stg_raw__events",
    "marts.fct_events",
    "marts.fct_sessions",
    "marts.dim_items",
    "marts.fct_user_rfm",
    "marts.fct_user_activity",
    "marts.fct_user_lifecycle",
    "marts.fct_lifecycle_transitions",
    "marts.fct_cohort_retention",
    "marts.dim_users",
    "marts.ml_user_segments",
    "marts.ml_segment_profiles",
    "marts.ml_item_similarities",
    "marts.ml_user_recommendations",
    "marts.ml_churn_scores",
    "marts.ml_model_metrics",
]


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory) -> Path:
    database = tmp_path_factory.mktemp("sample") / "ulm.duckdb"
    run_dbt(["build"], database)
    return database


@pytest.fixture(scope="module")
def uci_build(tmp_path_factory) -> Path:
    folder = dataset_path("uci_online_retail")
    variables = yaml.safe_load(
        (PROJECT_ROOT / "config/uci_online_retail.yml").read_text()
    )
    variables["raw_events_path"] = str(folder / "online_retail.parquet")
    database = tmp_path_factory.mktemp("uci") / "ulm.duckdb"
    run_dbt(["build"], database, variables)
    return database


def assert_reconciles(database: Path, raw_rows: int) -> None:
    accepted = scalar(database, "select count(*) from staging.stg_raw__events")
    rejected = scalar(database, "select count(*) from staging.stg_raw__events_rejected")
    assert accepted + rejected == raw_rows
    assert accepted > 0.5 * raw_rows


def assert_public_tables_plausible(database: Path) -> None:
    for table in PUBLIC_TABLES:
        assert scalar(database, f"select count(*) from {table}") > 0, table

    users = scalar(database, "select count(distinct user_id) from marts.fct_events")
    assert scalar(database, "select count(*) from marts.dim_users") == users
    assert scalar(database, "select count(*) from marts.fct_user_rfm") == users

    low, high = query(
        database,
        "select min(least(recency_score, frequency_score, monetary_score)),"
        " max(greatest(recency_score, frequency_score, monetary_score))"
        " from marts.fct_user_rfm",
    )[0]
    assert (low, high) == (1, 5)

    # The daily grain counts sessions without naming them; it must count the
    # sessions fct_events names, day by day.
    days_counted_otherwise = scalar(
        database,
        """
        select count(*)
        from intermediate.int_user_daily_activity as daily
        full outer join (
            select user_id, event_date, count(distinct session_id) as sessions
            from marts.fct_events
            group by user_id, event_date
        ) as named
            on daily.user_id = named.user_id
            and daily.activity_date = named.event_date
        where daily.sessions is distinct from named.sessions
        """,
    )
    assert days_counted_otherwise == 0

    bad_probabilities = scalar(
        database,
        "select count(*) from marts.ml_churn_scores"
        " where churn_probability not between 0 and 1",
    )
    assert bad_probabilities == 0

    bought_then_recommended = scalar(
        database,
        """
        select count(*)
        from marts.ml_user_recommendations as recommendations
        inner join marts.fct_events as events
            on recommendations.user_id = events.user_id
            and recommendations.item_id = events.item_id
        where events.event_type = 'purchase'
        """,
    )
    assert bought_then_recommended == 0

    cohort_month_zero = query(
        database,
        "select min(retention_rate), max(rolling_retention_rate)"
        " from marts.fct_cohort_retention where months_since_acquisition = 0",
    )[0]
    assert cohort_month_zero[1] == 1.0

    variants = {
        (model, variant)
        for model, variant in query(
            database, "select distinct model, variant from marts.ml_model_metrics"
        )
    }
    for expected in [
        ("churn", "classifier"),
        ("churn", "recency"),
        ("churn", "bgnbd"),
        ("recommendations", "item_cf"),
        ("recommendations", "most_popular"),
        ("segments", "kmeans"),
    ]:
        assert expected in variants


def test_sample_build_reconciles_and_fills_every_table(sample_build: Path) -> None:
    raw_rows = scalar(
        sample_build,
        "select count(*) from read_csv("
        f"'{PROJECT_ROOT / 'data/sample/events.csv.gz'}',"
        " all_varchar = true, header = true)",
    )
    assert_reconciles(sample_build, raw_rows)
    assert_public_tables_plausible(sample_build)

    reasons = {
        reason
        for (reason,) in query(
            sample_build,
            "select distinct reject_reason from staging.stg_raw__events_rejected",
        )
    }
    assert {
        "missing_user_id",
        "unparseable_event_at",
        "unknown_event_type",
        "negative_amount",
        "invalid_revenue",
        "exact_duplicate",
        "duplicate_event_id",
    } <= reasons


def test_uci_online_retail_build(uci_build: Path) -> None:
    assert_reconciles(uci_build, 541_909)
    assert_public_tables_plausible(uci_build)

    by_reason = dict(
        query(
            uci_build,
            "select reject_reason, count(*) from staging.stg_raw__events_rejected"
            " group by reject_reason",
        )
    )
    # The dataset's documented 135,080 lines without a customer.
    assert by_reason["missing_user_id"] == 135_080
    assert scalar(uci_build, "select count(*) from marts.dim_users") == 4_372
    as_of = scalar(uci_build, "select as_of_date from intermediate.int_as_of_date")
    assert str(as_of) == "2011-12-09"


def test_key_tests_find_exactly_the_repeated_keys(sample_build: Path) -> None:
    """The project's unique and unique_combination_of_columns tests, as
    compiled for the build, run against keys with known repeats: each
    repeated key is reported once with its count, and keys that occur once
    are not. A null id is no key (as in dbt's unique); a combination with a
    null part is a key like any other."""
    compiled = sample_build.parent / "target" / "compiled" / "ulm" / "models"
    unique_sql = (
        compiled / "staging/_staging__models.yml/unique_stg_raw__events_event_id.sql"
    ).read_text()
    combination_sql = next(
        text
        for path in compiled.rglob("unique_combination_of_columns*.sql")
        if '"stg_raw__events_validated"' in (text := path.read_text())
    )
    events = "(values ('a'), ('b'), ('a'), (null), (null), ('a'), ('c')) as t(event_id)"
    rows = (
        "(values ('f1', 1), ('f1', 2), ('f2', 1), ('f1', 2), (null, 3), (null, 3))"
        " as t(source_file, raw_row_number)"
    )
    with duckdb.connect() as connection:
        found = connection.execute(
            unique_sql.replace('"ulm"."staging"."stg_raw__events"', events)
        ).fetchall()
        assert found == [("a", 3)]
        found = connection.execute(
            combination_sql.replace('"ulm"."staging"."stg_raw__events_validated"', rows)
        ).fetchall()
        assert sorted(found, key=str) == [("f1", 2, 2), (None, 3, 2)]
