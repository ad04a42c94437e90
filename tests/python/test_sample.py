import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ulm import sample

HISTORY_END = pd.Timestamp("2025-07-01", tz="UTC")
MONEY_TYPES = {"purchase", "PURCHASE", "refund"}
VIEW_TYPES = {"view", "page_view", "View"}


@pytest.fixture(scope="module")
def dirty() -> sample.Dataset:
    return sample.generate(2_000, seed=3)


@pytest.fixture(scope="module")
def clean() -> sample.Dataset:
    return sample.generate(2_000, seed=3, dirty=False)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """Clean events of 5,000 users with parsed instants and purchase flags."""
    events = sample.generate(5_000, seed=11, dirty=False).events
    return events.assign(
        at=pd.to_datetime(events["event_at"], format="ISO8601", utc=True),
        is_purchase=events["event_type"].str.lower() == "purchase",
    )


def _instants(events: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(events["event_at"], format="ISO8601", utc=True)


def test_same_seed_gives_equal_frames_and_other_seed_differs():
    first = sample.generate(400, seed=5)
    second = sample.generate(400, seed=5)
    other = sample.generate(400, seed=6)

    pd.testing.assert_frame_equal(first.events, second.events)
    pd.testing.assert_frame_equal(first.users, second.users)
    pd.testing.assert_frame_equal(first.items, second.items)
    assert first.injected == second.injected
    assert not first.events["event_at"].equals(other.events["event_at"])
    assert not first.users["signed_up_at"].equals(other.users["signed_up_at"])


def test_columns_ids_and_sizes(clean):
    events, users, items = clean.events, clean.users, clean.items

    assert tuple(events.columns) == sample.EVENT_COLUMNS
    assert tuple(users.columns) == sample.USER_COLUMNS
    assert tuple(items.columns) == sample.ITEM_COLUMNS
    assert len(users) == 2_000
    assert len(items) == 200
    assert users["user_id"].str.fullmatch(r"u\d{7}").all()
    assert items["item_id"].str.fullmatch(r"i\d{5}").all()
    assert events["event_id"].str.fullmatch(r"e\d{9}").all()
    assert events["event_id"].is_unique
    assert users["user_id"].is_unique and items["item_id"].is_unique
    assert set(events["user_id"]) == set(users["user_id"])
    assert set(events["item_id"].dropna()) <= set(items["item_id"])
    assert items["category"].nunique() == 12
    assert 30 * len(users) > len(events) > 15 * len(users)


def test_dirty_values_match_injected_counts(dirty):
    events, injected = dirty.events, dirty.injected
    counted = {
        "user_id_missing": events["user_id"].isna().sum(),
        "user_id_blank": (events["user_id"] == "  ").sum(),
        "user_id_null_text": (events["user_id"] == "NULL").sum(),
        "event_at_unparseable": (events["event_at"] == "not a date").sum(),
        "event_at_missing": events["event_at"].isna().sum(),
        "event_at_far_future": events["event_at"].str.startswith("2099").sum(),
        "event_type_unknown": (events["event_type"] == "wishlist_add").sum(),
        "revenue_negative": events["revenue"].str.startswith("-").sum(),
        "revenue_not_numeric": (events["revenue"] == "abc").sum(),
        "revenue_decimal_comma": events["revenue"].str.contains(",").sum(),
        "row_duplicated": events.duplicated().sum(),
        "event_id_reused": events["event_id"].duplicated().sum()
        - events.duplicated().sum(),
    }

    assert counted == injected
    assert injected["event_at_far_future"] == 2
    assert min(injected.values()) >= 2
    assert 0.003 <= sum(injected.values()) / len(events) <= 0.005
    comma = events.loc[events["revenue"].str.contains(",", na=False), "revenue"]
    assert comma.str.fullmatch(r"\d+,\d{2}").all()


def test_dirty_rows_are_the_only_difference_from_clean(dirty, clean):
    mutations = sum(dirty.injected.values()) - dirty.injected["row_duplicated"]

    deduplicated = dirty.events.drop_duplicates().reset_index(drop=True)
    changed = deduplicated.fillna("<empty>") != clean.events.fillna("<empty>")

    assert len(dirty.events) - len(clean.events) == dirty.injected["row_duplicated"]
    assert changed.any(axis=1).sum() == mutations
    assert (changed.sum(axis=1) <= 1).all()


def test_clean_sample_has_no_broken_values(clean):
    events = clean.events

    assert events["user_id"].notna().all()
    assert events["event_at"].notna().all()
    assert _instants(events).is_monotonic_increasing
    assert set(events["event_type"]) == set(sample.RAW_EVENT_TYPES) - {"wishlist_add"}
    assert sum(clean.injected.values()) == 0


def test_revenue_only_on_purchases_and_refunds(clean, history):
    events = clean.events
    is_money = events["event_type"].isin(MONEY_TYPES)
    revenue = events.loc[is_money, "revenue"].astype(float)
    quantity = events["quantity"]

    assert (events["revenue"].notna() == is_money).all()
    assert (revenue > 0).all()
    assert (quantity[events["event_type"].isin(VIEW_TYPES)] == "1").all()
    assert (
        events.loc[events["event_type"] == "login", ["item_id", "quantity"]]
        .isna()
        .all()
        .all()
    )
    assert events.loc[events["event_type"] != "login", "item_id"].notna().all()
    assert set(quantity.dropna()) == {"1", "2", "3", "4", "5"}

    purchases = events[is_money].merge(clean.items, on="item_id")
    list_price = purchases["quantity"].astype(int) * purchases["price"]
    paid = purchases["revenue"].astype(float)
    assert (paid <= list_price + 0.005).all()
    assert (paid >= 0.7 * list_price - 0.01).all()
    assert 0.1 < (paid < list_price - 0.005).mean() < 0.5
    assert 0.03 < (purchases["quantity"] != "1").mean() < 0.3


def test_event_at_styles_spell_the_same_instant(clean):
    text = clean.events["event_at"]
    zulu = text.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    naive = text.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    offset = text.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")

    assert (zulu | naive | offset).all()
    assert 0.8 < zulu.mean() < 0.95
    assert naive.mean() > 0.03 and offset.mean() > 0.03
    assert text[offset].str.endswith("+05:30").any()
    assert text[offset].str.endswith("-05:00").any()
    # the file is in event order, which only holds if offsets are read correctly
    assert _instants(clean.events).is_monotonic_increasing


def test_history_spans_the_requested_months():
    data = sample.generate(600, start="2023-03-01", months=6, dirty=False)
    instants = _instants(data.events)
    signups = pd.to_datetime(data.users["signed_up_at"], utc=True)

    assert instants.min() >= pd.Timestamp("2023-03-01", tz="UTC")
    assert instants.min() < pd.Timestamp("2023-03-08", tz="UTC")
    assert instants.max() < pd.Timestamp("2023-09-01", tz="UTC")
    assert instants.max() > pd.Timestamp("2023-08-25", tz="UTC")
    assert signups.dt.month.nunique() == 6


def test_signup_is_at_or_shortly_before_the_first_event(clean):
    first_event = (
        clean.events.assign(at=_instants(clean.events)).groupby("user_id")["at"].min()
    )
    users = clean.users.set_index("user_id")
    lead = first_event - pd.to_datetime(users["signed_up_at"], utc=True)

    assert lead.index.equals(users.index) or set(lead.index) == set(users.index)
    assert (lead >= pd.Timedelta(0)).all()
    assert (lead <= pd.Timedelta(minutes=10)).all()


def test_refunds_follow_a_purchase_of_the_same_user_and_item(history):
    refunds = history[history["event_type"] == "refund"]
    purchases = history[history["is_purchase"]]
    matched = refunds.merge(
        purchases, on=["user_id", "item_id"], suffixes=("_refund", "_purchase")
    )
    matched = matched[
        (matched["at_purchase"] + pd.Timedelta(days=1) <= matched["at_refund"])
        & (matched["revenue_purchase"] == matched["revenue_refund"])
        & (matched["quantity_purchase"] == matched["quantity_refund"])
    ]

    assert len(refunds) > 20
    assert set(matched["event_id_refund"]) == set(refunds["event_id"])
    assert 0.01 < len(refunds) / len(purchases) < 0.08


def test_funnel_narrows_from_views_to_purchases(history):
    kind = (
        history["event_type"]
        .str.lower()
        .replace({"page_view": "view", "cart": "add_to_cart"})
    )
    counts = kind.value_counts()

    assert counts["view"] > 5 * counts["add_to_cart"]
    assert counts["add_to_cart"] > 1.5 * counts["purchase"]
    assert counts["purchase"] > 10 * counts["refund"]


def test_every_purchase_follows_an_add_to_cart_of_the_same_item(history):
    carts = history.loc[history["event_type"].isin(["add_to_cart", "cart"])]
    purchases = history.loc[history["is_purchase"]]
    matched = purchases.merge(
        carts, on=["user_id", "item_id", "quantity"], suffixes=("", "_cart")
    )
    waited = matched["at"] - matched["at_cart"]
    matched = matched[(waited > pd.Timedelta(0)) & (waited < pd.Timedelta(hours=2))]

    assert set(matched["event_id"]) == set(purchases["event_id"])


def test_sessions_are_bursts_separated_by_hours(history):
    ordered = history.sort_values(["user_id", "at"], kind="stable")
    same_user = ordered["user_id"].eq(ordered["user_id"].shift())
    gap = ordered["at"].diff()[same_user]
    sessions_per_user = (gap > pd.Timedelta(minutes=30)).groupby(
        ordered.loc[same_user, "user_id"]
    ).sum() + 1

    assert (gap <= pd.Timedelta(minutes=20)).mean() > 0.7
    assert (gap[gap > pd.Timedelta(minutes=30)] > pd.Timedelta(hours=2)).mean() > 0.9
    assert sessions_per_user.median() >= 2
    assert sessions_per_user.max() > 30


def test_users_stop_come_back_and_buy_again(history):
    last_event = history.groupby("user_id")["at"].max()
    purchase_days = (
        history[history["is_purchase"]]
        .groupby("user_id")["at"]
        .agg(lambda at: at.dt.date.nunique())
    )
    ordered = history.sort_values(["user_id", "at"], kind="stable")
    same_user = ordered["user_id"].eq(ordered["user_id"].shift())
    long_gap = same_user & (ordered["at"].diff() > pd.Timedelta(days=60))
    signup_month = pd.to_datetime(history.groupby("user_id")["at"].min()).dt.strftime(
        "%Y-%m"
    )
    signups = signup_month.value_counts().sort_index()

    assert 0.2 < (last_event < HISTORY_END - pd.Timedelta(days=60)).mean() < 0.8
    assert (purchase_days >= 2).mean() > 0.2
    assert (purchase_days >= 5).sum() > 20
    assert ordered.loc[long_gap, "user_id"].nunique() > 0.03 * len(last_event)
    assert len(signups) == 18
    assert signups.iloc[-6:].sum() > 1.5 * signups.iloc[:6].sum()


def test_activity_predicts_churn_better_than_recency_alone(history):
    cutoff = HISTORY_END - pd.Timedelta(days=30)
    before = history[history["at"] < cutoff].sort_values(
        ["user_id", "at"], kind="stable"
    )
    last_seen = before.groupby("user_id")["at"].max()
    active = last_seen[last_seen >= cutoff - pd.Timedelta(days=30)].index
    churned = ~active.isin(history.loc[history["at"] >= cutoff, "user_id"])
    new_session = before["user_id"].ne(before["user_id"].shift()) | (
        before["at"].diff() > pd.Timedelta(minutes=30)
    )
    sessions = new_session.groupby(before["user_id"]).sum()[active]
    recency_days = (cutoff - last_seen[active]).dt.total_seconds() / 86_400

    recency_auc = roc_auc_score(churned, recency_days)
    activity_auc = roc_auc_score(churned, np.log1p(recency_days) - np.log1p(sessions))

    assert 0.3 < churned.mean() < 0.7
    assert activity_auc > recency_auc + 0.03


def _top_per_user(scored: pd.DataFrame, owned: pd.MultiIndex, n: int) -> pd.MultiIndex:
    """The n best-scored (user_id, item_id) pairs per user, leaving out owned items."""
    scored = scored[
        ~pd.MultiIndex.from_frame(scored[["user_id", "item_id"]]).isin(owned)
    ]
    scored = scored.sort_values(
        ["user_id", "score", "item_id"], ascending=[True, False, True]
    )
    return pd.MultiIndex.from_frame(
        scored.groupby("user_id").head(n)[["user_id", "item_id"]]
    )


def test_co_purchases_predict_later_purchases_better_than_popularity(history):
    cutoff = HISTORY_END - pd.Timedelta(days=120)
    bought = history.loc[history["is_purchase"], ["user_id", "item_id", "at"]]
    earlier = bought.loc[
        bought["at"] < cutoff, ["user_id", "item_id"]
    ].drop_duplicates()
    later = bought.loc[bought["at"] >= cutoff, ["user_id", "item_id"]].drop_duplicates()
    owned = pd.MultiIndex.from_frame(earlier)
    later = later[
        later["user_id"].isin(earlier["user_id"])
        & ~pd.MultiIndex.from_frame(later).isin(owned)
    ]
    later_pairs = pd.MultiIndex.from_frame(later)
    earlier_of_later = earlier[earlier["user_id"].isin(later["user_id"])]

    pairs = earlier.merge(earlier, on="user_id", suffixes=("_seed", ""))
    together = (
        pairs[pairs["item_id_seed"] != pairs["item_id"]]
        .groupby(["item_id_seed", "item_id"])
        .size()
        .rename("score")
        .reset_index()
    )
    co_scores = (
        earlier_of_later.rename(columns={"item_id": "item_id_seed"})
        .merge(together, on="item_id_seed")
        .groupby(["user_id", "item_id"], as_index=False)["score"]
        .sum()
    )
    popularity = earlier["item_id"].value_counts().rename("score").reset_index()
    popular_scores = (
        later[["user_id"]].drop_duplicates().merge(popularity.head(40), how="cross")
    )

    n_users = later["user_id"].nunique()
    co_hits = later.loc[
        later_pairs.isin(_top_per_user(co_scores, owned, 10)), "user_id"
    ]
    popular_hits = later.loc[
        later_pairs.isin(_top_per_user(popular_scores, owned, 10)), "user_id"
    ]
    co_hit_rate = co_hits.nunique() / n_users
    popular_hit_rate = popular_hits.nunique() / n_users

    assert n_users > 50
    assert co_hit_rate > 2 * popular_hit_rate
    assert co_hit_rate > 0.25


def test_csv_gz_files_are_byte_identical_and_round_trip(tmp_path):
    data = sample.generate(300, seed=9)
    first = sample.write(data, tmp_path / "a", "csv.gz")
    second = sample.write(sample.generate(300, seed=9), tmp_path / "b", "csv.gz")

    assert [path.name for path in first] == ["events.csv.gz", "users.csv", "items.csv"]
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes()
    header = first[0].read_bytes()[:10]
    assert header[4:8] == b"\x00\x00\x00\x00"
    with gzip.open(first[0], "rt") as text:
        assert text.readline() == ",".join(sample.EVENT_COLUMNS) + "\n"
    events = pd.read_csv(first[0], dtype=str, keep_default_na=False)
    expected = data.events.astype(object).fillna("")
    assert (events.to_numpy() == expected.to_numpy()).all()
    items = pd.read_csv(first[2])
    assert np.allclose(items["price"], data.items["price"])


def test_parquet_files_round_trip(tmp_path):
    data = sample.generate(300, seed=9)
    paths = sample.write(data, tmp_path, "parquet")

    assert [path.name for path in paths] == [
        "events.parquet",
        "users.parquet",
        "items.parquet",
    ]
    events = pd.read_parquet(paths[0])
    pd.testing.assert_frame_equal(events, data.events, check_dtype=False)
    pd.testing.assert_frame_equal(
        pd.read_parquet(paths[2]), data.items, check_dtype=False
    )


def test_users_for_events_lands_near_the_target():
    n_users = sample.users_for_events(60_000, seed=4)
    events = sample.generate(n_users, seed=4).events

    assert 0.9 * 60_000 < len(events) < 1.1 * 60_000


def test_main_writes_a_clean_parquet_sample(tmp_path):
    sample.main(
        ["--users", "300", "--format", "parquet", "--out", str(tmp_path), "--clean"]
    )
    events = pd.read_parquet(tmp_path / "events.parquet")

    assert len(pd.read_parquet(tmp_path / "users.parquet")) == 300
    assert len(pd.read_parquet(tmp_path / "items.parquet")) == sample.MIN_ITEMS
    assert events["user_id"].str.fullmatch(r"u\d{7}").all()
    assert not events.duplicated().any()


def test_bad_arguments_are_refused_with_a_reason(tmp_path):
    with pytest.raises(ValueError, match="n_users"):
        sample.generate(0)
    with pytest.raises(ValueError, match="n_items must be at least 80"):
        sample.generate(100, n_items=20)
    with pytest.raises(ValueError, match="fmt must be one of"):
        sample.write(sample.generate(100), tmp_path, "json")
    with pytest.raises(SystemExit):
        sample.main(["--users", "10", "--events", "1000", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        sample.main(["--start", "someday", "--out", str(tmp_path)])
