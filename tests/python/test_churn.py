import re

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ulm import occlusion
from ulm.churn import (
    DAILY_COLUMNS,
    FEATURE_COLUMNS,
    SCORE_COLUMNS,
    bgnbd_no_activity_probability,
    build_training_rows,
    holdout_split,
    lift_at_top_fraction,
    occlusion_contributions,
    predicted_log_odds_drops,
    recency_bucket_rates,
    risk_band,
    score_churn,
    snapshot_features,
    training_cutoffs,
)


def day_row(user_id: str, activity_date: str, **values: float) -> dict:
    row = {
        "user_id": user_id,
        "activity_date": pd.Timestamp(activity_date),
        "events": 1,
        "sessions": 1,
        "views": 0,
        "add_to_carts": 0,
        "purchases": 0,
        "refunds": 0,
        "revenue": 0.0,
        "refunded_revenue": 0.0,
        "distinct_items": 1,
    }
    row.update(values)
    return row


@pytest.fixture
def hand_daily() -> pd.DataFrame:
    """Users around the cutoff 2024-04-01 (last observed day 2024-03-31)."""
    return pd.DataFrame(
        [
            day_row(
                "a",
                "2024-01-10",
                events=5,
                add_to_carts=1,
                purchases=1,
                revenue=100.0,
                refunds=1,
                refunded_revenue=20.0,
            ),
            day_row("a", "2024-02-15", events=2),
            day_row(
                "a", "2024-03-20", events=3, add_to_carts=2, purchases=1, revenue=50.0
            ),
            day_row("a", "2024-03-28", events=4, sessions=2),
            day_row("a", "2024-04-05", events=9, purchases=1, revenue=30.0),
            day_row("b", "2024-01-05"),
            day_row("c", "2023-12-01"),
            day_row("e", "2024-01-01"),
            day_row("f", "2024-01-02"),
            day_row("d", "2023-10-01", purchases=1, revenue=10.0),
            day_row("d", "2024-03-31"),
            day_row("d", "2024-05-01"),
        ]
    )


def behavioural_daily(n_users: int, n_days: int, seed: int) -> pd.DataFrame:
    """Buyers visit rarely but stay for long; browsers visit often and leave soon.

    Recency alone mixes up a quiet buyer with a browser who has left; purchase
    history and the usual gap between visits tell them apart.
    """
    rng = np.random.default_rng(seed)
    buyer = rng.random(n_users) < 0.5
    start = rng.integers(0, n_days - 60, n_users)
    life = np.where(buyer, rng.exponential(600, n_users), rng.exponential(30, n_users))
    end = np.minimum(start + life.astype(np.int64) + 1, n_days)
    rate = np.where(
        buyer, rng.uniform(0.05, 0.15, n_users), rng.uniform(0.3, 0.6, n_users)
    )
    user = np.repeat(np.arange(n_users), n_days)
    day = np.tile(np.arange(n_days), n_users)
    alive = (day >= start[user]) & (day < end[user])
    active = alive & (rng.random(len(day)) < rate[user])
    user, day = user[active], day[active]
    n = len(user)
    purchases = np.where(buyer[user], rng.binomial(1, 0.3, n), 0)
    return pd.DataFrame(
        {
            "user_id": np.char.add("u", np.char.zfill(user.astype(str), 5)),
            "activity_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(day, unit="D"),
            "events": 1 + rng.poisson(3, n),
            "sessions": np.ones(n, dtype=np.int64),
            "views": rng.poisson(2, n),
            "add_to_carts": purchases + rng.binomial(1, 0.3, n),
            "purchases": purchases,
            "refunds": np.zeros(n, dtype=np.int64),
            "revenue": purchases * 40.0,
            "refunded_revenue": np.zeros(n),
            "distinct_items": 1 + rng.poisson(1, n),
        }
    )


@pytest.fixture(scope="module")
def synthetic_daily() -> pd.DataFrame:
    return behavioural_daily(n_users=1500, n_days=200, seed=7)


@pytest.fixture(scope="module")
def synthetic_result(synthetic_daily):
    return score_churn(synthetic_daily, "2024-07-18")


def metric(result, model: str, variant: str, name: str) -> float:
    m = result.metrics
    row = m[
        (m["model"] == model) & (m["variant"] == variant) & (m["metric_name"] == name)
    ]
    assert len(row) == 1, (model, variant, name)
    return float(row["metric_value"].iloc[0])


def note(result, model: str, name: str = "status") -> str:
    m = result.metrics
    return m[(m["model"] == model) & (m["metric_name"] == name)]["note"].iloc[0]


def test_snapshot_features_by_hand(hand_daily):
    features = snapshot_features(hand_daily, "2024-04-01").set_index("user_id")

    # the 90-day lookback starts on 2024-01-02: f is in, c and e are out
    assert list(features.index) == ["a", "b", "d", "f"]
    assert list(features.columns) == list(FEATURE_COLUMNS)
    a, b, d = features.loc["a"], features.loc["b"], features.loc["d"]

    assert a["days_since_last_active"] == 3  # 03-28 -> 03-31
    assert (a["active_days_7d"], a["active_days_30d"], a["active_days_90d"]) == (
        1,
        2,
        4,
    )
    # last 30 days: 03-20, 03-28; days 31-60 back: 02-15
    assert a["activity_trend_30d"] == 2 - 1
    assert (a["events_30d"], a["events_90d"], a["sessions_30d"]) == (7, 14, 3)
    assert (a["purchases_90d"], a["add_to_carts_90d"], a["refunds_90d"]) == (2, 3, 1)
    assert a["cart_to_purchase_ratio_90d"] == pytest.approx(2 / 3)
    assert a["revenue_90d"] == pytest.approx(100 - 20 + 50)
    assert a["lifetime_net_revenue"] == pytest.approx(130.0)
    assert a["days_since_last_purchase"] == 11
    assert a["tenure_days"] == 81  # 2024-01-10 -> 2024-03-31
    assert a["lifetime_active_days"] == 4
    assert a["mean_gap_days"] == pytest.approx(78 / 3)

    assert b["days_since_last_active"] == 86
    assert (b["active_days_30d"], b["active_days_90d"]) == (0, 1)
    assert b["activity_trend_30d"] == 0
    assert b["days_since_last_purchase"] == 365  # never purchased
    assert b["mean_gap_days"] == 86  # single day: the open gap

    assert d["days_since_last_active"] == 0
    assert d["active_days_7d"] == 1
    assert d["tenure_days"] == 182  # 2023-10-01 -> 2024-03-31
    assert (d["purchases_90d"], d["lifetime_purchases"]) == (0, 1)
    assert d["days_since_last_purchase"] == 182
    assert d["lifetime_net_revenue"] == pytest.approx(10.0)
    assert d["mean_gap_days"] == 182


def test_lookback_controls_eligibility(hand_daily):
    short = snapshot_features(hand_daily, "2024-04-01", lookback_days=30)
    assert list(short["user_id"]) == ["a", "d"]
    long = snapshot_features(hand_daily, "2024-04-01", lookback_days=200)
    assert list(long["user_id"]) == ["a", "b", "c", "d", "e", "f"]


def test_labels_by_hand(hand_daily):
    rows = build_training_rows(hand_daily, ["2024-04-01"], horizon_days=30)
    rows = rows.set_index("user_id")
    # a comes back on 04-05; d's next day 05-01 is just outside [04-01, 05-01)
    assert rows["churned"].to_dict() == {"a": 0, "b": 1, "d": 1, "f": 1}
    assert rows.loc["a", "future_revenue"] == pytest.approx(30.0)
    assert rows.loc["d", "future_revenue"] == 0.0
    # previous window [03-02, 04-01)
    assert rows.loc["a", "previous_revenue"] == pytest.approx(50.0)
    assert (rows["cutoff"] == pd.Timestamp("2024-04-01")).all()

    longer = build_training_rows(hand_daily, ["2024-04-01"], horizon_days=31)
    assert longer.set_index("user_id").loc["d", "churned"] == 0


def test_duplicate_user_days_are_summed(hand_daily):
    doubled = pd.concat([hand_daily, hand_daily.iloc[[3]]], ignore_index=True)
    features = snapshot_features(doubled, "2024-04-01").set_index("user_id")
    # a's 03-28 row counted twice in sums, once as an active day
    assert features.loc["a", "events_30d"] == 7 + 4
    assert features.loc["a", "active_days_30d"] == 2
    assert features.loc["a", "lifetime_active_days"] == 4


def random_daily(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    users = rng.integers(0, 80, n)
    days = rng.integers(0, 240, n)
    frame = pd.DataFrame(
        {
            "user_id": [f"user{u}" for u in users],
            "activity_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(days, unit="D"),
            "events": rng.integers(1, 20, n),
            "sessions": rng.integers(1, 4, n),
            "views": rng.integers(0, 10, n),
            "add_to_carts": rng.integers(0, 3, n),
            "purchases": rng.binomial(1, 0.2, n),
            "refunds": rng.binomial(1, 0.05, n),
            "revenue": rng.gamma(2.0, 17.3, n).round(2),
            "refunded_revenue": rng.binomial(1, 0.05, n) * 9.99,
            "distinct_items": rng.integers(1, 6, n),
        }
    )
    return frame.drop_duplicates(["user_id", "activity_date"]).reset_index(drop=True)


@pytest.mark.parametrize("cutoff", ["2024-02-10", "2024-05-17", "2024-08-01"])
def test_features_are_point_in_time(cutoff):
    daily = random_daily(seed=3)
    shuffled = daily.sample(frac=1.0, random_state=1)
    cut = daily[daily["activity_date"] < pd.Timestamp(cutoff)]

    full = snapshot_features(shuffled, cutoff)
    only_past = snapshot_features(cut, cutoff)
    assert len(full) > 10
    pd.testing.assert_frame_equal(full, only_past, check_exact=True)


def test_training_rows_match_snapshots():
    daily = random_daily(seed=5)
    cutoffs = ["2024-04-01", "2024-05-01"]
    rows = build_training_rows(daily, cutoffs, horizon_days=30)
    for cutoff in cutoffs:
        at_cutoff = rows[rows["cutoff"] == pd.Timestamp(cutoff)]
        expected = snapshot_features(daily, cutoff)
        pd.testing.assert_frame_equal(
            at_cutoff[expected.columns].reset_index(drop=True), expected
        )


def test_training_cutoffs_and_holdout_split():
    cutoffs = training_cutoffs("2024-01-01", "2024-12-30", 30, 90, 6)
    expected = ["2024-07-04", "2024-08-03", "2024-09-02", "2024-10-02"]
    expected += ["2024-11-01", "2024-12-01"]
    assert cutoffs == [pd.Timestamp(c) for c in expected]

    # a short history keeps only cutoffs from first date + ceil(90 / 3) days on
    short = training_cutoffs("2024-10-02", "2024-12-30", 30, 90, 6)
    assert short == [pd.Timestamp("2024-11-01"), pd.Timestamp("2024-12-01")]
    shorter = training_cutoffs("2024-10-03", "2024-12-30", 30, 90, 6)
    assert shorter == [pd.Timestamp("2024-12-01")]
    assert training_cutoffs("2024-11-15", "2024-12-30", 30, 90, 6) == []

    stepped = training_cutoffs("2024-01-01", "2024-12-30", 30, 90, 6, 10)
    train, evaluation = holdout_split(stepped, 30)
    assert evaluation == pd.Timestamp("2024-12-01")
    assert train == [
        pd.Timestamp(c) for c in ["2024-10-12", "2024-10-22", "2024-11-01"]
    ]
    assert all(c + pd.Timedelta(days=30) <= evaluation for c in train)


def test_holdout_trains_only_on_labels_before_the_evaluation_cutoff(
    synthetic_daily, synthetic_result
):
    cutoffs = training_cutoffs("2024-01-01", "2024-07-18", 30, 90, 6)
    train_cutoffs, evaluation = holdout_split(cutoffs, 30)
    assert evaluation == pd.Timestamp("2024-06-19")
    rows = build_training_rows(synthetic_daily, cutoffs, horizon_days=30)
    n_train = int(rows["cutoff"].isin(train_cutoffs).sum())
    n_test = int((rows["cutoff"] == evaluation).sum())
    assert metric(synthetic_result, "churn", "classifier", "rows_train") == n_train
    assert metric(synthetic_result, "churn", "classifier", "rows_test") == n_test
    assert metric(synthetic_result, "predicted_revenue", "regressor", "rows_train") == (
        n_train
    )
    assert metric(synthetic_result, "churn", "classifier", "status") == len(rows)


def test_rows_after_as_of_date_change_nothing():
    daily = behavioural_daily(n_users=400, n_days=200, seed=11)
    before = daily[daily["activity_date"] <= pd.Timestamp("2024-06-30")]
    with_future = score_churn(daily, "2024-06-30")
    without = score_churn(before, "2024-06-30")
    pd.testing.assert_frame_equal(with_future.scores, without.scores)
    pd.testing.assert_frame_equal(with_future.metrics, without.metrics)


def test_classifier_beats_recency_when_behaviour_matters(synthetic_result):
    classifier = metric(synthetic_result, "churn", "classifier", "roc_auc")
    recency = metric(synthetic_result, "churn", "recency", "roc_auc")
    bgnbd = metric(synthetic_result, "churn", "bgnbd", "roc_auc")
    assert classifier > 0.93
    assert recency < 0.93
    assert classifier - recency > 0.02
    assert recency < bgnbd < 1.0  # BG/NBD also sees visit frequency
    assert metric(synthetic_result, "churn", "classifier", "brier") < metric(
        synthetic_result, "churn", "recency", "brier"
    )
    base_rate = metric(synthetic_result, "churn", "classifier", "base_rate")
    lift = metric(synthetic_result, "churn", "classifier", "lift_top_decile")
    assert lift == pytest.approx(1 / base_rate, rel=0.05)  # top decile all churn
    assert metric(synthetic_result, "predicted_revenue", "regressor", "mae") < metric(
        synthetic_result, "predicted_revenue", "previous_window", "mae"
    )


def test_scores_shape_bands_and_drivers(synthetic_result):
    scores = synthetic_result.scores
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert scores["user_id"].is_unique and scores["user_id"].is_monotonic_increasing
    assert (scores["model_variant"] == "classifier").all()
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["predicted_revenue"] >= 0).all()
    assert (scores["risk_band"] == risk_band(scores["churn_probability"])).all()
    assert note(synthetic_result, "churn").startswith("ok: trained on")

    pattern = re.compile(r"^([a-z0-9_]+)=(-?[0-9.]+) \(\+([0-9]+\.[0-9]{2})\)$")
    high = scores[scores["risk_band"] == "high"]
    assert high["driver_1"].notna().all()
    parsed = high["driver_1"].str.extract(pattern)
    assert parsed.notna().all().all()
    assert set(parsed[0]) <= set(FEATURE_COLUMNS)
    both = scores.dropna(subset=["driver_1", "driver_2"])
    first = both["driver_1"].str.extract(pattern)[2].astype(float)
    second = both["driver_2"].str.extract(pattern)[2].astype(float)
    assert (first >= second).all()
    # a driver slot is empty only after the earlier slots
    assert not (scores["driver_1"].isna() & scores["driver_2"].notna()).any()


def test_drivers_only_above_the_requested_probability():
    daily = behavioural_daily(n_users=400, n_days=200, seed=11)
    result = score_churn(daily, "2024-06-30", drivers_min_probability=0.6)
    scores = result.scores
    assert (scores["model_variant"] == "classifier").all()
    assert scores.loc[scores["churn_probability"] < 0.6, "driver_1"].isna().all()
    assert scores.loc[scores["churn_probability"] >= 0.6, "driver_1"].notna().any()


def test_scoring_is_deterministic(synthetic_daily, synthetic_result):
    again = score_churn(synthetic_daily, "2024-07-18")
    pd.testing.assert_frame_equal(again.scores, synthetic_result.scores)
    pd.testing.assert_frame_equal(again.metrics, synthetic_result.metrics)


def test_risk_band_thresholds():
    bands = risk_band(np.array([0.0, 0.2999, 0.3, 0.5999, 0.6, 1.0]))
    assert list(bands) == ["low", "low", "medium", "medium", "high", "high"]


def test_recency_bucket_rates_by_hand():
    rates = recency_bucket_rates(np.zeros(5), np.array([0, 0, 0, 0, 1]), 30)
    # bucket 0: (1 churner + 5 pseudo-rows x ramp 0) / (5 + 5); others: the ramp
    # at the bucket's lower edge, kept non-decreasing
    expected = [0.1, 0.1, 0.1, 7 / 30, 14 / 30, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(rates, expected)


def test_lift_shares_ties_at_the_boundary():
    labels = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    tied = np.array([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    # top 1 of 10: half of the two tied rows' one churner, over base rate 0.2
    assert lift_at_top_fraction(labels, tied) == pytest.approx(2.5)
    ordered = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert lift_at_top_fraction(labels, ordered) == pytest.approx(5.0)


def test_bgnbd_no_activity_probability_by_hand():
    params = {"r": 2.0, "alpha": 10.0, "a": 1.0, "b": 1.0}
    result = bgnbd_no_activity_probability(
        frequency=np.array([0.0, 1.0]),
        age=np.array([20.0, 20.0]),
        horizon_days=30,
        params=params,
        probability_alive=np.array([1.0, 0.5]),
    )
    # (30 / 60) ** 2 and 0.5 + 0.5 * (30 / 60) ** 3
    np.testing.assert_allclose(result, [0.25, 0.5625])


def test_fallback_ramp_without_labelled_cutoffs():
    daily = pd.DataFrame(
        [
            day_row("x", "2024-03-01"),
            day_row("x", "2024-03-20"),
            day_row("y", "2024-03-05"),
            day_row("z", "2024-03-10", purchases=1, revenue=25.0),
        ]
    )
    result = score_churn(daily, "2024-03-20")
    scores = result.scores.set_index("user_id")
    assert (scores["model_variant"] == "baseline_recency").all()
    # ramp: days since last active / 30
    np.testing.assert_allclose(scores["churn_probability"], [0.0, 0.5, 10 / 30])
    assert list(scores["risk_band"]) == ["low", "medium", "medium"]
    assert scores.loc["y", "driver_1"] == "days_since_last_active=15"
    assert pd.isna(scores.loc["x", "driver_1"])
    # revenue falls back to the previous 30 days, here z's 25.0
    np.testing.assert_allclose(scores["predicted_revenue"], [0.0, 0.0, 25.0])
    assert "no labelled training rows" in note(result, "churn")
    assert metric(result, "churn", "baseline_recency", "status") == 0
    assert np.isnan(metric(result, "churn", "classifier", "roc_auc"))
    assert "no labelled evaluation cutoff" in note(result, "churn", "roc_auc")


def test_fallback_on_tiny_data_uses_bucket_rates(hand_daily):
    result = score_churn(hand_daily, "2024-05-01")
    scores = result.scores
    assert (scores["model_variant"] == "baseline_recency").all()
    assert "< min_training_rows=200" in note(result, "churn")
    assert note(result, "predicted_revenue").startswith("fallback:")
    # only a and d are eligible; d was active on the as-of day (bucket 0)
    assert list(scores["user_id"]) == ["a", "d"]
    cutoffs = training_cutoffs("2023-10-01", "2024-05-01", 30, 90, 6)
    rows = build_training_rows(hand_daily, cutoffs)
    rates = recency_bucket_rates(
        rows["days_since_last_active"].to_numpy(), rows["churned"].to_numpy(), 30
    )
    # a: 26 days since 04-05 -> bucket [14, 30)
    np.testing.assert_allclose(scores["churn_probability"], [rates[4], rates[0]])


def test_fallback_on_a_single_class():
    days = pd.date_range("2024-01-01", "2024-05-31", freq="D")
    daily = pd.DataFrame(
        [day_row(f"u{u}", str(d.date())) for u in range(5) for d in days]
    )
    result = score_churn(daily, "2024-05-31", min_training_rows=10)
    assert (result.scores["model_variant"] == "baseline_recency").all()
    assert "single class (churned=0)" in note(result, "churn")
    # nobody ever churned and everyone is active: bucket 0 has rate 0
    assert (result.scores["churn_probability"] == 0).all()
    assert (result.scores["risk_band"] == "low").all()
    assert "single class" in note(result, "churn", "roc_auc")
    assert "no training row has positive future revenue" in note(
        result, "predicted_revenue"
    )


def test_empty_input():
    empty = pd.DataFrame({c: [] for c in DAILY_COLUMNS})
    result = score_churn(empty, "2024-01-01")
    assert list(result.scores.columns) == list(SCORE_COLUMNS)
    assert len(result.scores) == 0
    assert list(result.metrics["metric_name"]) == ["status", "status"]
    assert result.metrics["note"].str.startswith("empty input").all()
    assert len(snapshot_features(empty, "2024-01-01")) == 0
    assert len(build_training_rows(empty, ["2024-01-01"])) == 0


def test_no_eligible_user_at_the_scoring_cutoff(hand_daily):
    result = score_churn(hand_daily, "2025-06-01", min_training_rows=1)
    assert len(result.scores) == 0
    assert list(result.scores.columns) == list(SCORE_COLUMNS)
    assert "no eligible users" in note(result, "churn")


def occlusion_problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(3000, 6))
    features[:, 2] = rng.integers(0, 4, size=3000)  # ties with the reference
    features[rng.random(3000) < 0.05, 4] = np.nan
    logit = 1.5 * features[:, 0] - features[:, 1] * features[:, 2] + 0.5
    labels = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    return features, labels


def test_tree_walk_drops_equal_predicting_the_occluded_rows():
    features, labels = occlusion_problem(seed=5)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    model.fit(features, labels)
    reference = np.nanmedian(features, axis=0)
    scored = features[:500]

    probability, drops = occlusion_contributions(
        model, scored, reference, min_probability=0.4
    )
    explained = probability >= 0.4
    expected = predicted_log_odds_drops(
        model, scored, reference, probability, explained
    )

    assert occlusion.tree_arrays(model, scored.shape[1]) is not None
    np.testing.assert_allclose(drops, expected, rtol=0, atol=1e-9)
    assert (drops[~explained] == 0).all()
    assert (drops[scored[:, 2] == reference[2], 2] == 0).all()
    # the signal features move the odds; feature 5 is noise the trees barely use
    assert np.abs(drops[explained, 0]).mean() > 0.3
    assert np.abs(drops[explained, 0]).mean() > np.abs(drops[explained, 5]).mean()


def test_a_model_with_categorical_splits_is_predicted_per_feature():
    features, labels = occlusion_problem(seed=6)
    features[:, 2] = np.abs(features[:, 2])
    model = HistGradientBoostingClassifier(
        max_iter=20, random_state=0, categorical_features=[2]
    )
    model.fit(features, labels)
    reference = np.nanmedian(features, axis=0)

    assert occlusion.tree_arrays(model, features.shape[1]) is None
    probability, drops = occlusion_contributions(model, features[:200], reference)
    expected = predicted_log_odds_drops(
        model, features[:200], reference, probability, np.ones(200, dtype=bool)
    )
    np.testing.assert_array_equal(drops, expected)
    assert np.abs(drops[:, 0]).max() > 0
