"""Bad input, kind by kind, through the real `dbt build`.

Every raw row must end up either accepted with the right value or quarantined
with the right reject_reason, and accepted + rejected must equal the rows in
the file. Where nothing sensible can be built, the build must stop with one
clear message instead of a traceback.

The fixtures are tiny hand-written CSV files under tests/fixtures/bad_input;
kinds that do not interfere share one file (and one build), each row tagged
with an event_id that says what it tries. Large inputs are generated here.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, query, run_dbt, scalar, table_checksum

pytestmark = pytest.mark.integration

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "bad_input"
WITHOUT_ATTRIBUTE_FILES = {"raw_users_path": None, "raw_items_path": None}
TYPE_CHANGE_NUMERIC_ROWS = 20_000


def build(
    args: list[str], database: Path, variables: dict, check: bool = True
) -> tuple[str, list[dict]]:
    """Run dbt into `database`; return its console output and per-node results.

    The published copy goes next to the database, never to the project's.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ULM_PUBLISHED_PATH", str(database.parent / "published.duckdb"))
        result = run_dbt(args, database, variables, check=check)
    run_results = database.parent / "target" / "run_results.json"
    nodes = (
        json.loads(run_results.read_text())["results"] if run_results.exists() else []
    )
    return result.stdout + result.stderr, nodes


def csv_records(path: Path) -> int:
    """Data rows of a CSV file, counted by Python's own reader."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def write_type_change_file(path: Path) -> float:
    """20,000 purchases with plain numeric revenue, then "abc" and "12,5".

    Returns the revenue of the numeric rows, to catch any value misread.
    """
    lines = ["event_id,user_id,event_at,event_type,item_id,quantity,revenue"]
    total_cents = 0
    for row in range(TYPE_CHANGE_NUMERIC_ROWS):
        cents = 500 + (row * 37) % 5000
        total_cents += cents
        month, day, hour = 6 + (row // 28) % 6, 1 + row % 28, 10 + row % 8
        lines.append(
            f"tc-{row:05d},tc-u{row % 40},2024-{month:02d}-{day:02d}T{hour}:00:00Z,"
            f"purchase,tc-i{row % 25},1,{cents // 100}.{cents % 100:02d}"
        )
    lines.append("tc-text,tc-u1,2024-12-01T10:00:00Z,purchase,tc-i1,1,abc")
    lines.append('tc-decimal-comma,tc-u1,2024-12-01T11:00:00Z,purchase,tc-i1,1,"12,5"')
    path.write_text("\n".join(lines) + "\n")
    return total_cents / 100


# --- one build: ids, timestamps, money, null markers, duplicates, encoding ---


def accepted(**values) -> dict:
    return {"reject_reason": None, **values}


def rejected(reason: str) -> dict:
    return {"reject_reason": reason}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


NOON = at("2024-03-10 12:00:00")

# One entry per data row of kinds.csv, in file order: its event_id as written
# and what must become of it. Accepted rows name the values to check.
KINDS_EXPECTED = [
    ("id-007", accepted(user_id="007", item_id="i1")),
    ("id-7", accepted(user_id="7", item_id="i1")),
    ("id-1e3", accepted(user_id="1e3")),
    ("id-007-padded", accepted(user_id="007", item_id="0042")),
    ("id-item-42", accepted(user_id="7", item_id="42")),
    ("ts-z", accepted(event_at=NOON)),
    ("ts-offset-colon", accepted(event_at=NOON)),
    ("ts-offset-no-colon", accepted(event_at=NOON)),
    ("ts-offset-hours", accepted(event_at=NOON)),
    ("ts-utc-suffix", accepted(event_at=NOON)),
    ("ts-zone-name", accepted(event_at=NOON)),
    ("ts-naive-space", accepted(event_at=NOON)),
    ("ts-naive-t", accepted(event_at=NOON)),
    ("ts-date-only", accepted(event_at=at("2024-03-10 00:00:00"))),
    ("ts-fraction-z", accepted(event_at=at("2024-03-10 12:00:00.250"))),
    ("ts-fraction-offset", accepted(event_at=at("2024-03-10 12:00:00.123456"))),
    ("ts-space-offset", accepted(event_at=NOON)),
    ("ts-lowercase", accepted(event_at=NOON)),
    ("ts-epoch-s", accepted(event_at=NOON)),
    ("ts-epoch-ms", accepted(event_at=at("2024-03-10 12:00:00.250"))),
    ("ts-epoch-us", accepted(event_at=at("2024-03-10 12:00:00.250"))),
    ("ts-epoch-fraction", accepted(event_at=at("2024-03-10 12:00:00.500"))),
    ("ts-epoch-11-digits", rejected("unparseable_event_at")),
    ("ts-day-first", rejected("unparseable_event_at")),
    ("ts-dst-first", accepted(event_at=at("2024-11-03 05:30:00"))),
    ("ts-dst-second", accepted(event_at=at("2024-11-03 06:30:00"))),
    ("ts-missing", rejected("missing_event_at")),
    ("ts-null-marker", rejected("missing_event_at")),
    ("ts-after-as-of", rejected("after_as_of_date")),
    ("ts-last-second", accepted(event_at=at("2024-12-31 23:59:59"))),
    ("ts-offset-into-day", accepted(event_at=at("2024-12-31 23:30:00"))),
    ("money-point", accepted(revenue=19.9, net_revenue=19.9)),
    ("money-comma", accepted(revenue=19.9, net_revenue=19.9)),
    ("money-thousands-us", accepted(revenue=1234.5)),
    ("money-thousands-eu", accepted(revenue=1234.5)),
    ("money-thousands-only", accepted(revenue=1234567.0)),
    ("money-ambiguous", rejected("invalid_revenue")),
    ("money-text", rejected("invalid_revenue")),
    ("money-currency", rejected("invalid_revenue")),
    ("money-exponent", accepted(revenue=1000.0)),
    ("money-null-marker", accepted(event_type="view", revenue=None, net_revenue=0.0)),
    ("money-negative-purchase", rejected("negative_amount")),
    ("money-negative-comma", rejected("negative_amount")),
    ("money-refund", accepted(event_type="refund", revenue=5.0, net_revenue=-5.0)),
    ("money-refund-negative", rejected("negative_amount")),
    ("money-negative-quantity", rejected("negative_amount")),
    ("qty-whole-decimal", accepted(quantity=2, revenue=10.0)),
    ("qty-fraction", rejected("invalid_quantity")),
    ("qty-null-marker", accepted(quantity=1, revenue=10.0)),
    ("xf-unquoted-comma", rejected("extra_fields")),
    ("uid-empty", rejected("missing_user_id")),
    ("uid-blank", rejected("missing_user_id")),
    ("uid-null", rejected("missing_user_id")),
    ("uid-none", rejected("missing_user_id")),
    ("uid-nan", rejected("missing_user_id")),
    ("dup-exact", accepted(event_id="dup-exact")),
    ("dup-exact", rejected("exact_duplicate")),
    ("dup-id", rejected("duplicate_event_id")),
    ("dup-id", accepted(event_at=at("2024-03-15 10:30:00"), item_id="i3")),
    (None, accepted(is_derived_id=True)),
    ("NULL", accepted(is_derived_id=True, item_id="i1")),
    ("NULL", accepted(is_derived_id=True, item_id="i2")),
    ("type-upper", accepted(event_type="purchase", revenue=3.0)),
    ("type-unknown", rejected("unknown_event_type")),
    ("item-missing", rejected("missing_item_id")),
    ("short-row", rejected("unknown_event_type")),
    ("ts-placeholder", rejected("before_earliest_event_date")),
    # Without an event_id, rows that read the same get the same derived id,
    # so the second, written differently, is an exact copy.
    (None, accepted(is_derived_id=True, user_id="u-copy")),
    ("NULL", rejected("exact_duplicate")),
]


@pytest.fixture(scope="module")
def kinds_build(tmp_path_factory) -> dict:
    """One build over kinds.csv and a generated 20,002-row type-change file."""
    folder = tmp_path_factory.mktemp("kinds")
    inputs = folder / "inputs"
    inputs.mkdir()
    shutil.copy(FIXTURES / "kinds.csv", inputs / "kinds.csv")
    numeric_revenue = write_type_change_file(inputs / "type_change.csv")
    database = folder / "ulm.duckdb"
    variables = {
        "raw_events_path": str(inputs / "*.csv"),
        **WITHOUT_ATTRIBUTE_FILES,
        "as_of_date": "2024-12-31",
    }
    build(["build"], database, variables)
    return {
        "database": database,
        "inputs": inputs,
        "numeric_revenue": numeric_revenue,
    }


def kinds_rows(database: Path) -> list[dict]:
    columns = [
        "raw_event_id",
        "reject_reason",
        "event_id",
        "is_derived_id",
        "user_id",
        "item_id",
        "event_type",
        "quantity",
        "revenue",
        "event_at",
        "net_revenue",
        "in_fct_events",
    ]
    rows = query(
        database,
        """
        select
            mapped.raw_event_id,
            validated.reject_reason,
            validated.event_id,
            starts_with(validated.event_id, 'derived-'),
            validated.user_id,
            validated.item_id,
            validated.event_type,
            validated.quantity,
            cast(validated.revenue as double),
            validated.event_at,
            cast(events.net_revenue as double),
            events.event_id is not null
        from staging.stg_raw__events_validated as validated
        inner join staging.stg_raw__events_mapped as mapped
            on validated.source_file = mapped.source_file
            and validated.raw_row_number = mapped.raw_row_number
        left join marts.fct_events as events
            on validated.event_id = events.event_id
            and validated.reject_reason is null
        where validated.source_file like '%kinds.csv'
        order by validated.raw_row_number
        """,
    )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_kinds_fixture_keeps_its_byte_order_mark_and_crlf() -> None:
    content = (FIXTURES / "kinds.csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbfevent_id,")
    assert content.count(b"\r\n") == csv_records(FIXTURES / "kinds.csv") + 1
    assert b"\n" not in content.replace(b"\r\n", b"")


def test_every_kind_is_accepted_as_expected_or_rejected_with_its_reason(
    kinds_build: dict,
) -> None:
    rows = kinds_rows(kinds_build["database"])

    assert len(rows) == len(KINDS_EXPECTED) == csv_records(FIXTURES / "kinds.csv")
    for row, (raw_event_id, expected) in zip(rows, KINDS_EXPECTED, strict=True):
        assert row["raw_event_id"] == raw_event_id
        actual = {key: row[key] for key in expected}
        assert actual == expected, raw_event_id
        assert row["in_fct_events"] == (expected["reject_reason"] is None)


def test_ids_stay_text(kinds_build: dict) -> None:
    users = {
        user_id
        for (user_id,) in query(
            kinds_build["database"],
            "select user_id from marts.dim_users where user_id in ('007', '7', '1e3',"
            " '1000', '0007')",
        )
    }
    assert users == {"007", "7", "1e3"}
    items = {
        item_id
        for (item_id,) in query(
            kinds_build["database"],
            "select item_id from marts.dim_items where item_id in ('0042', '42')",
        )
    }
    assert items == {"0042", "42"}


def test_a_type_change_after_20000_rows_is_caught_row_by_row(kinds_build: dict) -> None:
    database = kinds_build["database"]
    by_reason = dict(
        query(
            database,
            "select coalesce(reject_reason, 'accepted'), count(*)"
            " from staging.stg_raw__events_validated"
            " where source_file like '%type_change.csv' group by 1",
        )
    )
    assert by_reason == {
        "accepted": TYPE_CHANGE_NUMERIC_ROWS + 1,
        "invalid_revenue": 1,
    }
    assert (
        scalar(
            database,
            "select raw_event_id from staging.stg_raw__events_rejected"
            " where source_file like '%type_change.csv'",
        )
        == "tc-text"
    )
    assert scalar(
        database,
        "select cast(revenue as double) from staging.stg_raw__events"
        " where event_id = 'tc-decimal-comma'",
    ) == pytest.approx(12.5)
    assert scalar(
        database,
        "select cast(sum(revenue) as double) from staging.stg_raw__events"
        " where event_id like 'tc-0%' or event_id like 'tc-1%'",
    ) == pytest.approx(kinds_build["numeric_revenue"])


def test_nothing_is_lost_in_either_file(kinds_build: dict) -> None:
    database = kinds_build["database"]
    for name in ("kinds.csv", "type_change.csv"):
        accepted_rows, rejected_rows = (
            scalar(
                database,
                f"select count(*) from staging.{table}"
                f" where source_file like '%{name}'",
            )
            for table in ("stg_raw__events", "stg_raw__events_rejected")
        )
        assert accepted_rows + rejected_rows == csv_records(
            kinds_build["inputs"] / name
        )


def test_extra_columns_are_ignored_and_the_spilled_values_kept(
    kinds_build: dict,
) -> None:
    database = kinds_build["database"]
    assert scalar(
        database,
        "select raw_extra_fields from staging.stg_raw__events_rejected"
        " where raw_event_id = 'xf-unquoted-comma'",
    ) == ("unquoted decimal comma")
    columns = {
        name
        for (name,) in query(
            database,
            "select column_name from information_schema.columns"
            " where table_name = 'stg_raw__events'",
        )
    }
    assert not columns & {"device", "note"}


# --- two batches in one glob: duplicates across them, late events ---------------

BATCH_VARIABLES = {
    **WITHOUT_ATTRIBUTE_FILES,
    "as_of_date": "2024-11-30",
    "raw_timezone": "America/New_York",
}
COMPARED_TABLES = [
    "staging.stg_raw__events",
    "staging.stg_raw__events_rejected",
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
def batch_builds(tmp_path_factory) -> dict[str, Path]:
    """Batch 1 loaded, then batch 2 added and built incrementally; and a full
    refresh over both batches in a separate database."""
    folder = tmp_path_factory.mktemp("batches")
    batches = folder / "batches"
    batches.mkdir()
    variables = {"raw_events_path": str(batches / "batch_*.csv"), **BATCH_VARIABLES}

    incremental = folder / "incremental" / "ulm.duckdb"
    shutil.copy(FIXTURES / "batch_2024_10.csv", batches)
    build(
        ["build", "--select", "+fct_events", "--indirect-selection", "cautious"],
        incremental,
        variables,
    )
    shutil.copy(FIXTURES / "batch_2024_11.csv", batches)
    build(["build"], incremental, variables)

    full = folder / "full" / "ulm.duckdb"
    build(["build", "--full-refresh"], full, variables)
    return {"incremental": incremental, "full": full}


def batch_outcomes(database: Path) -> dict[tuple[str, str], list]:
    rows = query(
        database,
        """
        select
            regexp_extract(source_file, 'batch_[0-9_]+'),
            event_id,
            list(coalesce(reject_reason, 'accepted') order by raw_row_number)
        from staging.stg_raw__events_validated
        group by all
        """,
    )
    return {(batch, event_id): outcome for batch, event_id, outcome in rows}


def test_duplicates_inside_a_file_and_across_batches(batch_builds) -> None:
    outcomes = batch_outcomes(batch_builds["incremental"])

    assert outcomes[("batch_2024_10", "dup-in-file")] == [
        "accepted",
        "exact_duplicate",
    ]
    # The first copy by file name is kept; the later file's copy is rejected.
    assert outcomes[("batch_2024_10", "dup-cross-exact")] == ["accepted"]
    assert outcomes[("batch_2024_11", "dup-cross-exact")] == ["exact_duplicate"]
    # Of one event_id the earliest event_at wins, even when it arrives later:
    # the row loaded in batch 1 is re-judged when batch 2 brings an earlier one.
    assert outcomes[("batch_2024_10", "dup-cross-earlier")] == ["duplicate_event_id"]
    assert outcomes[("batch_2024_11", "dup-cross-earlier")] == ["accepted"]
    assert outcomes[("batch_2024_10", "dup-cross-later")] == ["accepted"]
    assert outcomes[("batch_2024_11", "dup-cross-later")] == ["duplicate_event_id"]
    # u7's only event is taken by u8's earlier copy in batch 2: u7 leaves the
    # event log and the users instead of keeping a stale row.
    assert outcomes[("batch_2024_10", "dup-cross-taken")] == ["duplicate_event_id"]
    assert query(
        batch_builds["incremental"],
        "select user_id, cast(revenue as double) from marts.fct_events"
        " where event_id = 'dup-cross-taken' or user_id = 'u7'",
    ) == [("u8", 9.0)]
    assert (
        scalar(
            batch_builds["incremental"],
            "select count(*) from marts.dim_users where user_id = 'u7'",
        )
        == 0
    )
    assert scalar(
        batch_builds["incremental"],
        "select event_at from marts.fct_events where event_id = 'dup-cross-earlier'",
    ) == at("2024-10-06 11:00:00")
    # The row displaced in the second run reaches the quarantine with the raw
    # text of its file, which was loaded in the first run.
    assert query(
        batch_builds["incremental"],
        "select reject_reason, raw_event_id, raw_user_id from"
        " staging.stg_raw__events_rejected"
        " where source_file like '%batch_2024_10%'"
        " and raw_event_id = 'dup-cross-earlier'",
    ) == [("duplicate_event_id", "dup-cross-earlier", "u3")]


def test_late_events_join_their_sessions_and_users(batch_builds) -> None:
    database = batch_builds["incremental"]
    sessions = query(
        database,
        "select event_id, session_id from marts.fct_events where user_id = 'u1'"
        " and event_date = '2024-10-01' order by event_at",
    )
    # 10:00, 10:05 (batch 1) and the late 10:20 (batch 2), New York time.
    assert sessions == [
        ("b1-view", "u1@20241001T140000"),
        ("b1-buy", "u1@20241001T140000"),
        ("late-same-session", "u1@20241001T140000"),
    ]
    assert (
        scalar(database, "select count(*) from marts.dim_users where user_id = 'u6'")
        == 1
    )
    assert (
        str(
            scalar(database, "select first_event_date from intermediate.int_as_of_date")
        )
        == "2024-09-15"
    )
    assert scalar(
        database,
        "select cast(monetary as double) from marts.fct_user_rfm where user_id = 'u2'",
    ) == pytest.approx(35.0 + 15.0 - 35.0)


def test_fall_back_hour_with_offsets_and_in_raw_timezone(batch_builds) -> None:
    event_at = dict(
        query(
            batch_builds["incremental"],
            "select event_id, event_at from staging.stg_raw__events"
            " where event_id like 'dst-%'",
        )
    )
    assert event_at == {
        "dst-first": at("2024-11-03 05:30:00"),
        "dst-second": at("2024-11-03 06:30:00"),
        # Without an offset the ambiguous 01:30 is the second one (standard time).
        "dst-naive": at("2024-11-03 06:30:00"),
    }


def test_incremental_run_equals_a_full_refresh(batch_builds) -> None:
    incremental = {
        t: table_checksum(batch_builds["incremental"], t) for t in COMPARED_TABLES
    }
    full = {t: table_checksum(batch_builds["full"], t) for t in COMPARED_TABLES}
    assert incremental == full

    raw_rows = sum(
        csv_records(FIXTURES / name)
        for name in ("batch_2024_10.csv", "batch_2024_11.csv")
    )
    accepted_rows = incremental["staging.stg_raw__events"][0]
    rejected_rows = incremental["staging.stg_raw__events_rejected"][0]
    assert accepted_rows + rejected_rows == raw_rows


# --- inputs that cannot be built: one clear message, no traceback ---------------


def assert_stopped_at(nodes: list[dict], unique_id: str) -> None:
    errors = [node["unique_id"] for node in nodes if node["status"] == "error"]
    assert errors == [unique_id]
    later = {node["unique_id"]: node["status"] for node in nodes}
    assert later.get("model.ulm.fct_events") in (None, "skipped")


def test_a_missing_required_column_stops_the_build_at_once(tmp_path: Path) -> None:
    path = FIXTURES / "missing_user_id_column.csv"
    variables = {"raw_events_path": str(path), **WITHOUT_ATTRIBUTE_FILES}

    output, nodes = build(["build"], tmp_path / "ulm.duckdb", variables, check=False)

    assert (
        f"The events input '{path}' (var raw_events_path) has no column 'user_id',"
        " which is required. Columns found: event_id, customer_id, event_at,"
        " event_type, item_id. Rename the column in the file, or map it with var"
        " raw_events_columns, for example --vars '{raw_events_columns: {user_id:"
    ) in output
    assert "Traceback" not in output
    assert_stopped_at(nodes, "model.ulm.stg_raw__events_mapped")


def test_an_unquoted_decimal_comma_after_the_reader_sample_stops_the_build(
    tmp_path: Path,
) -> None:
    path = tmp_path / "late_comma.csv"
    write_type_change_file(path)
    lines = path.read_text().splitlines()
    lines[-1] = "tc-decimal-comma,tc-u1,2024-12-01T11:00:00Z,purchase,tc-i1,1,12,5"
    path.write_text("\n".join(lines) + "\n")
    variables = {"raw_events_path": str(path), **WITHOUT_ATTRIBUTE_FILES}

    output, nodes = build(["build"], tmp_path / "ulm.duckdb", variables, check=False)

    line = TYPE_CHANGE_NUMERIC_ROWS + 3  # header, 20,000 rows, "abc", then this
    assert (
        f"The file '{path}' (var raw_events_path) cannot be read: line {line} has"
        " more fields than the header has names (Expected Number of Columns: 7"
        " Found: 8; the header: event_id, user_id, event_at, event_type, item_id,"
        " quantity, revenue)."
    ) in output
    assert 'Quote such values ("12,5")' in output
    assert "The line: tc-decimal-comma,tc-u1,2024-12-01T11:00:00Z" in output
    assert "Traceback" not in output
    assert_stopped_at(nodes, "model.ulm.stg_raw__events_mapped")
