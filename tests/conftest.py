"""Shared helpers for tests that run the real dbt build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
DBT = Path(sys.executable).with_name("dbt")


def dataset_path(name: str) -> Path:
    """Path of a public dataset folder; skips the test when it is absent."""
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(f"dataset folder {path} is absent; the test needs it")
    return path


def run_dbt(
    args: list[str],
    database: Path,
    variables: dict | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the dbt CLI of this environment on the project, into `database`."""
    command = [str(DBT), *args]
    if variables:
        command += ["--vars", json.dumps(variables)]
    env = {
        **os.environ,
        "ULM_DUCKDB_PATH": str(database),
        "ULM_TEMP_DIRECTORY": str(database.parent / "tmp"),
        "DBT_TARGET_PATH": str(database.parent / "target"),
        "DBT_LOG_PATH": str(database.parent / "logs"),
    }
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return result


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def scalar(database: Path, sql: str):
    return query(database, sql)[0][0]


def table_checksum(database: Path, table: str) -> tuple[int, str]:
    """(rows, checksum) of a table, independent of row order."""
    return tuple(
        query(
            database,
            "select count(*), coalesce(md5(string_agg(row_hash, '' order by row_hash)),"
            f" '') from (select md5(cast(t as varchar)) as row_hash from {table} as t)",
        )[0]
    )
