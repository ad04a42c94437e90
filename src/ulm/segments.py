"""Behaviour segments: KMeans on per-user activity and spend features.

Rules (the dbt docs of ml_user_segments and ml_segment_profiles repeat them):

- Missing values: NaN (and +/-inf) in a feature count as 0, in the model and in
  the profile statistics. Upstream marts should fill a feature where 0 is not the
  right "nothing happened" value.
- Transform: signed log1p, sign(x) * log1p(|x|), tames skew and keeps negative
  values such as net revenue after refunds; then robust scaling per feature,
  (x - median) / IQR. A feature with IQR 0 is only centred, so a constant feature
  becomes all zeros and never NaN or inf.
- Users are put in user_id order first, so the row order of the input does not
  change any result; every random step uses `seed`.
- k: a fixed k (an integer or a digit string), or "auto". Auto fits KMeans for
  every k in [k_min, k_max] on one seeded sample of at most sample_size users and
  keeps the k with the highest silhouette on that sample (the smaller k on a
  tie). k never exceeds the number of distinct feature rows: with fewer distinct
  rows than a fixed k, k becomes that number; auto caps k_max (and k_min) there.
  One distinct row (one user, or identical users) gives one segment.
- The final KMeans (k-means++, n_init starts, random_state=seed) is fitted on all
  users. distance_to_centroid is the euclidean distance to the user's segment
  centroid in the scaled space.
- Silhouette: euclidean in the scaled space, on the same seeded sample; NaN, with
  a note, when it is not defined (one segment, or as many segments as users).
- Segment ids: 0..k-1 by descending centroid of SEGMENT_ORDER_FEATURE (the first
  feature when that one is absent), ties by users descending, then by the centroid
  vector compared feature by feature, larger first. The transform is monotonic,
  so the order is the same in real units as in scaled space.
- Names: each segment's median of a feature (real units) is compared with the
  median over all users; the gap is measured after the transform, i.e. in IQRs of
  the log-scaled feature. Features whose gap is at least 0.5 are distinctive; the
  one or two largest gaps name the segment with fixed words per feature and
  direction (SEGMENT_NAME_WORDS), "Typical users" when none is distinctive.
  A low purchase_days whose segment median is 0 reads "non-buyers". Adjectives
  come first, joined by ", ", then the noun ("users" unless a buyer phrase was
  picked), e.g. "High-spend frequent buyers", "Dormant, low-engagement users".
  A feature without its own words reads "high <feature name>" / "low ...".
  A repeated name gets " (2)", " (3)", ... in segment id order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import RobustScaler
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

SEGMENT_ORDER_FEATURE = "net_revenue"

MODEL_NAME = "segments"
VARIANT_NAME = "kmeans"

ASSIGNMENT_COLUMNS = ["user_id", "segment_id", "segment_name", "distance_to_centroid"]
PROFILE_BASE_COLUMNS = ["segment_id", "segment_name", "users", "share_of_users"]
METRIC_COLUMNS = ["model", "variant", "metric_name", "metric_value", "note"]

DISTINCTIVE_GAP = 0.5
TYPICAL_SEGMENT_NAME = "Typical users"
DEFAULT_HEAD_NOUN = "users"

# (feature, direction) -> (words, is_head_noun). Head nouns end the name; the
# other words are adjectives placed before it. "none" is used instead of "low"
# when the segment median is exactly 0.
SEGMENT_NAME_WORDS: dict[str, dict[str, tuple[str, bool]]] = {
    "recency_days": {"high": ("dormant", False), "low": ("recent", False)},
    "purchase_days": {
        "high": ("frequent buyers", True),
        "low": ("occasional buyers", True),
        "none": ("non-buyers", True),
    },
    "net_revenue": {"high": ("high-spend", False), "low": ("low-spend", False)},
    "events_90d": {
        "high": ("highly engaged", False),
        "low": ("low-engagement", False),
    },
    "active_days_90d": {
        "high": ("often active", False),
        "low": ("rarely active", False),
    },
    "sessions_90d": {
        "high": ("frequent-visit", False),
        "low": ("infrequent-visit", False),
    },
    "tenure_days": {"high": ("long-tenured", False), "low": ("new", False)},
    "distinct_items": {
        "high": ("wide-ranging", False),
        "low": ("narrow-range", False),
    },
}

_SILHOUETTE_CHUNK_ROWS = 128


@dataclass(frozen=True)
class SegmentResult:
    assignments: pd.DataFrame
    profiles: pd.DataFrame
    metrics: pd.DataFrame
    k: int


@dataclass(frozen=True)
class _KSelection:
    k: int
    note: str
    candidate_rows: list[tuple[str, float, str]]


@dataclass(frozen=True)
class _Clustering:
    selection: _KSelection
    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    silhouette: float


def signed_log1p(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def feature_matrix(
    features: pd.DataFrame, feature_columns: list[str]
) -> tuple[np.ndarray, int]:
    """Feature columns as float64 with NaN and +/-inf set to 0, and how many were."""
    matrix = features[feature_columns].to_numpy(dtype=np.float64, na_value=np.nan)
    is_finite = np.isfinite(matrix)
    matrix = np.where(is_finite, matrix, 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    return matrix, int(matrix.size - is_finite.sum())


def transform_features(matrix: np.ndarray) -> tuple[np.ndarray, RobustScaler]:
    """Signed log1p then robust scaling fitted on these rows."""
    scaler = RobustScaler(quantile_range=(25.0, 75.0))
    scaled = scaler.fit_transform(signed_log1p(matrix))
    return scaled + 0.0, scaler


def apply_transform(matrix: np.ndarray, scaler: RobustScaler) -> np.ndarray:
    return scaler.transform(signed_log1p(matrix))


def silhouette_scores(sample: np.ndarray, label_sets: list[np.ndarray]) -> list[float]:
    """Mean silhouette (euclidean) of each labelling of the same sample.

    Same definition as sklearn.metrics.silhouette_score, but the pairwise
    distances are computed once, in float32 chunks, for all labellings together.
    A labelling with fewer than 2 or more than n - 1 clusters scores NaN.
    """
    n_rows = len(sample)
    if not label_sets:
        return []
    cluster_counts = [np.bincount(labels) for labels in label_sets]
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in cluster_counts])])
    membership = np.zeros((n_rows, offsets[-1]), dtype=np.float32)
    for labels, offset in zip(label_sets, offsets[:-1], strict=True):
        membership[np.arange(n_rows), offset + labels] = 1.0

    # Squared distances |a|^2 + |b|^2 - 2ab come out of one product of the
    # augmented rows [-2a, |a|^2, 1] and [b, 1, |b|^2].
    centred = (sample - sample.mean(axis=0)).astype(np.float32)
    squared_norms = np.einsum("ij,ij->i", centred, centred)[:, None]
    ones = np.ones((n_rows, 1), dtype=np.float32)
    left = np.hstack([-2.0 * centred, squared_norms, ones])
    right = np.hstack([centred, ones, squared_norms])
    distance_sums = np.empty((n_rows, offsets[-1]), dtype=np.float64)
    for start in range(0, n_rows, _SILHOUETTE_CHUNK_ROWS):
        stop = min(start + _SILHOUETTE_CHUNK_ROWS, n_rows)
        distances = left[start:stop] @ right.T
        np.maximum(distances, 0.0, out=distances)
        distances[np.arange(stop - start), np.arange(start, stop)] = 0.0
        np.sqrt(distances, out=distances)
        distance_sums[start:stop] = distances @ membership

    scores = []
    for labels, counts, offset in zip(
        label_sets, cluster_counts, offsets[:-1], strict=True
    ):
        n_clusters = int((counts > 0).sum())
        if not 2 <= n_clusters <= n_rows - 1:
            scores.append(float("nan"))
            continue
        sums = distance_sums[:, offset : offset + len(counts)]
        rows = np.arange(n_rows)
        own_counts = counts[labels]
        within = sums[rows, labels] / np.maximum(own_counts - 1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_to_cluster = sums / counts
        mean_to_cluster[:, counts == 0] = np.inf
        mean_to_cluster[rows, labels] = np.inf
        nearest_other = mean_to_cluster.min(axis=1)
        denominator = np.maximum(within, nearest_other)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_row = np.where(
                denominator > 0, (nearest_other - within) / denominator, 0.0
            )
        per_row[own_counts == 1] = 0.0
        scores.append(float(per_row.mean()))
    return scores


def fit_segments(
    features: pd.DataFrame,
    feature_columns: Sequence[str],
    k: int | str = "auto",
    k_min: int = 2,
    k_max: int = 8,
    seed: int = 42,
    sample_size: int = 20000,
    *,
    n_init: int = 4,
    order_feature: str = SEGMENT_ORDER_FEATURE,
    n_threads: int | None = 1,
) -> SegmentResult:
    """Segment users with KMeans (rules in the module docstring).

    n_threads caps the threads of KMeans and BLAS. The default 1 keeps results
    identical across machines and avoids oversubscription when other models run
    at the same time; None leaves the libraries' own default (all cores).
    """
    feature_columns = list(feature_columns)
    fixed_k = parse_k(k)
    _check_inputs(features, feature_columns, k_min, k_max, sample_size, n_init)

    user_ids = features["user_id"].astype(str)
    user_order = user_ids.argsort(kind="stable").to_numpy()
    user_ids = user_ids.to_numpy(dtype=object)[user_order]
    values, missing_count = feature_matrix(features, feature_columns)
    values = values[user_order]
    n_users = len(values)
    log.info(
        "segments: %d users, %d features, %d missing or infinite values set to 0",
        n_users,
        len(feature_columns),
        missing_count,
    )
    if n_users == 0:
        log.info("segments: no users, returning empty outputs")
        return _empty_result(feature_columns)

    scaled, scaler = transform_features(values)
    distinct_rows = _count_distinct_rows(scaled)
    sample_rows = _sample_rows(n_users, sample_size, seed)
    log.info(
        "segments: %d distinct feature rows, silhouette sample of %d users",
        distinct_rows,
        len(sample_rows),
    )

    order_column = (
        feature_columns.index(order_feature) if order_feature in feature_columns else 0
    )
    with threadpool_limits(limits=n_threads):
        clustering = _cluster_users(
            scaled, sample_rows, distinct_rows, fixed_k, k_min, k_max, seed, n_init
        )
    selection, labels = clustering.selection, clustering.labels
    labels, centers = _renumber_segments(labels, clustering.centers, order_column)
    distances = np.linalg.norm(scaled - centers[labels], axis=1)
    silhouette = clustering.silhouette
    silhouette_note = _final_silhouette_note(
        silhouette, selection.k, _sample_text(len(sample_rows), n_users)
    )

    means, medians = _segment_statistics(values, labels, selection.k)
    names = name_segments(
        medians, np.median(values, axis=0), feature_columns, scaler=scaler
    )
    sizes = np.bincount(labels, minlength=selection.k)
    log.info(
        "segments: sizes %s",
        ", ".join(
            f"{i} {name!r}={size}"
            for i, (name, size) in enumerate(zip(names, sizes, strict=True))
        ),
    )

    assignments = pd.DataFrame(
        {
            "user_id": pd.Series(user_ids, dtype=str),
            "segment_id": labels.astype(np.int64),
            "segment_name": pd.Series(
                np.asarray(names, dtype=object)[labels], dtype=str
            ),
            "distance_to_centroid": distances.astype(np.float64),
        }
    )
    profiles = _profiles_frame(names, sizes, means, medians, feature_columns)
    metrics = _metrics_frame(
        [
            ("k", float(selection.k), selection.note),
            ("silhouette", silhouette, silhouette_note),
            (
                "inertia",
                clustering.inertia,
                "sum of squared distances to the segment centroid, scaled space, "
                "all users",
            ),
        ]
        + selection.candidate_rows
    )
    return SegmentResult(assignments, profiles, metrics, selection.k)


def name_segments(
    segment_medians: np.ndarray,
    overall_medians: np.ndarray,
    feature_columns: list[str],
    *,
    scaler: RobustScaler,
) -> list[str]:
    """One unique readable name per segment row of segment_medians (real units)."""
    gaps = apply_transform(segment_medians, scaler) - apply_transform(
        overall_medians.reshape(1, -1), scaler
    )
    names = []
    for segment, segment_gaps in enumerate(gaps):
        ranked = np.argsort(-np.abs(segment_gaps), kind="stable")
        picked = [j for j in ranked[:2] if abs(segment_gaps[j]) >= DISTINCTIVE_GAP]
        phrases = [
            _feature_phrase(
                feature_columns[j], segment_gaps[j] > 0, segment_medians[segment, j]
            )
            for j in picked
        ]
        names.append(_compose_name(phrases))
    return _make_unique(names)


def parse_k(k: int | str) -> int | None:
    """None for "auto", else the positive integer k (digit strings accepted)."""
    if isinstance(k, str) and k.strip().lower() == "auto":
        return None
    if isinstance(k, str) and k.strip().isdigit():
        k = int(k.strip())
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1:
        return int(k)
    raise ValueError(f"segments: k must be a positive integer or 'auto', not {k!r}")


def _feature_phrase(feature: str, is_high: bool, median: float) -> tuple[str, bool]:
    words = SEGMENT_NAME_WORDS.get(feature)
    if words is None:
        readable = feature.replace("_", " ")
        return (f"high {readable}" if is_high else f"low {readable}"), False
    if is_high:
        return words["high"]
    if median == 0 and "none" in words:
        return words["none"]
    return words["low"]


def _compose_name(phrases: list[tuple[str, bool]]) -> str:
    if not phrases:
        return TYPICAL_SEGMENT_NAME
    adjectives = [text for text, is_head in phrases if not is_head]
    heads = [text for text, is_head in phrases if is_head] or [DEFAULT_HEAD_NOUN]
    name = " and ".join(heads)
    if adjectives:
        name = ", ".join(adjectives) + " " + name
    return name[0].upper() + name[1:]


def _make_unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _check_inputs(
    features: pd.DataFrame,
    feature_columns: list[str],
    k_min: int,
    k_max: int,
    sample_size: int,
    n_init: int,
) -> None:
    if "user_id" not in features.columns:
        raise ValueError("segments: the features table needs a user_id column")
    if not feature_columns:
        raise ValueError("segments: give at least one feature column")
    missing = [c for c in feature_columns if c not in features.columns]
    if missing:
        raise ValueError(
            f"segments: feature columns {missing} are not in the features table "
            f"(columns: {list(features.columns)})"
        )
    not_numeric = [
        c
        for c in feature_columns
        if not (
            pd.api.types.is_numeric_dtype(features[c])
            or pd.api.types.is_bool_dtype(features[c])
        )
    ]
    if not_numeric:
        raise ValueError(f"segments: feature columns {not_numeric} are not numeric")
    if features["user_id"].isna().any():
        raise ValueError("segments: user_id has missing values; drop those rows first")
    duplicated = features["user_id"].astype(str).duplicated()
    if duplicated.any():
        examples = features.loc[duplicated, "user_id"].astype(str).head(3).tolist()
        raise ValueError(
            f"segments: expected one row per user, {int(duplicated.sum())} repeated "
            f"user_id values (e.g. {examples})"
        )
    if not 1 <= k_min <= k_max:
        raise ValueError(f"segments: need 1 <= k_min <= k_max, got {k_min} and {k_max}")
    if sample_size < 2:
        raise ValueError(f"segments: sample_size must be at least 2, got {sample_size}")
    if n_init < 1:
        raise ValueError(f"segments: n_init must be at least 1, got {n_init}")


def _count_distinct_rows(matrix: np.ndarray) -> int:
    return int((~pd.DataFrame(matrix).duplicated()).sum())


def _sample_rows(n_rows: int, sample_size: int, seed: int) -> np.ndarray:
    if n_rows <= sample_size:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=sample_size, replace=False))


def _select_k(
    sample: np.ndarray,
    sample_text: str,
    distinct_rows: int,
    fixed_k: int | None,
    k_min: int,
    k_max: int,
    seed: int,
    n_init: int,
) -> _KSelection:
    if fixed_k is not None:
        k_fixed = fixed_k
        if k_fixed > distinct_rows:
            note = (
                f"configured k={k_fixed} reduced to the {distinct_rows} distinct "
                "feature rows"
            )
            k_fixed = distinct_rows
        else:
            note = f"fixed by configuration (k={k_fixed})"
        row = (f"k_selection_k{k_fixed}", float("nan"), f"k={k_fixed}: {note}")
        return _KSelection(k_fixed, note, [row])

    upper = min(k_max, distinct_rows)
    candidates = list(range(min(k_min, upper), upper + 1))
    sample_distinct = _count_distinct_rows(sample)
    fitted_k, label_sets = [], []
    for candidate in candidates:
        if 2 <= candidate <= sample_distinct:
            model = KMeans(candidate, n_init=n_init, random_state=seed).fit(sample)
            fitted_k.append(candidate)
            label_sets.append(model.labels_)
    scores = dict(zip(fitted_k, silhouette_scores(sample, label_sets), strict=True))

    candidate_rows = []
    for candidate in candidates:
        score = scores.get(candidate, float("nan"))
        if candidate not in scores:
            reason = (
                "one segment has no silhouette"
                if candidate < 2
                else f"the sample holds only {sample_distinct} distinct rows"
            )
        elif np.isnan(score):
            reason = f"silhouette undefined for {len(sample)} sampled users"
        else:
            reason = f"silhouette on {sample_text}"
        candidate_rows.append(
            (f"k_selection_k{candidate}", score, f"k={candidate}: {reason}")
        )

    finite = [(score, c) for c, score in scores.items() if not np.isnan(score)]
    log.info(
        "segments: candidate silhouettes %s",
        ", ".join(f"k={c}: {score:.4f}" for c, score in scores.items()) or "none",
    )
    if finite:
        best_score = max(score for score, _ in finite)
        chosen = min(c for score, c in finite if score == best_score)
        note = (
            f"best silhouette ({best_score:.4f}) over k={candidates[0]}.."
            f"{candidates[-1]} on {sample_text}"
        )
    elif distinct_rows == 1:
        chosen = 1
        note = "all users have the same feature values: one segment"
    else:
        chosen = candidates[0]
        note = (
            f"no silhouette computable for k={candidates[0]}..{candidates[-1]} "
            f"({distinct_rows} distinct feature rows), smallest candidate used"
        )
    candidate_rows = [
        (name, score, text + ("; chosen" if text.startswith(f"k={chosen}:") else ""))
        for name, score, text in candidate_rows
    ]
    return _KSelection(chosen, note, candidate_rows)


def _cluster_users(
    scaled: np.ndarray,
    sample_rows: np.ndarray,
    distinct_rows: int,
    fixed_k: int | None,
    k_min: int,
    k_max: int,
    seed: int,
    n_init: int,
) -> _Clustering:
    sample = scaled[sample_rows]
    sample_text = _sample_text(len(sample_rows), len(scaled))
    selection = _select_k(
        sample, sample_text, distinct_rows, fixed_k, k_min, k_max, seed, n_init
    )
    log.info("segments: k=%d (%s)", selection.k, selection.note)

    labels, centers, inertia = _fit_final_kmeans(scaled, selection.k, seed, n_init)
    silhouette = silhouette_scores(sample, [labels[sample_rows]])[0]
    log.info("segments: inertia=%.4f silhouette=%.4f", inertia, silhouette)
    return _Clustering(selection, labels, centers, inertia, silhouette)


def _fit_final_kmeans(
    scaled: np.ndarray, k: int, seed: int, n_init: int
) -> tuple[np.ndarray, np.ndarray, float]:
    if k == 1:
        center = scaled.mean(axis=0, keepdims=True)
        inertia = float(((scaled - center) ** 2).sum())
        return np.zeros(len(scaled), dtype=np.int64), center, inertia
    model = KMeans(k, n_init=n_init, random_state=seed).fit(scaled)
    return model.labels_.astype(np.int64), model.cluster_centers_, float(model.inertia_)


def _renumber_segments(
    labels: np.ndarray, centers: np.ndarray, order_column: int
) -> tuple[np.ndarray, np.ndarray]:
    """Segment 0 has the largest centroid on the order feature (see module rules)."""
    sizes = np.bincount(labels, minlength=len(centers))
    rounded = np.round(centers, 9)
    tie_keys = [-rounded[:, j] for j in range(rounded.shape[1] - 1, -1, -1)]
    new_to_old = np.lexsort([*tie_keys, -sizes, -rounded[:, order_column]])
    old_to_new = np.empty_like(new_to_old)
    old_to_new[new_to_old] = np.arange(len(new_to_old))
    return old_to_new[labels], centers[new_to_old]


def _segment_statistics(
    values: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    grouped = pd.DataFrame(values).groupby(labels, sort=True)
    index = pd.RangeIndex(k)
    means = grouped.mean().reindex(index).to_numpy(dtype=np.float64)
    medians = grouped.median().reindex(index).to_numpy(dtype=np.float64)
    return means, medians


def _sample_text(sample_users: int, n_users: int) -> str:
    if sample_users == n_users:
        return f"all {n_users} users"
    return f"a seeded sample of {sample_users} of {n_users} users"


def _final_silhouette_note(silhouette: float, k: int, sample_text: str) -> str:
    if k < 2:
        return "not defined for a single segment"
    if np.isnan(silhouette):
        return f"not defined for {k} segments over {sample_text}"
    return f"euclidean in scaled space, final model, on {sample_text}"


def _profiles_frame(
    names: list[str],
    sizes: np.ndarray,
    means: np.ndarray,
    medians: np.ndarray,
    feature_columns: list[str],
) -> pd.DataFrame:
    total = int(sizes.sum())
    columns: dict[str, object] = {
        "segment_id": np.arange(len(names), dtype=np.int64),
        "segment_name": pd.Series(names, dtype=str),
        "users": sizes.astype(np.int64),
        "share_of_users": sizes / total if total else np.zeros(len(names)),
    }
    for j, feature in enumerate(feature_columns):
        columns[f"{feature}_mean"] = means[:, j]
        columns[f"{feature}_median"] = medians[:, j]
    return pd.DataFrame(columns)


def _metrics_frame(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": pd.Series([MODEL_NAME] * len(rows), dtype=str),
            "variant": pd.Series([VARIANT_NAME] * len(rows), dtype=str),
            "metric_name": pd.Series([name for name, _, _ in rows], dtype=str),
            "metric_value": np.array([value for _, value, _ in rows], dtype=np.float64),
            "note": pd.Series([note for _, _, note in rows], dtype=str),
        },
        columns=METRIC_COLUMNS,
    )


def _empty_result(feature_columns: list[str]) -> SegmentResult:
    assignments = pd.DataFrame(
        {
            "user_id": pd.Series([], dtype=str),
            "segment_id": np.array([], dtype=np.int64),
            "segment_name": pd.Series([], dtype=str),
            "distance_to_centroid": np.array([], dtype=np.float64),
        }
    )
    empty = np.empty((0, len(feature_columns)))
    profiles = _profiles_frame(
        [], np.array([], dtype=np.int64), empty, empty, feature_columns
    )
    reason = "no users to segment"
    metrics = _metrics_frame(
        [
            ("k", 0.0, reason),
            ("silhouette", float("nan"), reason),
            ("inertia", float("nan"), reason),
            ("k_selection_k0", float("nan"), reason),
        ]
    )
    return SegmentResult(assignments, profiles, metrics, 0)
