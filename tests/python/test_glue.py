"""Settings, frames, the per-build cache and the pipelines the models call."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ulm import cache, frames, pipelines, settings


def test_settings_read_vars_with_none_words_and_digit_strings() -> None:
    config = settings.from_json(
        json.dumps(
            {
                "segments_k": "5",
                "cf_half_life_days": "none",
                "churn_horizon_days": "45",
                "interaction_weights": {"view": 2, "refund": -1},
                "unknown_key": 1,
            }
        )
    )
    assert config.segments_k == 5
    assert config.cf_half_life_days is None
    assert config.churn_horizon_days == 45
    assert config.interaction_weights == {"view": 2.0, "refund": -1.0}
    assert settings.from_json(json.dumps({"segments_k": "AUTO"})).segments_k == "auto"
    assert settings.from_json(None) == settings.Settings()


def test_settings_read_the_count_scale_and_reject_an_unknown_one() -> None:
    assert settings.Settings().cf_count_scale == "log"
    read = settings.from_json(json.dumps({"cf_count_scale": " Binary "}))
    assert read.cf_count_scale == "binary"
    assert settings.from_json(json.dumps({"cf_count_scale": None})).cf_count_scale == (
        "log"
    )
    with pytest.raises(ValueError, match="cf_count_scale"):
        settings.from_json(json.dumps({"cf_count_scale": "sqrt"}))


def test_settings_read_the_recent_items_half_life() -> None:
    assert settings.Settings().cf_recent_items_half_life == 50
    read = settings.from_json(json.dumps({"cf_recent_items_half_life": "20"}))
    assert read.cf_recent_items_half_life == 20.0
    off = settings.from_json(json.dumps({"cf_recent_items_half_life": "none"}))
    assert off.cf_recent_items_half_life is None
    with pytest.raises(ValueError, match="cf_recent_items_half_life"):
        settings.from_json(json.dumps({"cf_recent_items_half_life": 0}))


@pytest.mark.parametrize("value", ["many", "0", "-2", 0])
def test_settings_reject_a_bad_k_with_the_var_name(value: str) -> None:
    with pytest.raises(ValueError, match="segments_k"):
        settings.from_json(json.dumps({"segments_k": value}))


def test_frames_read_duckdb_relations_with_decimals_as_floats() -> None:
    connection = duckdb.connect()
    relation = connection.sql(
        "select 'u1' as user_id, cast(12.5 as decimal(18, 4)) as revenue,"
        " sum(x) as total from (select 3::bigint as x)"
    )
    frame = frames.to_pandas(relation)
    assert frame["revenue"].dtype == np.float64
    assert frame["total"].dtype == np.float64
    assert frame.loc[0, "revenue"] == 12.5
    assert frame.loc[0, "total"] == 3.0
    assert frame.loc[0, "user_id"] == "u1"


def test_frames_accept_arrow_and_pandas_and_refuse_other_things() -> None:
    table = pa.table({"a": pa.array([Decimal("1.25")], pa.decimal128(10, 2))})
    assert frames.to_pandas(table)["a"].tolist() == [1.25]
    already = pd.DataFrame({"a": [1]})
    assert frames.to_pandas(already) is already
    with pytest.raises(TypeError, match="Cannot read a int"):
        frames.to_arrow(5)


def test_frames_read_only_the_columns_asked_for_in_every_input_kind() -> None:
    connection = duckdb.connect()
    relation = connection.sql(
        "select * from (values ('u2', 1, 'x'), ('u1', 2, 'y')) as t(user_id, n, note)"
    )
    frame = frames.to_pandas(relation, order_by=["user_id"], columns=["user_id", "n"])
    assert list(frame.columns) == ["user_id", "n"]
    assert frame["user_id"].tolist() == ["u1", "u2"]
    assert frame["n"].tolist() == [2, 1]

    table = pa.table({"user_id": ["u1"], "n": [5], "note": ["z"]})
    assert frames.to_pandas(table, columns=["n"]).to_dict("list") == {"n": [5]}
    # A table handed in is read, not consumed.
    assert table.num_columns == 3 and table.column("n").to_pylist() == [5]
    already = pd.DataFrame({"user_id": ["u1"], "n": [5]})
    assert list(frames.to_pandas(already, columns=["n"]).columns) == ["n"]


def test_cache_reuses_a_fit_only_for_identical_input_and_parameters() -> None:
    calls: list[int] = []

    def fit(frame: pd.DataFrame, scale: int) -> int:
        calls.append(scale)
        return int(frame["x"].sum()) * scale

    frame = pd.DataFrame({"x": [1, 2, 3]})
    assert cache.cached_call("t", fit, {"frame": frame}, scale=2) == 12
    assert cache.cached_call("t", fit, {"frame": frame.copy()}, scale=2) == 12
    assert calls == [2]
    assert cache.cached_call("t", fit, {"frame": frame}, scale=3) == 18
    changed = pd.DataFrame({"x": [1, 2, 4]})
    assert cache.cached_call("t", fit, {"frame": changed}, scale=2) == 14
    assert calls == [2, 3, 2]


def test_fingerprint_sees_values_order_and_types() -> None:
    base = pd.DataFrame({"x": [1, 2]})
    assert cache.frame_fingerprint(base) == cache.frame_fingerprint(base.copy())
    assert cache.frame_fingerprint(base) != cache.frame_fingerprint(base[::-1])
    assert cache.frame_fingerprint(base) != cache.frame_fingerprint(
        base.astype("float64")
    )

    # Arrow-backed strings are hashed from their buffers: a changed value, a
    # missing value against an empty one, and another order all tell apart.
    words = pd.DataFrame({"w": pd.array(["ab", "c", ""], dtype="string[pyarrow]")})
    same = words.copy()
    assert cache.frame_fingerprint(words) == cache.frame_fingerprint(same)
    for other in (["ab", "d", ""], ["ab", "c", None], ["c", "ab", ""], ["abc", "", ""]):
        changed = pd.DataFrame({"w": pd.array(other, dtype="string[pyarrow]")})
        assert cache.frame_fingerprint(words) != cache.frame_fingerprint(changed)
    # A slice of the same buffers is other content.
    assert cache.frame_fingerprint(words.iloc[1:]) != cache.frame_fingerprint(
        words.iloc[:2]
    )
    # Python objects fall back to hashing each value.
    objects = pd.DataFrame({"o": pd.Series([("a", 1), ("b", 2)], dtype=object)})
    swapped = pd.DataFrame({"o": pd.Series([("b", 2), ("a", 1)], dtype=object)})
    assert cache.frame_fingerprint(objects) != cache.frame_fingerprint(swapped)
    times = pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    assert cache.frame_fingerprint(times) != cache.frame_fingerprint(times[::-1])


def test_as_of_bounds_names_the_problem_when_nothing_was_accepted() -> None:
    empty = pd.DataFrame({"as_of_date": pd.Series([], dtype="datetime64[ns]")})
    with pytest.raises(ValueError, match="stg_raw__events_rejected"):
        pipelines.as_of_bounds(empty)
    as_of = pd.DataFrame({"as_of_date": [pd.Timestamp("2024-03-31")]})
    assert pipelines.as_of_bounds(as_of) == (
        pd.Timestamp("2024-03-31"),
        pd.Timestamp("2024-04-01"),
    )


def _interactions() -> pd.DataFrame:
    """Three users who bought a and b together, a fourth who bought only a."""
    rows = []
    for user in ["u1", "u2", "u3"]:
        for item in ["a", "b"]:
            rows.append((user, item, "purchase", 1, 1))
    rows.append(("u4", "a", "purchase", 1, 1))
    rows.append(("u4", "c", "view", 1, 1))
    frame = pd.DataFrame(
        rows,
        columns=["user_id", "item_id", "event_type", "events", "events_before_holdout"],
    )
    frame["last_at"] = pd.Timestamp("2024-03-01")
    frame["last_before_holdout_at"] = pd.Timestamp("2024-03-01")
    return frame


def test_recommendations_follow_co_purchases_and_cover_users_without_items() -> None:
    config = settings.Settings(recommendations_n=2)
    as_of = pd.DataFrame({"as_of_date": [pd.Timestamp("2024-03-31")]})
    interactions = _interactions()
    similarities = pipelines.item_similarities(interactions, as_of, config)
    assert set(
        zip(similarities["item_id"], similarities["similar_item_id"], strict=True)
    ) == {
        ("a", "b"),
        ("b", "a"),
    }
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u5"]})
    recommendations = pipelines.user_recommendations(
        interactions, similarities, users, as_of, config
    )
    top = recommendations[recommendations["rank"] == 1].set_index("user_id")
    assert top.loc["u4", "item_id"] == "b"
    assert top.loc["u4", "source_item_id"] == "a"
    assert top.loc["u4", "strategy"] == "item_cf"
    assert top.loc["u5", "strategy"] == "popular"
    assert top.loc["u5", "item_id"] == "a"
    assert "c" not in set(
        recommendations.loc[recommendations["user_id"] == "u4", "item_id"]
    )


def test_in_key_order_makes_scan_order_irrelevant() -> None:
    frame = pd.DataFrame({"user_id": ["b", "a", "c", "a"], "day": [1, 2, 1, 1]})
    shuffled = frame.sample(frac=1.0, random_state=3)
    ordered = pipelines.in_key_order(shuffled, ["user_id", "day"])
    assert ordered[["user_id", "day"]].values.tolist() == [
        ["a", 1],
        ["a", 2],
        ["b", 1],
        ["c", 1],
    ]
    assert ordered.index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("users", "days", "expected"),
    [
        (["a", "a", "b"], [1, 2, 1], True),
        (["a", "a", "b"], [2, 1, 1], False),  # the second key decides
        (["a", "b", "b"], [9, 1, 1], True),  # the first key decides, ties kept
        (["b", "a", "a"], [1, 1, 2], False),
        (["a", "B"], [1, 1], False),  # code point order: "B" < "a"
        (["a"], [1], True),
    ],
)
def test_is_in_key_order_compares_key_by_key(users, days, expected) -> None:
    frame = pd.DataFrame(
        {"user_id": pd.Series(users, dtype="string"), "day": days, "x": 0.0}
    )
    assert pipelines.is_in_key_order(frame, ["user_id", "day"]) is expected


def test_a_null_key_is_never_taken_as_sorted() -> None:
    frame = pd.DataFrame({"user_id": ["a", None, "b"], "day": [1, 1, 1]})
    assert not pipelines.is_in_key_order(frame, ["user_id", "day"])


def test_duckdb_sorts_as_pandas_does_so_the_pandas_sort_is_skipped() -> None:
    connection = duckdb.connect()
    connection.execute(
        "create table t as select * from (values ('b', 'x', 2), ('a', 'y', 1),"
        " ('B', 'x', 1), ('é', 'x', 1), ('a', 'x', 3), ('e', 'x', 1))"
        " as v(user_id, item_id, n)"
    )
    relation = connection.table("t")
    keys = ["user_id", "item_id"]

    from_engine = frames.to_pandas(relation, order_by=keys)
    from_pandas = (
        frames.to_pandas(relation)
        .sort_values(keys, kind="stable")
        .reset_index(drop=True)
    )

    assert pipelines.is_in_key_order(from_engine, keys)
    pd.testing.assert_frame_equal(
        pipelines.in_key_order(from_engine, keys), from_pandas
    )
    assert from_engine["user_id"].tolist() == ["B", "a", "a", "b", "e", "é"]


def test_rounded_floats_hide_last_bit_noise_and_leave_other_columns() -> None:
    frame = pd.DataFrame({"user_id": ["a", "b"], "p": [0.1 + 0.2, 0.3], "n": [1, 2]})
    rounded = pipelines.rounded_floats(frame)
    assert rounded["p"].tolist() == [0.3, 0.3]
    assert rounded["n"].tolist() == [1, 2]
    assert rounded["user_id"].tolist() == ["a", "b"]
