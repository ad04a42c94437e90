"""The scale benchmark's pieces on hand-made inputs (no dbt, no big data)."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ulm import bench_scale

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENT_TYPES = PROJECT_ROOT / "seeds" / "event_types.csv"

EVENT_FIELDS = (
    "event_id",
    "user_id",
    "event_at",
    "event_type",
    "item_id",
    "quantity",
    "revenue",
)
# as_of_date is 2024-03-31, the date of the last valid event.
RAW_EVENTS = [
    # user a: one purchase session on Jan 1, two sessions on Mar 30 (a 60
    # minute gap; the second time is written without an offset, so UTC),
    # a refund on Mar 31
    ("e1", "a", "2024-01-01T10:00:00Z", "view", "i1", None, None),
    ("e2", "a", "2024-01-01T10:10:00Z", "cart", "i1", None, None),
    ("e3", "a", "2024-01-01T10:20:00Z", "purchase", "i1", "1", "100.00"),
    ("e4", "a", "2024-03-30T09:00:00+02:00", "view", "i2", None, None),
    ("e5", "a", "2024-03-30 08:00:00", "PURCHASE", "i2", None, "20,50"),
    ("e6", "a", "2024-03-31T23:50:00Z", "refund", "i1", None, "10"),
    # user b: one session across midnight; e12 again later is a duplicate
    # event id (the earliest is kept), e10 twice is an exact copy
    ("e10", "b", "2024-03-01T23:50:00Z", "view", "i3", None, None),
    ("e10", "b", "2024-03-01T23:50:00Z", "view", "i3", None, None),
    ("e11", "b", "2024-03-02T00:10:00Z", "page_view", "i3", None, None),
    ("e12", "b", "2024-03-02T00:15:00Z", "purchase", "i3", "2", "30"),
    ("e12", "b", "2024-03-05T00:00:00Z", "purchase", "i1", "1", "999"),
    # user c: a login only, so no purchase
    ("e20", "c", "2024-02-15T12:00:00Z", "login", None, None, None),
    # rejected rows
    ("e30", "  ", "2024-03-10T00:00:00Z", "view", "i1", None, None),
    ("e31", "NULL", "2024-03-10T00:00:00Z", "view", "i1", None, None),
    ("e32", "d", "not a date", "view", "i1", None, None),
    ("e33", "d", "2024-03-10T00:00:00Z", "wishlist_add", "i1", None, None),
    ("e34", "d", "2024-03-10T00:00:00Z", "purchase", "i1", "1", "-5"),
    ("e35", "d", "2024-03-10T00:00:00Z", "purchase", "i1", "1", "abc"),
    ("e36", "d", "2099-01-01T00:00:00Z", "view", "i1", None, None),
    ("e37", "d", "2024-03-10T00:00:00Z", "view", " ", None, None),
]
ITEMS = {"item_id": ["i1", "i2", "i3"], "category": ["toys", "home", "toys"]}

# What fct_user_rfm and fct_user_activity hold for these events, by their
# documented rules. Scores among the two buyers: recency a (1 day) ranks
# first -> 5, b (29 days) -> 5 - floor(5 * 1 / 2) = 3; frequency and monetary
# b ranks first -> 1, a -> 1 + floor(5 * 1 / 2) = 3.
EXPECTED_RFM = {
    "a": ("Potential Loyalist", "533", 1, 2, 110.5, 5, 3, 3, True, date(2024, 3, 30)),
    "b": ("About To Sleep", "311", 29, 1, 30.0, 3, 1, 1, True, date(2024, 3, 2)),
    "c": ("Non-buyer", None, None, 0, 0.0, None, None, None, False, None),
}
EXPECTED_ACTIVITY = {
    # events, active days and sessions in 7/30/90 days, previous 30 days,
    # events, sessions, purchases, purchase days, net revenue, items,
    # categories, tenure, days since last event and purchase, mean days
    # between purchases, trend, cart to purchase rate, first and last event
    "a": (
        (3, 2, 3, 3, 2, 3, 3, 2, 3, 0),
        (6, 4, 2, 2, 110.5, 2, 2, 90, 0, 1, 89.0, 1.0, 2.0),
        (datetime(2024, 1, 1, 10), datetime(2024, 3, 31, 23, 50)),
    ),
    "b": (
        (0, 0, 0, 2, 1, 1, 3, 2, 2, 1),
        (3, 2, 1, 1, 30.0, 1, 1, 30, 29, 29, None, 1 / 3, None),
        (datetime(2024, 3, 1, 23, 50), datetime(2024, 3, 2, 0, 15)),
    ),
    "c": (
        (0, 0, 0, 0, 0, 0, 1, 1, 1, 1),
        (1, 1, 0, 0, 0.0, 0, 0, 45, 45, None, None, -1.0, None),
        (datetime(2024, 2, 15, 12), datetime(2024, 2, 15, 12)),
    ),
}


@pytest.fixture(scope="module")
def floor_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("floor")
    columns = list(zip(*RAW_EVENTS, strict=True))
    events = pa.table(
        {
            name: pa.array(values, pa.string())
            for name, values in zip(EVENT_FIELDS, columns, strict=True)
        }
    )
    pq.write_table(events, folder / "events.parquet")
    pq.write_table(pa.table(ITEMS), folder / "items.parquet")
    sql = bench_scale.floor_sql(
        folder / "events.parquet", folder / "items.parquet", EVENT_TYPES
    )
    database = folder / "floor.duckdb"
    seconds = bench_scale.run_floor_sql(database, sql, 1, "1GB", folder / "tmp")
    assert seconds > 0
    return database


def _rows(database: Path, table: str, columns: list[str]) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            f"select user_id, {', '.join(columns)} from {table} order by user_id"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_floor_rfm_matches_the_mart_rules(floor_database: Path) -> None:
    rows = _rows(floor_database, "floor_rfm", list(bench_scale.RFM_COLUMNS))
    assert list(rows) == ["a", "b", "c"]
    for user, expected in EXPECTED_RFM.items():
        got = rows[user]
        assert got[:4] == expected[:4], user
        assert float(got[4]) == pytest.approx(expected[4]), user
        assert got[5:] == expected[5:], user


def test_floor_activity_matches_the_mart_rules(floor_database: Path) -> None:
    rows = _rows(floor_database, "floor_activity", list(bench_scale.ACTIVITY_COLUMNS))
    assert list(rows) == ["a", "b", "c"]
    for user, (windows, totals, times) in EXPECTED_ACTIVITY.items():
        got = rows[user]
        assert got[:10] == windows, user
        assert got[10:14] == totals[:4], user
        assert float(got[14]) == pytest.approx(totals[4]), user
        assert got[15:20] == totals[5:10], user
        for value, wanted in zip(got[20:23], totals[10:], strict=True):
            assert value == (None if wanted is None else pytest.approx(wanted)), user
        assert got[23:] == times, user


def test_comparison_with_marts_counts_differing_users(
    floor_database: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "ulm.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(f"attach '{floor_database}' as floor (read_only)")
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.fct_user_rfm as select * from floor.floor_rfm"
        )
        connection.execute(
            "create table marts.fct_user_activity as"
            " select * from floor.floor_activity where user_id <> 'c'"
        )
        connection.execute(
            "update marts.fct_user_rfm set monetary = monetary + 0.01,"
            " rfm_code = '555' where user_id = 'a'"
        )
    compared = bench_scale.compare_with_marts(warehouse, floor_database)
    assert compared["rfm"] == {
        "users": 3,
        "differing": {"rfm_code": 1, "monetary": 1},
    }
    # c is missing from the mart: counted as missing and in every column it has
    # a value for
    activity = compared["activity"]["differing"]
    assert activity["missing_users"] == 1
    assert activity["events"] == 1 and activity["activity_trend"] == 1
    assert "cart_to_purchase_rate" not in activity
    assert compared["agrees"] is False


def test_node_timings_group_features_python_models_and_tests() -> None:
    def model(name: str, language: str = "sql") -> dict:
        return {"name": name, "resource_type": "model", "language": language}

    manifest = {
        "nodes": {
            "model.ulm.stg_events": model("stg_events"),
            "model.ulm.int_daily": model("int_daily"),
            "model.ulm.fct_user_rfm": model("fct_user_rfm"),
            "model.ulm.fct_user_activity": model("fct_user_activity"),
            "model.ulm.fct_sessions": model("fct_sessions"),
            "model.ulm.ml_churn_scores": model("ml_churn_scores", "python"),
            "seed.ulm.event_types": {"name": "event_types", "resource_type": "seed"},
        },
        "parent_map": {
            "model.ulm.stg_events": ["seed.ulm.event_types"],
            "model.ulm.int_daily": ["model.ulm.stg_events"],
            "model.ulm.fct_user_rfm": ["model.ulm.int_daily"],
            "model.ulm.fct_user_activity": ["model.ulm.int_daily"],
            "model.ulm.fct_sessions": ["model.ulm.stg_events"],
            "model.ulm.ml_churn_scores": ["model.ulm.int_daily"],
        },
    }
    seconds = {
        "seed.ulm.event_types": 0.5,
        "model.ulm.stg_events": 10.0,
        "model.ulm.int_daily": 4.0,
        "model.ulm.fct_user_rfm": 1.0,
        "model.ulm.fct_user_activity": 2.0,
        "model.ulm.fct_sessions": 3.0,
        "model.ulm.ml_churn_scores": 7.0,
        "test.ulm.unique_x": 1.5,
        "test.ulm.not_null_x": 0.25,
        "unit_test.ulm.fct_user_rfm.rules": 0.75,
    }
    run_results = {
        "elapsed_time": 31.0,
        "results": [
            {"unique_id": node, "execution_time": time, "status": "success"}
            for node, time in seconds.items()
        ],
    }
    run_results["results"][-1]["status"] = "fail"

    timings = bench_scale.node_timings(run_results, manifest)

    assert timings["feature_sql_seconds"] == 17.0
    assert list(timings["feature_sql_models"]) == [
        "fct_user_activity",
        "fct_user_rfm",
        "int_daily",
        "stg_events",
    ]
    assert timings["other_sql_seconds"] == 3.0
    assert timings["python_models"] == {"ml_churn_scores": 7.0}
    assert timings["data_tests_seconds"] == 1.75
    assert timings["unit_tests_seconds"] == 0.75
    assert timings["seeds_seconds"] == 0.5
    assert timings["failed_nodes"] == 1
    assert timings["slowest"][0] == ["model.ulm.stg_events", 10.0]


def test_feature_path_is_built_alone_and_timed_by_dbt() -> None:
    selection = bench_scale.feature_path_selection()
    assert selection[:3] == ["--select", "+fct_user_rfm", "+fct_user_activity"]
    assert "test" not in selection and selection.count("--resource-type") == 2

    run_results = {
        "elapsed_time": 12.345,
        "results": [
            {
                "unique_id": "seed.ulm.event_types",
                "execution_time": 0.1,
                "status": "success",
            },
            {
                "unique_id": "model.ulm.stg_events",
                "execution_time": 8.0,
                "status": "success",
            },
            {
                "unique_id": "model.ulm.fct_user_rfm",
                "execution_time": 1.234,
                "status": "success",
            },
        ],
    }
    timings = bench_scale.feature_path_timings(run_results)
    assert timings == {
        "succeeded": True,
        "dbt_elapsed_seconds": 12.35,
        "models": {"fct_user_rfm": 1.23, "stg_events": 8.0},
    }
    run_results["results"][1]["status"] = "error"
    assert bench_scale.feature_path_timings(run_results)["succeeded"] is False


def _scale(events: int, raw_rows: int, **figures: float | None) -> dict:
    implicit = (
        None
        if figures.get("implicit_fit") is None
        else {
            "fit_seconds": figures["implicit_fit"],
            "total_seconds": figures["implicit_total"],
        }
    )
    return {
        "events": events,
        "counts": {"raw_rows": raw_rows},
        "build": {
            "wall_seconds": figures["build"],
            "peak_rss_bytes": figures["rss_gib"] * bench_scale.GIB,
            "feature_sql_seconds": 99.0,
            "python_seconds": 1.0,
        },
        "feature_path": {"dbt_elapsed_seconds": figures["feature_sql"]},
        "floor_sql": {"sql_seconds": figures["floor"]},
        "item_cf": {
            "ulm": {
                "similarities_seconds": figures["similarities"],
                "total_seconds": figures["cf_total"],
            },
            "implicit": implicit,
        },
    }


def test_goals_compare_each_figure_with_its_budget() -> None:
    scale = _scale(
        1000,
        1000,
        build=100.0,
        rss_gib=5.0,
        feature_sql=30.0,
        floor=20.0,
        similarities=3.0,
        cf_total=10.0,
        implicit_fit=2.0,
        implicit_total=20.0,
    )
    goals = bench_scale.scale_ratios(scale)
    assert goals["build_seconds"] == {"value": 100.0, "budget": 120.0, "met": True}
    assert goals["build_peak_rss_gib"]["met"] is False
    assert goals["feature_sql_over_floor"] == {"value": 1.5, "budget": 1.5, "met": True}
    assert goals["similarity_fit_over_implicit_fit"]["value"] == 1.5
    assert goals["similarity_fit_over_implicit_fit"]["met"] is False
    assert goals["cf_end_to_end_over_implicit"]["value"] == 0.5
    assert goals["cf_end_to_end_over_implicit"]["met"] is True

    without_implicit = _scale(
        1000,
        1000,
        build=1.0,
        rss_gib=1.0,
        feature_sql=1.0,
        floor=1.0,
        similarities=1.0,
        cf_total=1.0,
    )
    goals = bench_scale.scale_ratios(without_implicit)
    assert goals["cf_end_to_end_over_implicit"]["met"] is None


def test_growth_is_judged_against_the_growth_of_raw_rows() -> None:
    common = {"rss_gib": 1.0, "similarities": 1.0, "implicit_fit": None}
    small = _scale(
        100, 100, build=10.0, feature_sql=2.0, floor=1.0, cf_total=1.0, **common
    )
    large = _scale(
        1000, 1000, build=50.0, feature_sql=20.0, floor=20.0, cf_total=12.5, **common
    )
    grown = bench_scale.growth(small, large)
    assert grown["rows_growth"] == 10.0
    figures = grown["figures"]
    assert figures["build_seconds"] == {
        "growth": 5.0,
        "growth_over_rows_growth": 0.5,
        "linear_or_better": True,
    }
    assert figures["feature_sql_seconds"]["linear_or_better"] is True
    assert figures["floor_sql_seconds"]["growth_over_rows_growth"] == 2.0
    assert figures["floor_sql_seconds"]["linear_or_better"] is False
    assert figures["ulm_cf_seconds"]["growth"] == 12.5
    assert figures["implicit_cf_seconds"]["growth"] is None


def test_run_measured_sees_the_memory_of_grandchildren(tmp_path: Path) -> None:
    grandchild = "b = bytearray(300_000_000); import time; time.sleep(1.0)"
    child = (
        "import subprocess, sys; "
        f"subprocess.run([sys.executable, '-c', {grandchild!r}])"
    )
    measured = bench_scale.run_measured(
        [sys.executable, "-c", child], {}, tmp_path, tmp_path / "out.log"
    )
    assert measured.returncode == 0
    assert measured.wall_seconds >= 1.0
    assert measured.peak_tree_rss_bytes >= 300_000_000
    assert measured.max_rss_bytes >= 300_000_000
