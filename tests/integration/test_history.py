"""as_of_date replays history, and incremental runs equal a full refresh.

Both compare every public table of two real builds by row count and an
order-independent checksum of every row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, run_dbt, table_checksum

pytestmark = pytest.mark.integration

SAMPLE_EVENTS = PROJECT_ROOT / "data/sample/events.csv.gz"

SQL_MARTS = [
    "marts.fct_events",
    "marts.fct_sessions",
    "marts.dim_items",
    "marts.fct_user_rfm",
    "marts.fct_user_activity",
    "marts.fct_user_lifecycle",
    "marts.fct_lifecycle_transitions",
    "marts.fct_cohort_retention",
]
ML_TABLES = [
    "marts.ml_user_segments",
    "marts.ml_segment_profiles",
    "marts.ml_item_similarities",
    "marts.ml_user_recommendations",
    "marts.ml_churn_scores",
    "marts.ml_model_metrics",
    "marts.dim_users",
]


def _split_sample(target: Path, keep_sql: str, name: str) -> Path:
    """Write the sample rows matching keep_sql (over parsed event_at) to a CSV."""
    path = target / name
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(
            f"""
            copy (
                select * exclude (parsed_at)
                from (
                    select
                        *,
                        timezone('UTC', try_cast(event_at as timestamptz))
                            as parsed_at
                    from read_csv('{SAMPLE_EVENTS}', all_varchar = true,
                        header = true)
                )
                where {keep_sql}
            ) to '{path}' (header true)
            """
        )
    return path


def _checksums(database: Path, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Checksums of the tables; fct_events without source_file, which names
    the input file rather than the event."""
    checksums = {}
    for table in tables:
        relation = table
        if table == "marts.fct_events":
            relation = "(select * exclude (source_file) from marts.fct_events)"
        checksums[table] = table_checksum(database, relation)
    return checksums


def test_past_as_of_date_equals_a_build_on_data_cut_there(tmp_path: Path) -> None:
    replay = tmp_path / "replay" / "ulm.duckdb"
    replay.parent.mkdir()
    run_dbt(["build"], replay, {"as_of_date": "2025-03-31"})

    cut_file = _split_sample(
        tmp_path,
        "parsed_at is null or parsed_at < timestamp '2025-04-01'",
        "events_cut.csv",
    )
    cut = tmp_path / "cut" / "ulm.duckdb"
    cut.parent.mkdir()
    run_dbt(["build"], cut, {"raw_events_path": str(cut_file)})

    assert _checksums(replay, SQL_MARTS + ML_TABLES) == _checksums(
        cut, SQL_MARTS + ML_TABLES
    )


def test_incremental_run_after_a_late_batch_equals_a_full_refresh(
    tmp_path: Path,
) -> None:
    batches = tmp_path / "batches"
    batches.mkdir()
    # Batch 1: everything before 2025-05-01 except 1 event in 50, which
    # arrives late in batch 2 together with the newer events.
    late = "hash(event_id || coalesce(user_id, '')) % 50 = 0"
    _split_sample(
        batches,
        f"(parsed_at is null or parsed_at < timestamp '2025-05-01') and not ({late})",
        "batch_2025_04.csv",
    )
    variables = {"raw_events_path": str(batches / "batch_*.csv")}
    incremental = tmp_path / "incremental" / "ulm.duckdb"
    incremental.parent.mkdir()
    run_dbt(["build"], incremental, variables)

    _split_sample(
        batches,
        f"(parsed_at >= timestamp '2025-05-01') or ({late})",
        "batch_2025_06.csv",
    )
    run_dbt(["build"], incremental, variables)

    full = tmp_path / "full" / "ulm.duckdb"
    full.parent.mkdir()
    run_dbt(["build", "--full-refresh"], full, variables)

    tables = ["staging.stg_raw__events", "staging.stg_raw__events_rejected"]
    assert _checksums(incremental, tables + SQL_MARTS + ML_TABLES) == _checksums(
        full, tables + SQL_MARTS + ML_TABLES
    )
    with duckdb.connect() as connection:
        raw_rows = connection.execute(
            f"select count(*) from read_csv('{SAMPLE_EVENTS}', all_varchar = true)"
        ).fetchone()[0]
    accepted, rejected = (
        table_checksum(full, "staging.stg_raw__events")[0],
        table_checksum(full, "staging.stg_raw__events_rejected")[0],
    )
    assert accepted + rejected == raw_rows
