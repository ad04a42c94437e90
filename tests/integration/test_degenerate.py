"""Degenerate data through the real `dbt build`, SQL and Python models.

Each case either completes, with a warning in the log naming the fallback
taken, or, when nothing can be made, stops right after staging with one
message.
The inputs are small journeys generated here: users visit on some days and
view, add to cart and (every other visit) buy one of their own few items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import query, run_dbt, scalar

pytestmark = pytest.mark.integration

HEADER = "event_id,user_id,event_at,event_type,item_id,quantity,revenue"
CATALOG = [f"i{number}" for number in range(1, 7)]
START = date(2024, 1, 1)


def journeys(
    users: list[str],
    visit_days: Iterable[int],
    items_per_user: int = 3,
    catalog: list[str] = CATALOG,
    purchases: bool = True,
) -> str:
    """CSV text: on each visit day a user views, adds to cart and (every other
    visit, when purchases) buys one of their items_per_user items."""
    lines = [HEADER]
    for user_number, user in enumerate(users):
        own = [
            catalog[(user_number + offset) % len(catalog)]
            for offset in range(items_per_user)
        ]
        for visit, day in enumerate(visit_days):
            item = own[visit % len(own)]
            at = datetime.combine(START + timedelta(days=day), datetime.min.time())
            at += timedelta(hours=9 + user_number % 8)
            steps = [("view", ""), ("add_to_cart", "")]
            if purchases and visit % 2 == 0:
                steps.append(("purchase", f"{10 + user_number + visit}.50"))
            for minute, (event_type, revenue) in enumerate(steps):
                event_at = (at + timedelta(minutes=minute)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                lines.append(
                    f"{user}-{day}-{event_type},{user},{event_at},{event_type},"
                    f"{item},1,{revenue}"
                )
    return "\n".join(lines) + "\n"


def six_users() -> list[str]:
    return [f"u{number}" for number in range(1, 7)]


def build(tmp_path: Path, events: str, check: bool = True, **variables) -> dict:
    """Build on the events text; return the database, output and node results."""
    path = tmp_path / "events.csv"
    path.write_text(events)
    database = tmp_path / "ulm.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ULM_PUBLISHED_PATH", str(tmp_path / "published.duckdb"))
        result = run_dbt(
            ["build"],
            database,
            {
                "raw_events_path": str(path),
                "raw_users_path": None,
                "raw_items_path": None,
                **variables,
            },
            check=check,
        )
    nodes = json.loads((tmp_path / "target" / "run_results.json").read_text())
    return {
        "database": database,
        "output": result.stdout + result.stderr,
        "returncode": result.returncode,
        "nodes": nodes["results"],
    }


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ulm WARNING ")]


def assert_complete(result: dict) -> None:
    assert result["returncode"] == 0
    assert "Traceback" not in result["output"]
    statuses = {node["status"] for node in result["nodes"]}
    assert statuses <= {"success", "pass"}


def row_count(database: Path, table: str) -> int:
    return scalar(database, f"select count(*) from {table}")


# --- nothing to build from: one clear stop ----------------------------------


def assert_stopped_after_staging(result: dict) -> None:
    """One error, the has_accepted_events test on stg_raw__events, and every
    model after staging skipped."""
    assert result["returncode"] != 0
    assert "Traceback" not in result["output"]
    errors = [
        node["unique_id"] for node in result["nodes"] if node["status"] == "error"
    ]
    assert len(errors) == 1
    assert errors[0].startswith("test.ulm.has_accepted_events_stg_raw__events")
    skipped = {
        node["unique_id"] for node in result["nodes"] if node["status"] == "skipped"
    }
    assert {
        "model.ulm.int_as_of_date",
        "model.ulm.fct_events",
        "model.ulm.ml_churn_scores",
    } <= skipped


def test_an_empty_file_stops_with_one_message(tmp_path: Path) -> None:
    result = build(tmp_path, HEADER + "\n", check=False, as_of_date="2024-04-30")

    assert_stopped_after_staging(result)
    assert (
        f"No events to build from: the events input '{tmp_path / 'events.csv'}'"
        " (var raw_events_path) has no data rows. Point var raw_events_path at a"
        " file or glob with events and build again."
    ) in result["output"]
    # Staging is built, empty, so the input can be inspected.
    assert row_count(result["database"], "staging.stg_raw__events_rejected") == 0


def test_a_file_whose_every_row_is_rejected_stops_with_the_main_reason(
    tmp_path: Path,
) -> None:
    events = journeys(["u1"], range(0, 60, 6))
    result = build(tmp_path, events, check=False, as_of_date="2023-12-31")

    assert_stopped_after_staging(result)
    raw_rows = len(events.splitlines()) - 1
    assert (
        f"No accepted events to build from: all {raw_rows} rows of the events input"
    ) in result["output"]
    assert f"most often as after_as_of_date ({raw_rows} rows)" in result["output"]
    assert row_count(result["database"], "staging.stg_raw__events_rejected") == raw_rows


# --- degenerate but buildable: completes, warns, documented fallbacks --------


def test_one_user(tmp_path: Path) -> None:
    result = build(
        tmp_path, journeys(["u1"], range(0, 120, 6), 4), as_of_date="2024-04-30"
    )

    assert_complete(result)
    database = result["database"]
    assert query(
        database,
        "select user_id, segment_id, segment_name from marts.ml_user_segments",
    ) == [("u1", 0, "Typical users")]
    # A single buyer is ranked among buyers of one: best recency, and the
    # worst frequency and monetary scores (ties take the worst score).
    assert query(
        database,
        "select recency_score, frequency_score, monetary_score from marts.fct_user_rfm",
    ) == [(5, 1, 1)]
    assert row_count(database, "marts.ml_item_similarities") == 0
    assert row_count(database, "marts.ml_user_recommendations") == 0
    assert query(database, "select model_variant from marts.ml_churn_scores") == [
        ("baseline_recency",)
    ]
    logged = warnings(result["output"])
    assert any("segments: every user is in one segment" in line for line in logged)
    assert any("item similarities: no two of the 4 items" in line for line in logged)
    assert any("recommendations: 1 of 1 users get none" in line for line in logged)
    assert any("churn model: fallback" in line for line in logged)


def test_one_item(tmp_path: Path) -> None:
    events = journeys(six_users(), range(0, 120, 9), 1, catalog=["i1"])
    result = build(tmp_path, events, as_of_date="2024-04-30")

    assert_complete(result)
    database = result["database"]
    assert query(database, "select item_id, users from marts.dim_items") == [("i1", 6)]
    assert row_count(database, "marts.dim_users") == 6
    assert row_count(database, "marts.ml_item_similarities") == 0
    assert row_count(database, "marts.ml_user_recommendations") == 0
    logged = warnings(result["output"])
    assert any("item similarities: no two of the 1 items" in line for line in logged)
    assert any("recommendations: 6 of 6 users get none" in line for line in logged)


def test_no_purchases_at_all(tmp_path: Path) -> None:
    events = journeys(six_users(), range(0, 120, 7), purchases=False)
    result = build(tmp_path, events, as_of_date="2024-04-30")

    assert_complete(result)
    database = result["database"]
    assert query(
        database,
        "select rfm_segment, count(*), count(recency_score), bool_or(is_activated),"
        " max(net_revenue) from marts.dim_users group by all",
    ) == [("Non-buyer", 6, 0, False, 0)]
    assert query(database, "select distinct current_stage from marts.dim_users") == [
        ("acquired",)
    ]
    assert (
        scalar(database, "select max(predicted_revenue) from marts.ml_churn_scores")
        == 0
    )
    assert row_count(database, "marts.ml_user_recommendations") > 0
    assert any(
        "recommendation metrics: no user with history before" in line
        for line in warnings(result["output"])
    )


def test_everyone_churned(tmp_path: Path) -> None:
    events = journeys(six_users(), range(0, 120, 4))
    result = build(tmp_path, events, as_of_date="2024-12-31")

    assert_complete(result)
    database = result["database"]
    assert query(
        database,
        "select current_stage, count(*), count(churn_probability)"
        " from marts.dim_users group by all",
    ) == [("churned", 6, 0)]
    assert row_count(database, "marts.ml_churn_scores") == 0
    assert any(
        "churn: no user was active in the 90 days before as_of_date" in line
        for line in warnings(result["output"])
    )


def test_everyone_active_and_fewer_users_than_segments(tmp_path: Path) -> None:
    # Three users, each active every 5 days up to as_of_date, with k = 5
    # segments asked for: k is cut to the 3 distinct users.
    events = journeys(["u1", "u2", "u3"], range(0, 121, 5), 4)
    result = build(tmp_path, events, as_of_date="2024-04-30", segments_k=5)

    assert_complete(result)
    database = result["database"]
    stages = {
        stage
        for (stage,) in query(database, "select current_stage from marts.dim_users")
    }
    assert stages and not stages & {"at_risk", "churned"}
    assert row_count(database, "marts.ml_churn_scores") == 3
    assert row_count(database, "marts.ml_segment_profiles") == 3
    assert (
        scalar(
            database,
            "select note from marts.ml_model_metrics"
            " where model = 'segments' and metric_name = 'k'",
        )
        == "configured k=5 reduced to the 3 distinct feature rows"
    )
    assert any(
        "segments: configured k=5 reduced to the 3 distinct feature rows" in line
        for line in warnings(result["output"])
    )


def test_a_single_day_of_data(tmp_path: Path) -> None:
    lines = journeys(six_users(), [0, 1, 2]).splitlines()
    # Every visit on 2024-03-10: keep the hours, replace the date.
    events = "\n".join(
        [lines[0]]
        + [
            line.replace("2024-01-01T", "2024-03-10T")
            .replace("2024-01-02T", "2024-03-10T")
            .replace("2024-01-03T", "2024-03-10T")
            for line in lines[1:]
        ]
    )
    result = build(tmp_path, events + "\n", as_of_date="2024-03-10")

    assert_complete(result)
    database = result["database"]
    assert query(
        database,
        "select first_event_date, as_of_date from intermediate.int_as_of_date",
    ) == [(date(2024, 3, 10), date(2024, 3, 10))]
    assert query(
        database,
        "select distinct monthly_state, months_since_acquisition"
        " from marts.fct_user_lifecycle",
    ) == [("new", 0)]
    assert row_count(database, "marts.fct_cohort_retention") == 1
    assert query(
        database, "select distinct model_variant from marts.ml_churn_scores"
    ) == [("baseline_recency",)]
    logged = warnings(result["output"])
    assert any(
        "churn model: fallback: no labelled training rows" in line for line in logged
    )
    assert any(
        "recommendation metrics: no user with history" in line for line in logged
    )
