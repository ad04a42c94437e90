"""Var pseudonymize_user_ids on real builds of the built-in sample.

User ids are replaced by a keyed hash right after the raw files are read, in
events and users alike; the key comes from ULM_PSEUDONYMIZATION_KEY when the
query runs and is written nowhere under target/ or the logs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, query, run_dbt, scalar

pytestmark = pytest.mark.integration

KEY = "k3y-for-tests-only-5e1f0c"
OTHER_KEY = "another-k3y-for-tests-only-77aa"
KEY_VARIABLE = "ULM_PSEUDONYMIZATION_KEY"
PSEUDONYMIZE = {"pseudonymize_user_ids": True}


def pseudonym(user_id: str, key: str) -> str:
    text = f"{key}|{user_id.strip(' ')}|{key}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def raw_user_ids(database: Path, file: str) -> set[str]:
    rows = query(
        database,
        f"select distinct trim(user_id) from read_csv('{PROJECT_ROOT / file}',"
        " all_varchar = true, header = true)"
        " where lower(trim(user_id)) not in ('', 'null', 'none', 'nan', 'n/a', 'na')",
    )
    return {user_id for (user_id,) in rows}


def ids(database: Path, table: str) -> set[str]:
    return {user_id for (user_id,) in query(database, f"select user_id from {table}")}


@pytest.fixture(scope="module")
def pseudonymized_build(tmp_path_factory) -> Path:
    database = tmp_path_factory.mktemp("pseudonymized") / "ulm.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VARIABLE, KEY)
        run_dbt(["build"], database, PSEUDONYMIZE)
    return database


def test_without_a_key_the_build_stops_and_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    result = run_dbt(
        ["build", "--select", "+stg_raw__events_validated", "stg_raw__users"],
        tmp_path / "ulm.duckdb",
        PSEUDONYMIZE,
        check=False,
    )

    assert result.returncode != 0
    assert (
        "var pseudonymize_user_ids is true but environment variable "
        "ULM_PSEUDONYMIZATION_KEY is not set"
    ) in result.stdout
    assert "set pseudonymize_user_ids to false" in result.stdout


def test_every_user_id_is_the_keyed_hash_and_users_still_join(pseudonymized_build):
    database = pseudonymized_build
    event_ids = raw_user_ids(database, "data/sample/events.csv.gz")
    user_file_ids = raw_user_ids(database, "data/sample/users.csv")
    original = {pseudonym(user_id, KEY): user_id for user_id in event_ids}
    user_file_pseudonyms = {pseudonym(user_id, KEY) for user_id in user_file_ids}

    users = ids(database, "marts.dim_users")
    assert len(users) == 7500
    assert users <= set(original)  # no real id left, every pseudonym keyed
    for table in [
        "marts.fct_events",
        "marts.ml_churn_scores",
        "marts.ml_user_recommendations",
    ]:
        assert ids(database, table) <= set(original), table
    rejected = query(
        database,
        "select raw_user_id, reject_reason from staging.stg_raw__events_rejected",
    )
    # Blank ids stay as they were, and are rejected as missing.
    assert {user_id for user_id, _ in rejected if user_id not in original} == {
        None,
        "  ",
        "NULL",
    }
    assert {reason for user_id, reason in rejected if user_id not in original} == {
        "missing_user_id"
    }
    assert ids(database, "staging.stg_raw__users") == user_file_pseudonyms

    # Events and the users file hash alike: the same users match as by real id.
    matched = users & ids(database, "staging.stg_raw__users")
    assert len(matched) == len({original[user] for user in users} & user_file_ids)
    assert len(matched) > 0.9 * len(users)
    assert scalar(
        database, "select count(*) from marts.dim_users where country is not null"
    ) > 0.9 * len(users)


def test_the_key_is_written_nowhere_in_target_or_logs(pseudonymized_build):
    folder = pseudonymized_build.parent
    written = [
        path
        for path in [*(folder / "target").rglob("*"), *(folder / "logs").rglob("*")]
        if path.is_file()
    ]
    assert len(written) > 10
    leaking = [path for path in written if KEY.encode() in path.read_bytes()]
    assert leaking == []
    compiled = (
        folder / "target/compiled/ulm/models/staging/stg_raw__events_mapped.sql"
    ).read_text()
    assert "getenv('ULM_PSEUDONYMIZATION_KEY')" in compiled


def test_the_same_key_gives_the_same_pseudonyms_in_another_build(
    pseudonymized_build, tmp_path, monkeypatch
):
    select = ["run", "--select", "stg_raw__users"]
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    run_dbt(select, tmp_path / "same" / "ulm.duckdb", PSEUDONYMIZE)
    monkeypatch.setenv(KEY_VARIABLE, OTHER_KEY)
    run_dbt(select, tmp_path / "other" / "ulm.duckdb", PSEUDONYMIZE)

    first = ids(pseudonymized_build, "staging.stg_raw__users")
    assert ids(tmp_path / "same" / "ulm.duckdb", "staging.stg_raw__users") == first
    other = ids(tmp_path / "other" / "ulm.duckdb", "staging.stg_raw__users")
    assert len(other) == len(first)
    assert other.isdisjoint(first)
