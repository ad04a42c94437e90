"""Publish the public tables as one read-only DuckDB file for BI tools.

A DuckDB file takes one writer or many readers, never both, so a BI tool
cannot read the file dbt is building. After every public table passed its
tests, the build copies them into a new file beside the published one,
writes it to disk, and renames it onto the published path in one atomic
step. A reader that has the old file open keeps reading a consistent old
snapshot; a new connection sees the whole new build; nobody sees part of
one. A copy that fails removes its new file and leaves the published one
as it was; files left by a killed build are removed by the next publish.

The copy can come in two steps, so that most of it overlaps the last
models of a build: ``stage_tables`` copies the tables that are ready into
the new file, and ``publish_tables``, later in the same process, adds the
rest and the manifest and renames the file. When no staged file is found
for the published path (another process staged it, or it was removed),
``publish_tables`` copies every table itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

log = logging.getLogger(__name__)

PUBLISHED_PATH_VARIABLE = "ULM_PUBLISHED_PATH"
DEFAULT_PUBLISHED_PATH = Path("warehouse/published/ulm.duckdb")
MANIFEST_TABLE = "marts.ulm_published"
TEMP_MARKER = ".tmp-"

_UINT64 = 2**64


@dataclass
class _Staged:
    path: Path
    manifest: pd.DataFrame


# new files staged by this process, by published path
_staged: dict[Path, _Staged] = {}


def published_path(working_file: str | Path | None = None) -> Path:
    """Env ULM_PUBLISHED_PATH, else published/<name> beside the working file.

    With the default working file, warehouse/ulm.duckdb, that is
    warehouse/published/ulm.duckdb, the default for an in-memory build too.
    """
    if os.environ.get(PUBLISHED_PATH_VARIABLE):
        return Path(os.environ[PUBLISHED_PATH_VARIABLE])
    if working_file:
        working = Path(working_file)
        return working.parent / "published" / working.name
    return DEFAULT_PUBLISHED_PATH


def working_file(connection: duckdb.DuckDBPyConnection) -> str | None:
    """Path of the connection's default database file; None when in memory."""
    return connection.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0][0]


def quoted_table(table: str, database: str | None = None) -> str:
    """`schema.table` (optionally inside `database`) as quoted identifiers."""
    parts = table.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected a table as schema.name, got {table!r}")
    if database is not None:
        parts.insert(0, database)
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def table_checksum(
    connection: duckdb.DuckDBPyConnection, table: str, database: str | None = None
) -> tuple[int, str]:
    """Rows of a table and a checksum of its content that ignores row order.

    DuckDB's hash() of every row, summed modulo 2**64, is hashed with md5
    together with the column names and types: the same rows in any order
    give the same checksum; a changed, added, removed or duplicated row, or
    a renamed or retyped column, changes it. A new DuckDB version may hash
    differently, so compare checksums made by one version.
    """
    name = quoted_table(table, database)
    relation = connection.sql(f"select * from {name}")
    columns = ",".join(
        f"{column} {kind}"
        for column, kind in zip(relation.columns, relation.types, strict=True)
    )
    rows, total = connection.execute(
        f"select count(*), coalesce(sum(hash(content)), 0) from {name} as content"
    ).fetchall()[0]
    text = f"{columns}|{int(total) % _UINT64}"
    return int(rows), hashlib.md5(text.encode()).hexdigest()


def stage_tables(
    connection: duckdb.DuckDBPyConnection, tables: Sequence[str], published: Path
) -> pd.DataFrame:
    """Copy `tables` into a new file beside `published`, for publish_tables to finish.

    Returns one row per table, sorted by table_name: table_name, checksum,
    rows. Files that earlier builds left beside `published` are removed first.
    """
    if not tables:
        raise ValueError("stage_tables needs at least one table to copy")
    published = Path(published).absolute()
    with _locked_cursor(connection, published) as cursor:
        _staged.pop(published, None)
        _remove_leftovers(published)
        temp = _new_file_path(published)
        try:
            manifest = _write_new_file(cursor, tables, temp)
        except BaseException:
            _remove_files([temp, _wal_path(temp)])
            log.error("staging for %s failed; nothing was published", published)
            raise
        _staged[published] = _Staged(temp, manifest)
    log.info(
        "staged %d tables, %d rows, in %s",
        len(manifest),
        int(manifest["rows"].sum()),
        temp,
    )
    return manifest


def publish_tables(
    connection: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    published: Path,
    as_of_date: date | None = None,
) -> pd.DataFrame:
    """Copy `tables` (schema.name) into a new file and swap it onto `published`.

    Tables that stage_tables already copied for `published` in this process
    are not copied again. Returns one row per table, sorted by table_name:
    table_name, checksum, rows, as_of_date. The same rows are written into
    the published file as marts.ulm_published, so a reader can tell which
    build it sees.
    """
    if not tables:
        raise ValueError("publish_tables needs at least one table to publish")
    published = Path(published).absolute()
    with _locked_cursor(connection, published) as cursor:
        staged = _usable_staged(published, tables)
        _remove_leftovers(published, keep=staged.path if staged else None)
        temp = staged.path if staged else _new_file_path(published)
        try:
            done = staged.manifest if staged else _empty_manifest()
            rest = [table for table in tables if table not in set(done.table_name)]
            manifest = _write_new_file(cursor, rest, temp, (done, as_of_date))
            _remove_stale_wal(published)
            os.replace(temp, published)
            _sync_folder(published.parent)
        except BaseException:
            _remove_files([temp, _wal_path(temp)])
            log.error("publish failed; %s is unchanged", published)
            raise
        finally:
            _staged.pop(published, None)

    log.info(
        "published %d tables (%d staged before), %d rows, to %s",
        len(manifest),
        len(staged.manifest) if staged else 0,
        int(manifest["rows"].sum()),
        published,
    )
    return manifest


@contextlib.contextmanager
def _locked_cursor(
    connection: duckdb.DuckDBPyConnection, published: Path
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own, holding the lock of `published`.

    The build's cursor may hold an open transaction, and one DuckDB
    transaction writes to one database only.
    """
    cursor = connection.cursor()
    try:
        _refuse_working_file(cursor, published)
        published.parent.mkdir(parents=True, exist_ok=True)
        with _publish_lock(published):
            yield cursor
    finally:
        cursor.close()


def _usable_staged(published: Path, tables: Sequence[str]) -> _Staged | None:
    """This process's staged file for `published`, if it still exists and
    holds only tables of `tables`."""
    staged = _staged.get(published)
    if staged is None:
        return None
    if not staged.path.exists() or not set(staged.manifest.table_name) <= set(tables):
        log.warning(
            "the staged copy %s is gone or stale; copying every table", staged.path
        )
        return None
    return staged


def _new_file_path(published: Path) -> Path:
    return published.with_name(f"{published.name}{TEMP_MARKER}{secrets.token_hex(8)}")


def _empty_manifest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table_name": pd.Series(dtype=object),
            "checksum": pd.Series(dtype=object),
            "rows": pd.Series(dtype="int64"),
        }
    )


@contextlib.contextmanager
def _attached(cursor: duckdb.DuckDBPyConnection, path: Path) -> Iterator[str]:
    """The file at `path` (created when new) attached; checkpointed on success."""
    target = f"ulm_publish_{path.name.rsplit('-', 1)[-1]}"
    cursor.execute("set TimeZone = 'UTC'")
    cursor.execute(f"attach '{_sql_text(path)}' as {target}")
    try:
        yield target
        cursor.execute(f"checkpoint {target}")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            cursor.execute(f"detach {target}")
        raise
    cursor.execute(f"detach {target}")


def _write_new_file(
    cursor: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    path: Path,
    finish: tuple[pd.DataFrame, date | None] | None = None,
) -> pd.DataFrame:
    """Copy `tables` into the file at `path`; their rows and checksums.

    With `finish` (the tables copied before, and the as_of_date), also write
    the manifest of those and of these into the file as marts.ulm_published,
    and return it.
    """
    source = cursor.execute("select current_database()").fetchall()[0][0]
    with _attached(cursor, path) as target:
        copied = _copy_tables(cursor, tables, source, target)
        if finish is None:
            return copied
        copied_before, as_of_date = finish
        parts = [part for part in (copied_before, copied) if len(part)]
        manifest = pd.concat(parts, ignore_index=True) if parts else copied
        manifest = manifest.sort_values("table_name", kind="stable")
        manifest = manifest.reset_index(drop=True)
        manifest["as_of_date"] = pd.Series([as_of_date] * len(manifest), dtype=object)
        _write_manifest(cursor, manifest, target)
    return manifest


def _write_manifest(
    cursor: duckdb.DuckDBPyConnection, manifest: pd.DataFrame, target: str
) -> None:
    cursor.execute(f"create schema if not exists {target}.marts")
    cursor.register("ulm_publish_manifest", manifest)
    cursor.execute(
        f"""
        create table {quoted_table(MANIFEST_TABLE, target)} as
        select
            cast(table_name as varchar) as table_name,
            cast(checksum as varchar) as checksum,
            cast(rows as bigint) as rows,
            cast(as_of_date as date) as as_of_date
        from ulm_publish_manifest
        """
    )
    cursor.unregister("ulm_publish_manifest")


def _copy_tables(
    cursor: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    source: str,
    target: str,
) -> pd.DataFrame:
    rows: list[dict] = []
    for table in sorted(tables):
        schema = table.split(".")[0]
        cursor.execute(f'create schema if not exists {target}."{schema}"')
        cursor.execute(
            f"create table {quoted_table(table, target)}"
            f" as select * from {quoted_table(table, source)}"
        )
        count, checksum = table_checksum(cursor, table, target)
        log.info("copied %s: %d rows, checksum %s", table, count, checksum)
        rows.append({"table_name": table, "checksum": checksum, "rows": count})
    if not rows:
        return _empty_manifest()
    manifest = pd.DataFrame(rows)
    manifest["rows"] = manifest["rows"].astype("int64")
    return manifest


def _refuse_working_file(
    connection: duckdb.DuckDBPyConnection, published: Path
) -> None:
    working = working_file(connection)
    if working and Path(working).absolute() == published:
        raise ValueError(
            f"{PUBLISHED_PATH_VARIABLE} points at the file dbt builds ({working}); "
            "set it to another path, for example warehouse/published/ulm.duckdb."
        )


@contextlib.contextmanager
def _publish_lock(published: Path) -> Iterator[None]:
    """Serialise publishers of one path, so none removes another's new file."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        yield
        return
    with open(published.with_name(published.name + ".lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _remove_leftovers(published: Path, keep: Path | None = None) -> None:
    """Remove new files that earlier publishes left beside `published`."""
    kept = {keep, _wal_path(keep)} if keep else set()
    leftovers = sorted(
        path
        for path in published.parent.glob(f"{published.name}{TEMP_MARKER}*")
        if path.is_file() and path not in kept
    )
    _remove_files(leftovers)
    if leftovers:
        log.info("removed %d files left by an interrupted publish", len(leftovers))


def _remove_stale_wal(published: Path) -> None:
    """A write-ahead log beside the published file belongs to its old content.

    It exists only if someone opened the published file for writing; left in
    place, DuckDB could replay it onto the new file.
    """
    wal = _wal_path(published)
    if wal.exists():
        wal.unlink()
        log.warning("removed %s: the published file is for reading only", wal)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable, where the platform allows it."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _wal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sql_text(value: object) -> str:
    return str(value).replace("'", "''")
