"""Configuration mistakes stop the build at once with a message that says what
to change: bad var values, and an existing warehouse pointed at other files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, query, run_dbt, scalar

pytestmark = pytest.mark.integration

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "bad_input"


def output_of(result) -> str:
    return result.stdout + result.stderr


def build_events_alone(
    events: Path, database: Path, extra_vars: dict | None = None, check=False
):
    """`dbt build` on one events file, without users or items files."""
    variables = {
        "raw_events_path": str(events),
        "raw_users_path": None,
        "raw_items_path": None,
        **(extra_vars or {}),
    }
    return run_dbt(["build"], database, variables, check=check)


def test_bad_vars_stop_the_build_before_any_model_naming_each_var(
    tmp_path: Path,
) -> None:
    database = tmp_path / "ulm.duckdb"
    result = run_dbt(
        ["build"],
        database,
        {
            "segments_k": 0,
            "recommendations_n": -1,
            "similar_items_k": "banana",
            "churn_horizon_days": 0,
            "session_gap_minutes": -5,
            "as_of_date": "2024-13-45",
            "raw_timezone": "Mars/Olympus",
            "cf_count_scale": "cubic",
            "interaction_weights": {"view": "often"},
        },
        check=False,
    )
    output = output_of(result)

    assert result.returncode != 0
    for expected in [
        "var segments_k must be 'auto' or a whole number of segments of at "
        "least 1, got 0",
        "var recommendations_n must be a whole number of at least 1, got -1",
        'var similar_items_k must be a whole number of at least 1, got "banana"',
        "var churn_horizon_days must be a whole number of at least 1, got 0",
        "var session_gap_minutes must be a whole number of at least 1, got -5",
        "var as_of_date must be a date written YYYY-MM-DD (such as 2024-06-30) "
        'or none, got "2024-13-45"',
        "var raw_timezone must be an IANA time zone name such as UTC or "
        'Europe/London, got "Mars/Olympus"',
        'var cf_count_scale must be log, linear or binary, got "cubic"',
        'var interaction_weights.view must be a number, got "often"',
    ]:
        assert expected in output
    assert "Traceback" not in output
    # Nothing ran: the warehouse was not even created.
    assert not database.exists()


def test_good_vars_in_every_form_pass_the_check(tmp_path: Path) -> None:
    result = run_dbt(
        ["run-operation", "check_vars"],
        tmp_path / "ulm.duckdb",
        {
            "segments_k": "AUTO",
            "recommendations_n": "5",
            "as_of_date": "2024-02-29",
            "cf_half_life_days": 14.5,
            "cf_recent_items_half_life": "none",
            "raw_timezone": "America/New_York",
            "future_tolerance_hours": 0,
        },
        check=False,
    )
    assert result.returncode == 0, output_of(result)[-3000:]


def test_a_warehouse_pointed_at_other_files_stops_until_a_full_refresh(
    tmp_path: Path,
) -> None:
    batches = tmp_path / "events"
    batches.mkdir()
    first = batches / "batch_2024_10.csv"
    second = batches / "batch_2024_11.csv"
    shutil.copy(FIXTURES / "batch_2024_10.csv", first)
    shutil.copy(FIXTURES / "batch_2024_11.csv", second)
    database = tmp_path / "warehouse" / "ulm.duckdb"
    database.parent.mkdir()
    base_vars = {"raw_users_path": None, "raw_items_path": None}

    run_dbt(["build"], database, {**base_vars, "raw_events_path": str(first)})
    moved = run_dbt(
        ["build"],
        database,
        {**base_vars, "raw_events_path": str(second)},
        check=False,
    )
    output = output_of(moved)

    assert moved.returncode != 0
    assert (
        f"The warehouse holds events of 1 file(s) that var raw_events_path "
        f"('{second}') no longer matches, such as '{first}'" in output
    )
    assert "dbt build --full-refresh" in output
    # The stop comes before staging changes: the first file's rows are intact.
    assert (
        scalar(
            database,
            "select count(distinct source_file) from staging.stg_raw__events_validated",
        )
        == 1
    )

    run_dbt(
        ["build", "--full-refresh"],
        database,
        {**base_vars, "raw_events_path": str(second)},
    )
    files = query(
        database,
        "select distinct source_file from staging.stg_raw__events_validated",
    )
    assert files == [(str(second),)]
    raw_rows = len(second.read_text().splitlines()) - 1
    assert (
        scalar(database, "select count(*) from staging.stg_raw__events_validated")
        == raw_rows
    )


def test_rows_appended_to_a_loaded_file_stop_the_build_until_a_full_refresh(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.csv"
    header_and_first = (
        "event_id,user_id,event_at,event_type,item_id\n"
        "a1,u1,2024-01-01T10:00:00Z,view,i1\n"
    )
    events.write_text(header_and_first)
    database = tmp_path / "warehouse" / "ulm.duckdb"
    database.parent.mkdir()
    first = build_events_alone(events, database, {})
    assert first.returncode == 0, output_of(first)[-3000:]

    events.write_text(header_and_first + "a2,u1,2024-01-02T10:00:00Z,view,i2\n")
    appended = build_events_alone(events, database, {})
    output = output_of(appended)

    assert appended.returncode != 0
    size_before = len(header_and_first)
    size_after = events.stat().st_size
    assert (
        f"The file '{events}' (var raw_events_path) has changed since it was "
        f"loaded: it was {size_before} bytes, now {size_after}." in output
    )
    assert "dbt build --full-refresh" in output
    assert "Traceback" not in output
    assert scalar(database, "select count(*) from marts.fct_events") == 1

    rebuilt = run_dbt(
        ["build", "--full-refresh"],
        database,
        {
            "raw_events_path": str(events),
            "raw_users_path": None,
            "raw_items_path": None,
        },
        check=False,
    )
    assert rebuilt.returncode == 0, output_of(rebuilt)[-3000:]
    assert scalar(database, "select count(*) from marts.fct_events") == 2
    # Built again with nothing changed, the incremental run goes through.
    again = build_events_alone(events, database, {})
    assert again.returncode == 0, output_of(again)[-3000:]


def test_a_mapping_to_a_column_the_file_lacks_names_the_var(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,customer,event_at,event_type,item_id\n"
        "e1,u1,2024-01-01T00:00:00Z,view,i1\n"
    )
    result = build_events_alone(
        events, tmp_path / "ulm.duckdb", {"raw_events_columns": {"user_id": "client"}}
    )

    assert result.returncode != 0
    assert (
        "var raw_events_columns maps user_id to the column 'client', but the "
        f"events input '{events}' (var raw_events_path) has no such column. "
        "Columns found: event_id, customer, event_at, event_type, item_id."
        in output_of(result)
    )


def test_a_value_that_spans_lines_stops_with_the_line(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,user_id,event_at,event_type,item_id,note\n"
        'e1,u1,2024-01-01T00:00:00Z,view,i1,"two ""quoted"" words"\n'
        'e2,u1,2024-01-01T00:01:00Z,view,i2,"a note\n'
        'on two lines"\n'
    )
    result = build_events_alone(events, tmp_path / "ulm.duckdb")

    assert result.returncode != 0
    assert (
        f"The file '{events}' (var raw_events_path) cannot be read: line 3 opens a "
        "quoted value that runs onto the next line" in output_of(result)
    )


def test_a_file_that_is_not_utf8_stops_naming_the_line(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(
        b"event_id,user_id,event_at,event_type,item_id\n"
        b"e1,u1,2024-01-01T00:00:00Z,view,i1\n"
        b"e2,Jos\xe9,2024-01-01T00:01:00Z,view,i2\n"
    )
    result = build_events_alone(events, tmp_path / "ulm.duckdb")

    assert result.returncode != 0
    assert (
        f"The file '{events}' (var raw_events_path) is not UTF-8: line 3 holds "
        "bytes that are not UTF-8 text" in output_of(result)
    )
    assert "Write the file as UTF-8" in output_of(result)


def test_utf8_text_beyond_latin1_is_read_as_it_is(tmp_path: Path) -> None:
    # the second bytes of \u00dc and \u00df, and bytes of the CJK and emoji
    # ids, lie in 0x80-0x9f, which a Latin-1 read of the file refuses
    users = ["\u00dcrsula", "Stra\u00dfe", "\u7528\u6237", "\U0001f600", "Jos\u00e9"]
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,user_id,event_at,event_type,item_id\n"
        + "".join(
            f"e{n},{user},2024-01-0{n + 1}T10:00:00Z,view,\u00eftem{n % 2}\n"
            for n, user in enumerate(users)
        ),
        encoding="utf-8",
    )
    database = tmp_path / "ulm.duckdb"
    result = build_events_alone(events, database)

    assert result.returncode == 0, output_of(result)
    assert sorted(
        row[0] for row in query(database, "select user_id from marts.dim_users")
    ) == sorted(users)
    assert sorted(
        row[0] for row in query(database, "select item_id from marts.dim_items")
    ) == ["\u00eftem0", "\u00eftem1"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("events.csv", "", "is empty: not even a header line"),
        (
            "events.json",
            '{"user_id": "u1"}\n',
            "is not a format ulm reads: write it as CSV (.csv or .csv.gz) or "
            "Parquet (.parquet)",
        ),
    ],
)
def test_an_empty_or_foreign_file_stops_naming_it(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    events = tmp_path / name
    events.write_text(content)
    result = build_events_alone(events, tmp_path / "ulm.duckdb")

    assert result.returncode != 0
    assert f"The file '{events}' (var raw_events_path) {message}" in output_of(result)


HEADER = "event_id,user_id,event_at,event_type,item_id,quantity,revenue\n"


def test_a_file_edited_in_place_stops_the_build_instead_of_quarantining_other_text(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events"
    events.mkdir()
    original = (
        "e1,u1,2024-01-15T10:00:00Z,view,i1,1,\n"
        "e2,u2,2024-01-16T10:00:00Z,purchase,i2,1,5.00\n"
        "e3,u1,2024-01-17T10:00:00Z,purchase,i2,1,7.00\n"
    )
    (events / "b.csv").write_text(HEADER + original)
    database = tmp_path / "ulm.duckdb"
    assert build_events_alone(events / "*.csv", database).returncode == 0

    # Rows 2 and 3 of b.csv swap places, so the file keeps its size (a file
    # that changed size stops the build earlier, before any row is read); a
    # new file a.csv repeats e3, so the stored e3 (row 3 of b.csv) becomes a
    # copy and its raw text is read back, from a row that now holds e2.
    lines = original.splitlines(keepends=True)
    (events / "b.csv").write_text(HEADER + lines[0] + lines[2] + lines[1])
    assert (events / "b.csv").stat().st_size == len(HEADER + original)
    (events / "a.csv").write_text(
        HEADER + "e3,u1,2024-01-17T10:00:00Z,purchase,i2,1,7.00\n"
    )
    result = build_events_alone(events / "*.csv", database)
    output = output_of(result)

    assert result.returncode != 0
    assert "Row 3 of " in output and "b.csv was loaded as event e3" in output
    assert "but now reads as e2: the file changed after it was loaded" in output
    assert "dbt build --full-refresh" in output
    # A full refresh judges the files as they are now: nothing is lost.
    rebuilt = run_dbt(
        ["build", "--full-refresh"],
        database,
        {
            "raw_events_path": str(events / "*.csv"),
            "raw_users_path": None,
            "raw_items_path": None,
        },
        check=False,
    )
    assert rebuilt.returncode == 0
    assert query(
        database,
        "select regexp_extract(source_file, '[ab][.]csv'), raw_event_id"
        " from staging.stg_raw__events_rejected",
    ) == [("b.csv", "e3")]
    assert scalar(database, "select count(*) from staging.stg_raw__events") == 3


def test_vars_that_judge_rows_cannot_change_under_an_incremental_build(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        HEADER
        + "e1,u1,2024-01-15T10:00:00Z,view,i1,1,\n"
        + "e2,u2,2024-02-16T10:00:00Z,purchase,i2,1,5.00\n"
    )
    database = tmp_path / "ulm.duckdb"
    first = build_events_alone(events, database, {"as_of_date": "2024-01-31"})
    assert first.returncode == 0
    assert query(
        database, "select reject_reason from staging.stg_raw__events_rejected"
    ) == [("after_as_of_date",)]

    moved = build_events_alone(
        events, database, {"as_of_date": "2024-02-29", "raw_timezone": "Europe/Paris"}
    )
    output = output_of(moved)
    assert moved.returncode != 0
    assert (
        "The stored events were judged with other vars than this build's:"
        ' as_of_date was "2024-01-31", now "2024-02-29"; raw_timezone was "UTC",'
        ' now "Europe/Paris".'
    ) in output
    assert "dbt build --full-refresh" in output
    # Nothing was rebuilt: the stored verdict stands until a full refresh.
    assert query(
        database, "select reject_reason from staging.stg_raw__events_rejected"
    ) == [("after_as_of_date",)]


def test_a_glob_of_parquet_and_csv_files_stops_naming_one_of_each(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "e1,u1,2024-01-15T10:00:00Z,view,i1,1,\n")
    shutil.copy(PROJECT_ROOT / "data" / "sample" / "items.csv", folder / "b.csv")
    duckdb.sql(
        f"copy (select * from read_csv('{folder / 'a.csv'}'))"
        f" to '{folder / 'c.PARQUET'}' (format parquet)"
    )
    result = build_events_alone(folder / "*", tmp_path / "ulm.duckdb")
    output = output_of(result)

    assert result.returncode != 0
    assert (
        f"matches Parquet files such as '{folder / 'c.PARQUET'}' and other files"
        f" such as '{folder / 'a.csv'}'; one input is read as one format."
    ) in output


def test_paths_with_an_apostrophe_and_upper_case_parquet_are_read(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "o'brien"
    folder.mkdir()
    (folder / "events.csv").write_text(
        HEADER
        + "e1,u1,2024-01-15T10:00:00Z,view,i1,1,\n"
        + "e2,u2,2024-01-16T10:00:00Z,purchase,i1,1,5.00\n"
    )
    parquet = tmp_path / "EVENTS.PARQUET"
    duckdb.sql(
        "copy (select * from read_csv('"
        + str(folder / "events.csv").replace("'", "''")
        + f"', all_varchar = true)) to '{parquet}' (format parquet)"
    )
    for events, name in ((folder / "events.csv", "csv"), (parquet, "parquet")):
        database = tmp_path / name / "ulm.duckdb"
        result = build_events_alone(events, database)
        assert result.returncode == 0, output_of(result)[-2000:]
        assert scalar(database, "select count(*) from staging.stg_raw__events") == 2
