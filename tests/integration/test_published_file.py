"""The published file under real builds: readers are never blocked and never
see part of a build, a killed build leaves it as it was, and two builds of
the same input publish identical tables.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DBT, PROJECT_ROOT, run_dbt
from ulm import publish

pytestmark = pytest.mark.integration

log = logging.getLogger(__name__)

# Tables the reader checks on every read; the manifest is the build marker.
READ_TABLES = [
    "marts.fct_events",
    "marts.dim_users",
    "marts.fct_user_lifecycle",
    "marts.ml_churn_scores",
    "marts.ml_model_metrics",
    "staging.stg_raw__events_rejected",
]
EARLIER_AS_OF_DATE = "2025-04-30"
READER_MAX_SECONDS = 300.0
BUILD_TIMEOUT_SECONDS = 600.0


def published_of(database: Path) -> Path:
    return database.parent / "published" / "ulm.duckdb"


def build(
    database: Path, variables: dict | None = None, options: tuple[str, ...] = ()
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(publish.PUBLISHED_PATH_VARIABLE, str(published_of(database)))
        run_dbt(["build", *options], database, variables)


def start_build(database: Path) -> subprocess.Popen:
    """`dbt build` as its own process group, printing its log to a pipe."""
    env = {
        **os.environ,
        "ULM_DUCKDB_PATH": str(database),
        "ULM_TEMP_DIRECTORY": str(database.parent / "tmp"),
        "DBT_TARGET_PATH": str(database.parent / "target"),
        "DBT_LOG_PATH": str(database.parent / "logs"),
        publish.PUBLISHED_PATH_VARIABLE: str(published_of(database)),
    }
    return subprocess.Popen(
        [str(DBT), "build"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def copy_build(source: Path, folder: Path) -> Path:
    """A working file and its published file, copied while no build runs."""
    database = folder / "ulm.duckdb"
    published_of(database).parent.mkdir(parents=True)
    shutil.copy2(source, database)
    shutil.copy2(published_of(source), published_of(database))
    return database


def fingerprint(connection: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Rows and checksum of every read table, plus the build marker."""
    connection.execute("set TimeZone = 'UTC'")
    prints = {
        table: list(publish.table_checksum(connection, table)) for table in READ_TABLES
    }
    as_of_dates, revenue = connection.execute(
        "select"
        " (select string_agg(distinct cast(as_of_date as varchar), ',')"
        "  from marts.ulm_published),"
        " (select cast(sum(net_revenue) as varchar) from marts.fct_events)"
    ).fetchall()[0]
    prints["marker"] = [as_of_dates, revenue]
    return prints


def published_fingerprint(database: Path) -> dict[str, list]:
    with duckdb.connect(str(published_of(database)), read_only=True) as connection:
        return fingerprint(connection)


def published_manifest(database: Path) -> list[tuple]:
    with duckdb.connect(str(published_of(database)), read_only=True) as connection:
        return connection.execute(
            "select * from marts.ulm_published order by table_name"
        ).fetchall()


def published_checksums(database: Path) -> dict[str, tuple[int, str]]:
    """Every published table's checksum, computed again from its content."""
    with duckdb.connect(str(published_of(database)), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        tables = connection.execute(
            "select table_schema || '.' || table_name"
            " from information_schema.tables order by 1"
        ).fetchall()
        return {table: publish.table_checksum(connection, table) for (table,) in tables}


def read_until_stopped(published: str, stop_file: str, result_file: str) -> None:
    """Open the published file read-only, read, close; again until told to stop.

    Stops by itself after READER_MAX_SECONDS. Writes every read's fingerprint
    and every error to result_file as JSON.
    """
    deadline = time.monotonic() + READER_MAX_SECONDS
    reads: list[dict] = []
    errors: list[str] = []
    while time.monotonic() < deadline and not os.path.exists(stop_file):
        try:
            with duckdb.connect(published, read_only=True) as connection:
                reads.append(fingerprint(connection))
        except Exception as error:  # every failure is a finding: count it
            errors.append(f"{type(error).__name__}: {error}")
    Path(result_file).write_text(json.dumps({"reads": reads, "errors": errors}))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(database: Path) -> list[str]:
    published = published_of(database)
    return sorted(
        path.name
        for path in published.parent.iterdir()
        if path.name.startswith(f"{published.name}{publish.TEMP_MARKER}")
    )


@pytest.fixture(scope="module")
def first_build(tmp_path_factory) -> Path:
    """A build of the sample with its published file; tests work on copies."""
    database = tmp_path_factory.mktemp("first") / "ulm.duckdb"
    build(database)
    return database


def test_readers_see_the_old_or_the_new_build_never_a_mix(first_build, tmp_path):
    database = copy_build(first_build, tmp_path)
    published = published_of(database)
    old = published_fingerprint(database)
    stop_file = tmp_path / "stop"
    result_file = tmp_path / "reads.json"

    reader = multiprocessing.get_context("spawn").Process(
        target=read_until_stopped,
        args=(str(published), str(stop_file), str(result_file)),
    )
    reader.start()
    try:
        started = time.monotonic()
        # Replaying history from an earlier date re-judges every raw row.
        build(database, {"as_of_date": EARLIER_AS_OF_DATE}, ("--full-refresh",))
        build_seconds = time.monotonic() - started
        new = published_fingerprint(database)
        time.sleep(2)  # let the reader open the new file a few times
    finally:
        stop_file.touch()
        reader.join(timeout=READER_MAX_SECONDS + 60)
    assert reader.exitcode == 0

    result = json.loads(result_file.read_text())
    reads, errors = result["reads"], result["errors"]
    old_reads = sum(read == old for read in reads)
    new_reads = sum(read == new for read in reads)
    mixed_reads = len(reads) - old_reads - new_reads
    queries = len(reads) * (2 * len(READ_TABLES) + 2)
    log.warning(
        "reader during a %.0f s build: %d reads, %d queries, %d errors, "
        "%d mixed reads (%d old, %d new)",
        build_seconds,
        len(reads),
        queries,
        len(errors),
        mixed_reads,
        old_reads,
        new_reads,
    )

    assert old["marker"][0] != new["marker"][0]
    assert all(old[table] != new[table] for table in READ_TABLES)
    assert errors == []
    assert mixed_reads == 0
    assert old_reads > 0
    assert new_reads > 0


def wait_for_new_file(database: Path, process: subprocess.Popen) -> list[str]:
    """The publish's new file, as soon as it appears (the copy has begun)."""
    deadline = time.monotonic() + 60
    while not leftovers(database):
        assert process.poll() is None, "the build ended before publishing began"
        assert time.monotonic() < deadline, "publishing did not begin in 60 s"
        time.sleep(0.005)
    return leftovers(database)


@pytest.mark.parametrize(
    "kill_at",
    [
        pytest.param("marts.ml_", id="while-ml-models-run"),
        pytest.param("intermediate.ulm_publish_staged", id="while-staging"),
        pytest.param("marts.ulm_published", id="while-copying"),
    ],
)
def test_a_killed_build_leaves_the_published_file_as_it_was(
    first_build, tmp_path, kill_at
):
    database = copy_build(first_build, tmp_path)
    published = published_of(database)
    before = file_digest(published)
    manifest_before = published_manifest(database)

    process = start_build(database)
    seen = []
    deadline = time.monotonic() + BUILD_TIMEOUT_SECONDS
    for line in process.stdout:
        seen.append(line)
        if re.search(rf"START python table model {re.escape(kill_at)}", line):
            break
        assert time.monotonic() < deadline, "dbt build did not reach " + kill_at
    copying = wait_for_new_file(database, process) if "publish" in kill_at else []
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen[-40:])
    log.warning(
        "killed the build at %s; files of the copy left: %s",
        kill_at,
        leftovers(database) or "none",
    )

    assert file_digest(published) == before
    # none, or the interrupted copy (with its log, when the kill came mid-write)
    interrupted = set(copying) | {f"{name}.wal" for name in copying}
    assert set(leftovers(database)) <= interrupted
    assert set(copying) <= set(leftovers(database))

    build(database)
    assert leftovers(database) == []
    assert published_manifest(database) == manifest_before


def test_two_builds_of_the_same_input_publish_identical_tables(first_build, tmp_path):
    second = tmp_path / "ulm.duckdb"
    build(second)

    first_checksums = published_checksums(first_build)
    assert len(first_checksums) == 17  # 16 public tables and the manifest
    assert published_checksums(second) == first_checksums
    assert published_manifest(second) == published_manifest(first_build)
    manifest = {
        name: (rows, checksum)
        for name, checksum, rows, _ in published_manifest(first_build)
    }
    for table, (rows, checksum) in manifest.items():
        assert first_checksums[table] == (rows, checksum), table
