from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ulm import publish

TABLES = ["marts.dim_items", "marts.fct_orders", "staging.stg_rejected"]


@pytest.fixture
def working(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    (tmp_path / "work").mkdir()
    connection = duckdb.connect(str(tmp_path / "work" / "ulm.duckdb"))
    connection.execute(
        """
        create schema marts;
        create schema staging;
        create table marts.fct_orders as
        select * from (values ('u1', 10.5), ('u2', 3.0), ('u1', 1.25))
            as orders (user_id, revenue);
        create table marts.dim_items as
        select * from (values ('i1', 'toys'), ('i2', 'home'))
            as items (item_id, category);
        create table staging.rejected_rows as
        select 'u3' as user_id, 'missing_event_at' as reject_reason;
        create view staging.stg_rejected as select * from staging.rejected_rows;
        """
    )
    yield connection
    connection.close()


@pytest.fixture
def published(tmp_path: Path) -> Path:
    return tmp_path / "published" / "ulm.duckdb"


def folder_names(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.parent.iterdir())


def read(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_publish_copies_every_table_and_returns_the_manifest(working, published):
    manifest = publish.publish_tables(
        working, TABLES, published, as_of_date=date(2024, 3, 31)
    )

    assert manifest["table_name"].tolist() == TABLES
    assert manifest["rows"].tolist() == [2, 3, 1]
    assert set(manifest["as_of_date"]) == {date(2024, 3, 31)}
    assert manifest["checksum"].str.fullmatch("[0-9a-f]{32}").all()
    assert manifest["checksum"].nunique() == 3

    assert read(published, "select * from marts.fct_orders") == [
        ("u1", 10.5),
        ("u2", 3.0),
        ("u1", 1.25),
    ]
    # A view of the working file is published as a plain table.
    assert read(
        published,
        "select table_type from information_schema.tables"
        " where table_name = 'stg_rejected'",
    ) == [("BASE TABLE",)]
    assert read(
        published, "select table_name, rows, as_of_date from marts.ulm_published"
    ) == [
        ("marts.dim_items", 2, date(2024, 3, 31)),
        ("marts.fct_orders", 3, date(2024, 3, 31)),
        ("staging.stg_rejected", 1, date(2024, 3, 31)),
    ]
    assert folder_names(published) == ["ulm.duckdb", "ulm.duckdb.lock"]


def test_checksum_ignores_row_order_and_sees_every_change():
    connection = duckdb.connect()
    connection.execute(
        """
        create schema s;
        create table s.a as select * from (values (1, 'x'), (2, 'y')) as t (n, c);
        create table s.b as select * from (values (2, 'y'), (1, 'x')) as t (n, c);
        create table s.changed as
        select * from (values (1, 'x'), (2, 'z')) as t (n, c);
        create table s.doubled as
        select * from (values (1, 'x'), (2, 'y'), (2, 'y')) as t (n, c);
        create table s.renamed as
        select * from (values (1, 'x'), (2, 'y')) as t (n, label);
        create table s.retyped as
        select * from (values (1::bigint, 'x'), (2::bigint, 'y')) as t (n, c);
        create table s.empty as select 1 as n where false;
        """
    )
    checksums = {
        name: publish.table_checksum(connection, f"s.{name}")
        for name in ["a", "b", "changed", "doubled", "renamed", "retyped", "empty"]
    }

    assert checksums["a"] == checksums["b"]
    assert checksums["a"][0] == 2
    assert checksums["doubled"][0] == 3
    for name in ["changed", "doubled", "renamed", "retyped"]:
        assert checksums[name][1] != checksums["a"][1], name
    # No rows: the md5 of the column list and a zero sum.
    assert checksums["empty"] == (0, hashlib.md5(b"n INTEGER|0").hexdigest())


def test_open_reader_keeps_its_snapshot_and_a_new_one_sees_the_new_build(
    working, published
):
    publish.publish_tables(working, TABLES, published)
    old_reader = duckdb.connect(str(published), read_only=True)

    working.execute("insert into marts.fct_orders values ('u4', 7.0)")
    publish.publish_tables(working, TABLES, published)

    assert old_reader.execute("select count(*) from marts.fct_orders").fetchone() == (
        3,
    )
    old_reader.close()
    assert read(published, "select count(*) from marts.fct_orders") == [(4,)]


def test_publish_works_while_the_build_holds_a_write_transaction(working, published):
    working.execute("begin")
    working.execute("create table marts.fct_pending as select 1 as n")

    publish.publish_tables(working, ["marts.fct_orders"], published)

    working.execute("insert into marts.fct_pending values (2)")
    working.execute("commit")
    assert working.execute("select sum(n) from marts.fct_pending").fetchone() == (3,)
    assert read(published, "select count(*) from marts.fct_orders") == [(3,)]


def test_failed_copy_removes_its_file_and_leaves_the_published_one(working, published):
    publish.publish_tables(working, TABLES, published)
    before = published.read_bytes()

    with pytest.raises(duckdb.CatalogException, match="fct_missing"):
        publish.publish_tables(working, [*TABLES, "marts.fct_missing"], published)

    assert published.read_bytes() == before
    assert folder_names(published) == ["ulm.duckdb", "ulm.duckdb.lock"]
    attached = working.execute(
        "select count(*) from duckdb_databases() where database_name like 'ulm_pub%'"
    ).fetchone()
    assert attached == (0,)
    manifest = publish.publish_tables(working, TABLES, published)
    assert manifest["rows"].tolist() == [2, 3, 1]


def test_failed_swap_removes_the_new_file(working, tmp_path):
    blocked = tmp_path / "published" / "ulm.duckdb"
    blocked.mkdir(parents=True)
    (blocked / "keep").write_text("a folder cannot be replaced by a file")

    with pytest.raises(OSError):
        publish.publish_tables(working, TABLES, blocked)

    assert folder_names(blocked) == ["ulm.duckdb", "ulm.duckdb.lock"]
    assert (blocked / "keep").exists()


def test_files_left_by_a_killed_publish_are_removed(working, published):
    published.parent.mkdir(parents=True)
    (published.parent / "ulm.duckdb.tmp-0badc0ffee").write_bytes(b"half a file")
    (published.parent / "ulm.duckdb.tmp-0badc0ffee.wal").write_bytes(b"log")
    (published.parent / "other.duckdb.tmp-1").write_bytes(b"not ours")

    publish.publish_tables(working, TABLES, published)

    assert folder_names(published) == [
        "other.duckdb.tmp-1",
        "ulm.duckdb",
        "ulm.duckdb.lock",
    ]


def test_a_stale_write_ahead_log_of_the_published_file_is_removed(working, published):
    publish.publish_tables(working, TABLES, published)
    (published.parent / "ulm.duckdb.wal").write_bytes(b"from a writer")

    publish.publish_tables(working, TABLES, published)

    assert folder_names(published) == ["ulm.duckdb", "ulm.duckdb.lock"]
    assert read(published, "select count(*) from marts.dim_items") == [(2,)]


def test_the_working_file_is_never_the_published_one(working, tmp_path):
    with pytest.raises(ValueError, match="ULM_PUBLISHED_PATH"):
        publish.publish_tables(working, TABLES, tmp_path / "work" / "ulm.duckdb")


def test_table_names_must_be_schema_dot_table(working, published):
    with pytest.raises(ValueError, match="schema.name"):
        publish.publish_tables(working, ["fct_orders"], published)
    assert not published.exists()


def test_published_path_is_beside_the_working_file_unless_set(
    monkeypatch, working, tmp_path
):
    monkeypatch.delenv("ULM_PUBLISHED_PATH", raising=False)
    working_file = publish.working_file(working)
    assert working_file == str(tmp_path / "work" / "ulm.duckdb")
    assert publish.published_path(working_file) == (
        tmp_path / "work" / "published" / "ulm.duckdb"
    )
    assert publish.published_path() == Path("warehouse/published/ulm.duckdb")
    assert publish.working_file(duckdb.connect()) is None

    monkeypatch.setenv("ULM_PUBLISHED_PATH", str(tmp_path / "bi.duckdb"))
    assert publish.published_path(working_file) == tmp_path / "bi.duckdb"


def test_staged_tables_are_published_with_the_rest_as_one_copy_would_be(
    working, published, tmp_path
):
    one_step = publish.publish_tables(
        working, TABLES, tmp_path / "one" / "ulm.duckdb", as_of_date=date(2024, 3, 1)
    )

    staged = publish.stage_tables(working, TABLES[:2], published)
    assert staged.table_name.tolist() == TABLES[:2]
    assert not published.exists()
    # a later change to a staged table is not seen: it was copied when staged
    working.execute("insert into marts.dim_items values ('i3', 'garden')")
    two_steps = publish.publish_tables(
        working, TABLES, published, as_of_date=date(2024, 3, 1)
    )

    assert two_steps.equals(one_step)
    assert read(published, "select count(*) from marts.dim_items") == [(2,)]
    assert read(published, "select table_name from marts.ulm_published") == [
        (table,) for table in TABLES
    ]
    assert folder_names(published) == ["ulm.duckdb", "ulm.duckdb.lock"]


def test_a_staged_file_that_is_gone_means_copying_every_table(working, published):
    publish.stage_tables(working, ["marts.fct_orders"], published)
    for leftover in published.parent.glob("ulm.duckdb.tmp-*"):
        leftover.unlink()

    manifest = publish.publish_tables(working, TABLES, published)

    assert manifest.table_name.tolist() == TABLES
    assert read(published, "select count(*) from marts.fct_orders") == [(3,)]


def test_staging_removes_the_files_of_an_earlier_build_but_not_its_own(
    working, published
):
    publish.stage_tables(working, ["marts.fct_orders"], published)
    earlier = sorted(published.parent.glob("ulm.duckdb.tmp-*"))
    assert len(earlier) == 1

    publish.stage_tables(working, ["marts.dim_items"], published)
    now = sorted(published.parent.glob("ulm.duckdb.tmp-*"))
    assert len(now) == 1 and now != earlier

    manifest = publish.publish_tables(working, TABLES, published)
    assert manifest.table_name.tolist() == TABLES
    assert folder_names(published) == ["ulm.duckdb", "ulm.duckdb.lock"]
