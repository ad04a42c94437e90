import math

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.metrics import silhouette_score

from ulm.segments import (
    ASSIGNMENT_COLUMNS,
    METRIC_COLUMNS,
    PROFILE_BASE_COLUMNS,
    SEGMENT_ORDER_FEATURE,
    feature_matrix,
    fit_segments,
    name_segments,
    signed_log1p,
    silhouette_scores,
    transform_features,
)

E = math.e
BLOB_FEATURES = ["recency_days", "purchase_days", "net_revenue", "events_90d"]


def three_blobs() -> pd.DataFrame:
    """Loyal big spenders (a*), light buyers (b*), lapsed non-buyers (c*)."""
    loyal = {
        "recency_days": [1, 2, 1, 3, 2, 1, 2, 3],
        "purchase_days": [20, 22, 19, 21, 20, 23, 20, 21],
        "net_revenue": [1000, 1100, 950, 1050, 1000, 1200, 980, 1020],
        "events_90d": [300, 320, 290, 310, 305, 315, 295, 300],
    }
    light = {
        "recency_days": [40, 45, 42, 38, 41, 44, 39, 43],
        "purchase_days": [3, 2, 3, 4, 3, 2, 3, 3],
        "net_revenue": [60, 50, 70, 55, 65, 58, 62, 61],
        "events_90d": [40, 42, 38, 41, 39, 44, 40, 43],
    }
    lapsed = {
        "recency_days": [300, 310, 320, 305, 315, 298, 302, 311],
        "purchase_days": [0] * 8,
        "net_revenue": [0, 0, -20, 0, 0, 0, 0, 0],
        "events_90d": [2, 1, 3, 2, 1, 2, 2, 3],
    }
    frames = []
    for prefix, columns in (("c", lapsed), ("a", loyal), ("b", light)):
        frame = pd.DataFrame(columns, dtype=float)
        frame.insert(0, "user_id", [f"{prefix}{i}" for i in range(8)])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def random_users(n_users: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"u{i:04d}" for i in range(n_users)],
            "recency_days": rng.integers(0, 365, n_users).astype(float),
            "purchase_days": rng.poisson(2, n_users).astype(float),
            "net_revenue": rng.normal(100, 150, n_users),
            "events_90d": rng.lognormal(3, 1, n_users),
        }
    )


def signed_expm1_by_hand(logs: np.ndarray) -> np.ndarray:
    return np.sign(logs) * (np.exp(np.abs(logs)) - 1)


def metric(result, name: str) -> pd.Series:
    return result.metrics.loc[result.metrics["metric_name"] == name].iloc[0]


def test_signed_log1p_keeps_sign_and_uses_natural_log():
    values = np.array([-(E**2 - 1), -(E - 1), 0.0, E - 1, E**3 - 1])
    np.testing.assert_allclose(signed_log1p(values), [-2, -1, 0, 1, 3], atol=1e-12)


def test_transform_is_log_then_median_iqr_scaling():
    # Logs of the first column are 0..4: median 2, IQR 3 - 1 = 2.
    # Logs of the second are -2..2: median 0, IQR 2. The third is constant.
    logs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    matrix = np.column_stack(
        [np.expm1(logs), signed_expm1_by_hand(logs - 2), np.full(5, 7.0)]
    )

    scaled, _ = transform_features(matrix)

    expected = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(scaled[:, 0], expected, atol=1e-12)
    np.testing.assert_allclose(scaled[:, 1], expected, atol=1e-12)
    assert np.array_equal(scaled[:, 2], np.zeros(5))


def test_feature_matrix_sets_nan_and_inf_to_zero_and_counts_them():
    frame = pd.DataFrame(
        {"x": [1.0, np.nan, -0.0], "y": [np.inf, 2.0, pd.NA]}, dtype="Float64"
    )

    matrix, replaced = feature_matrix(frame, ["x", "y"])

    assert replaced == 3
    assert matrix.tolist() == [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]
    assert not np.signbit(matrix).any()


def test_silhouette_scores_match_sklearn_for_several_labellings():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 3)) * 10
    random_labels = rng.integers(0, 4, 60)
    with_singleton = np.r_[np.zeros(59, dtype=int), 1]
    by_first_axis = (points[:, 0] > 0).astype(int)

    scores = silhouette_scores(points, [random_labels, with_singleton, by_first_axis])

    for labels, score in zip(
        [random_labels, with_singleton, by_first_axis], scores, strict=True
    ):
        assert score == pytest.approx(silhouette_score(points, labels), abs=1e-5)
    one_cluster, every_point_alone = silhouette_scores(
        points[:4], [np.zeros(4, dtype=int), np.arange(4)]
    )
    assert math.isnan(one_cluster) and math.isnan(every_point_alone)


def test_three_blobs_give_k3_one_segment_per_blob_ordered_by_revenue():
    result = fit_segments(three_blobs(), BLOB_FEATURES)

    assert result.k == 3
    segment_of = result.assignments.set_index("user_id")["segment_id"]
    blob = segment_of.index.str[0]
    assert segment_of.groupby(blob).nunique().tolist() == [1, 1, 1]
    # Highest net_revenue centroid gets id 0: loyal (a), light (b), lapsed (c).
    assert segment_of.groupby(blob).first().to_dict() == {"a": 0, "b": 1, "c": 2}

    selection = result.metrics.loc[
        result.metrics["metric_name"].str.startswith("k_selection")
    ]
    assert selection["metric_name"].tolist() == [
        f"k_selection_k{k}" for k in range(2, 9)
    ]
    assert selection["note"].str.slice(0, 4).tolist() == [
        f"k={k}:" for k in range(2, 9)
    ]
    assert selection["metric_value"].idxmax() == selection.index[1]
    assert selection["note"].iloc[1].endswith("; chosen")
    assert metric(result, "silhouette")["metric_value"] > 0.8


def test_profiles_sizes_and_real_unit_statistics():
    result = fit_segments(three_blobs(), BLOB_FEATURES)
    profiles = result.profiles

    assert profiles.columns.tolist()[:4] == PROFILE_BASE_COLUMNS
    assert profiles.columns.tolist()[4:6] == [
        "recency_days_mean",
        "recency_days_median",
    ]
    assert profiles["segment_id"].tolist() == [0, 1, 2]
    assert profiles["users"].tolist() == [8, 8, 8]
    assert profiles["users"].sum() == len(three_blobs())
    assert profiles["share_of_users"].tolist() == pytest.approx([1 / 3] * 3)
    # Sorted revenues of the loyal blob: 950 980 1000 1000 1020 1050 1100 1200.
    assert profiles["net_revenue_median"].tolist() == [1010.0, 60.5, 0.0]
    assert profiles["net_revenue_mean"].iloc[2] == -2.5
    assert profiles["purchase_days_median"].tolist() == [20.5, 3.0, 0.0]
    assert profiles["recency_days_median"].tolist() == [2.0, 41.5, 307.5]


def test_blob_names_describe_their_blob():
    result = fit_segments(three_blobs(), BLOB_FEATURES)
    names = result.profiles["segment_name"].tolist()

    # The light blob holds the overall medians, so all its gaps are 0. Gaps of
    # the loyal blob: recency -0.60, purchases +0.55, events +0.45, revenue +0.41;
    # of the lapsed blob: events -0.60, revenue -0.60, purchases -0.46, recency
    # +0.45 (in IQRs of the log-scaled feature; 0.5 is needed to count).
    assert names == [
        "Recent frequent buyers",
        "Typical users",
        "Low-engagement, low-spend users",
    ]
    first_names = result.assignments.groupby("segment_id")["segment_name"].first()
    assert first_names.tolist() == names


def test_ids_and_everything_else_unchanged_when_rows_are_shuffled():
    users = random_users(300, seed=1)
    columns = [c for c in users.columns if c != "user_id"]

    # sample_size below the row count: the seeded sample must not depend on order.
    original = fit_segments(users, columns, seed=7, sample_size=120)
    shuffled = fit_segments(
        users.sample(frac=1.0, random_state=5), columns, seed=7, sample_size=120
    )

    assert_frame_equal(original.assignments, shuffled.assignments)
    assert_frame_equal(original.profiles, shuffled.profiles)
    assert_frame_equal(original.metrics, shuffled.metrics)
    assert original.assignments["user_id"].is_monotonic_increasing
    assert "sample of 120 of 300 users" in metric(original, "silhouette")["note"]


def test_same_input_same_output():
    users = random_users(300, seed=2)
    columns = [c for c in users.columns if c != "user_id"]

    first = fit_segments(users, columns, k=5, seed=3)
    second = fit_segments(users, columns, k=5, seed=3)

    assert_frame_equal(first.assignments, second.assignments)
    assert_frame_equal(first.profiles, second.profiles)
    assert_frame_equal(first.metrics, second.metrics)
    assert first.assignments.columns.tolist() == ASSIGNMENT_COLUMNS
    assert first.assignments["segment_id"].dtype == np.int64


def test_names_are_unique_and_non_empty_with_many_segments():
    users = random_users(400, seed=3)
    columns = [c for c in users.columns if c != "user_id"]

    result = fit_segments(users, columns, k=8)

    names = result.profiles["segment_name"]
    assert result.k == 8
    assert names.is_unique
    assert (names.str.len() > 0).all()


def test_segment_order_ties_broken_by_size_then_first_feature_fallback():
    # Two groups with net_revenue 0 tie on the order feature; the larger goes first.
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i:02d}" for i in range(13)],
            "net_revenue": [0.0] * 6 + [0.0] * 4 + [500.0] * 3,
            "events_90d": [100.0] * 6 + [1.0] * 4 + [10.0] * 3,
        }
    )
    result = fit_segments(frame, ["events_90d", "net_revenue"], k=3)
    segment_ids = result.assignments["segment_id"].tolist()
    assert segment_ids == [1] * 6 + [2] * 4 + [0] * 3

    # Without net_revenue the first feature column (events_90d) orders the ids.
    result = fit_segments(frame, ["events_90d"], k=3)
    assert result.assignments["segment_id"].tolist() == [0] * 6 + [2] * 4 + [1] * 3
    assert SEGMENT_ORDER_FEATURE == "net_revenue"


def test_constant_column_is_all_zero_after_scaling_and_harmless():
    users = three_blobs().assign(tenure_days=30.0)
    columns = [*BLOB_FEATURES, "tenure_days"]

    result = fit_segments(users, columns)

    assert result.k == 3
    assert np.isfinite(result.assignments["distance_to_centroid"]).all()
    assert result.profiles["tenure_days_median"].tolist() == [30.0, 30.0, 30.0]
    scaled, _ = transform_features(users[columns].to_numpy())
    assert np.array_equal(scaled[:, -1], np.zeros(len(users)))


def test_one_user_is_one_typical_segment_without_silhouette():
    frame = pd.DataFrame({"user_id": ["u1"], "net_revenue": [12.0], "events_90d": [3]})

    result = fit_segments(frame, ["net_revenue", "events_90d"])

    assert result.k == 1
    assert result.assignments.to_dict("records") == [
        {
            "user_id": "u1",
            "segment_id": 0,
            "segment_name": "Typical users",
            "distance_to_centroid": 0.0,
        }
    ]
    assert result.profiles[["users", "share_of_users", "net_revenue_median"]].to_dict(
        "records"
    ) == [{"users": 1, "share_of_users": 1.0, "net_revenue_median": 12.0}]
    silhouette = metric(result, "silhouette")
    assert math.isnan(silhouette["metric_value"])
    assert silhouette["note"] == "not defined for a single segment"


def test_two_users_with_k4_get_two_segments():
    frame = pd.DataFrame(
        {"user_id": ["low", "high"], "net_revenue": [5.0, 900.0], "events_90d": [1, 50]}
    )

    result = fit_segments(frame, ["net_revenue", "events_90d"], k=4)

    assert result.k == 2
    assignments = result.assignments.set_index("user_id")
    assert assignments["segment_id"].to_dict() == {"high": 0, "low": 1}
    assert assignments["distance_to_centroid"].tolist() == pytest.approx([0, 0])
    assert "reduced to the 2 distinct" in metric(result, "k")["note"]
    assert math.isnan(metric(result, "silhouette")["metric_value"])


def test_identical_rows_give_one_segment():
    frame = pd.DataFrame(
        {
            "user_id": list("edcba"),
            "net_revenue": [40.0] * 5,
            "purchase_days": [2.0] * 5,
        }
    )

    result = fit_segments(frame, ["net_revenue", "purchase_days"])

    assert result.k == 1
    assert result.assignments["user_id"].tolist() == list("abcde")
    assert result.assignments["segment_id"].tolist() == [0] * 5
    assert metric(result, "inertia")["metric_value"] == 0.0
    assert math.isnan(metric(result, "silhouette")["metric_value"])
    assert result.profiles["users"].tolist() == [5]


def test_empty_input_gives_empty_frames_with_columns():
    frame = pd.DataFrame({"user_id": pd.Series([], dtype=str), "net_revenue": []})

    result = fit_segments(frame, ["net_revenue"])

    assert result.k == 0
    assert result.assignments.empty
    assert result.assignments.columns.tolist() == ASSIGNMENT_COLUMNS
    assert result.profiles.empty
    assert result.profiles.columns.tolist() == [
        *PROFILE_BASE_COLUMNS,
        "net_revenue_mean",
        "net_revenue_median",
    ]
    assert result.metrics.columns.tolist() == METRIC_COLUMNS
    assert metric(result, "k")["metric_value"] == 0.0
    assert metric(result, "k")["note"] == "no users to segment"


def test_missing_values_count_as_zero():
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "net_revenue": [np.nan, 0.0, 9.0],
            "events_90d": [4.0, np.nan, 4.0],
        }
    )

    result = fit_segments(frame, ["net_revenue", "events_90d"], k=1)

    profile = result.profiles.iloc[0]
    assert profile["net_revenue_mean"] == 3.0
    assert profile["net_revenue_median"] == 0.0
    assert profile["events_90d_median"] == 4.0
    assert np.isfinite(result.assignments["distance_to_centroid"]).all()


def test_name_rule_picks_the_two_largest_gaps_with_fixed_words():
    # Every column has logs 0, 0.5, 1, 1.5, 2: median log 1 and IQR 1, so a
    # segment median m has gap log1p(m) - 1.
    columns = ["recency_days", "purchase_days", "net_revenue", "page_views"]
    reference = np.repeat(np.expm1([0.0, 0.5, 1.0, 1.5, 2.0])[:, None], 4, axis=1)
    _, scaler = transform_features(reference)
    gaps = np.array(
        [
            [-0.2, 1.0, 1.5, 0.0],  # revenue +1.5, purchases +1.0
            [-1.0, -0.6, 0.0, 0.0],  # recency -1.0, purchases -0.6 (not zero)
            [2.0, -1.0, 0.0, 0.0],  # recency +2.0, purchases at zero
            [0.3, -0.4, 0.2, 0.0],  # nothing reaches 0.5
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.8],  # a feature without its own words
        ]
    )

    names = name_segments(
        np.expm1(gaps + 1.0), np.expm1(np.ones(4)), columns, scaler=scaler
    )

    assert names == [
        "High-spend frequent buyers",
        "Recent occasional buyers",
        "Dormant non-buyers",
        "Typical users",
        "Typical users (2)",
        "High page views users",
    ]


def test_bad_input_is_named():
    users = random_users(5, seed=4)
    with pytest.raises(ValueError, match="repeated user_id"):
        fit_segments(pd.concat([users, users.head(1)]), ["net_revenue"])
    with pytest.raises(ValueError, match=r"\['spend'\] are not in"):
        fit_segments(users, ["spend"])
    with pytest.raises(ValueError, match="'auto'"):
        fit_segments(users, ["net_revenue"], k="best")
    with pytest.raises(ValueError, match="'auto'"):
        fit_segments(users, ["net_revenue"], k=0)
    assert fit_segments(users, ["net_revenue"], k="2").k == 2
