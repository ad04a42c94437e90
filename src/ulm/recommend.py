"""Item-item collaborative filtering on a weighted user x item matrix.

``build_matrix`` turns the user-item interactions table into a sparse matrix of
implicit feedback, ``item_similarities`` keeps the top-k cosine neighbours of
every item, ``recommend`` scores unseen items for every user from those
neighbours and fills short lists with popular items, and ``evaluate`` measures
both on a time-based holdout against a most-popular baseline.

Everything stays sparse: the item x item co-occurrences are computed one item at
a time by a compiled kernel that keeps only each item's top k, and users are
scored in batches, so memory stays bounded at hundreds of thousands of users and
tens of thousands of items. Both run in worker threads (the kernel and scipy's
sparse products release the GIL).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from ulm import item_neighbours, ranking_metrics
from ulm.settings import COUNT_SCALES

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
    "rating": 3.0,
    "refund": -5.0,
}

PERIOD_COLUMNS: dict[str, tuple[str, str]] = {
    "all": ("events", "last_at"),
    "train": ("events_before_holdout", "last_before_holdout_at"),
}
SIMILARITY_COLUMNS = ["item_id", "similar_item_id", "similarity", "support", "rank"]
RECOMMENDATION_COLUMNS = [
    "user_id",
    "item_id",
    "score",
    "rank",
    "source_item_id",
    "strategy",
]
METRIC_COLUMNS = ["model", "variant", "metric_name", "metric_value"]
CF_STRATEGY = "item_cf"
POPULAR_STRATEGY = "popular"

# Top-k selection sorts only the entries that can still make a group's top k:
# values are bucketed by the leading bits of their float32 form (4 buckets per
# octave, 16 octaves below the group's largest value) and a per-group count of
# entries at or above each bucket gives the cut.
_BUCKET_SHIFT = 21
_N_BUCKETS = 64
_COUNT_TABLE_CELLS = 1 << 22
# Upper bound on the multiply-adds of one block of items in the similarity
# kernel: small enough that the threads finish their last blocks close together.
_BLOCK_WORK_BUDGET = 2_000_000


@dataclass(frozen=True)
class InteractionMatrix:
    """Users x items implicit feedback.

    ``matrix`` holds the summed positive weights (float32 CSR, sorted indices);
    users and items are sorted by id. ``seen`` marks every user-item pair with
    any interaction in the period, whatever its weight (a refunded purchase, an
    event type that weighs 0): such items are never recommended back. When
    ``seen`` is None the positive cells of ``matrix`` are used. ``profile``
    holds the weights a user's items carry when the user is scored (``matrix``
    with the user's older items weighing less, see ``recent_item_weights``);
    when None, ``matrix`` itself. Similarities and popularity always use
    ``matrix``.
    """

    matrix: sparse.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    seen: sparse.csr_matrix | None = None
    profile: sparse.csr_matrix | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def seen_matrix(self) -> sparse.csr_matrix:
        if self.seen is not None:
            return self.seen
        return _pattern(self.matrix)

    def profile_matrix(self) -> sparse.csr_matrix:
        return self.profile if self.profile is not None else self.matrix


def build_matrix(
    interactions: pd.DataFrame,
    weights: Mapping[str, float],
    reference_at: Any,
    half_life_days: float | None = None,
    period: str = "all",
    count_scale: str = "log",
    recent_items_half_life: float | None = 50.0,
) -> InteractionMatrix:
    """Weighted user x item matrix from the interactions table.

    Each row weighs ``weights[event_type] * scaled(events)``, times
    ``0.5 ** (age_days / half_life_days)`` when a half-life is given, where the
    age runs from the row's last event to ``reference_at`` (events after it count
    as age 0). ``count_scale`` says how repeats count: "log" gives
    ``1 + ln(events)`` (one event weighs its type's weight, ten events about
    3.3 times it), "linear" the count itself, "binary" 1 for any count. Rows are
    summed per user and item, the sum is clipped at 0 and zero cells are
    dropped. Period "train" uses the counts and times before the holdout and
    drops rows without such events. With ``recent_items_half_life`` the
    matrix also gets a ``profile``: each cell times ``recent_item_weights`` of
    the user's items, ordered by the last event on each.
    """
    count_column, at_column = _period_columns(period)
    weights = _checked_weights(weights)
    _check_count_scale(count_scale)
    if half_life_days is not None and not half_life_days > 0:
        raise ValueError(
            f"half_life_days must be a positive number of days or None, "
            f"got {half_life_days!r}"
        )
    _check_recent_items_half_life(recent_items_half_life)
    required = ["user_id", "item_id", "event_type", count_column]
    if half_life_days is not None or recent_items_half_life is not None:
        required.append(at_column)
    _require_columns(interactions, required, "interactions")

    counts = _counts(interactions[count_column])
    keep = (
        (counts > 0)
        & interactions["user_id"].notna().to_numpy()
        & interactions["item_id"].notna().to_numpy()
    )
    # The id columns are encoded whole and their codes cut to the kept rows:
    # cheaper than copying millions of kept strings first.
    kept_all = bool(keep.all())
    timed = [at_column] if at_column in required else []
    rows = interactions if kept_all else interactions.loc[keep, ["event_type", *timed]]
    counts = counts[keep]

    user_codes, user_ids = _sorted_codes(
        interactions["user_id"], None if kept_all else keep
    )
    item_codes, item_ids = _sorted_codes(
        interactions["item_id"], None if kept_all else keep
    )
    type_codes, event_types = pd.factorize(rows["event_type"])
    type_weights = np.array([weights.get(t, 0.0) for t in event_types] + [0.0])
    row_weights = type_weights[type_codes] * scaled_counts(counts, count_scale)
    if half_life_days is not None:
        row_weights *= _decay_factors(
            rows[at_column], reference_at, half_life_days, at_column
        )

    shape = (user_ids.size, item_ids.size)
    cells = _cells(user_codes, item_codes, shape[1])
    summed = np.maximum(cells.sum(row_weights), 0.0).astype(np.float32)
    seen = cells.matrix(np.ones(cells.size, dtype=bool), shape)
    profile = None
    if recent_items_half_life is not None:
        latest = cells.maximum(_event_seconds(rows[at_column], at_column))
        recency = recent_item_weights(cells.users, latest, recent_items_half_life)
        profile = cells.matrix((summed * recency).astype(np.float32), shape)
        profile.eliminate_zeros()
    # Last: dropping the zero cells compacts `summed` in place.
    positive = cells.matrix(summed, shape)
    positive.eliminate_zeros()

    log.info(
        "interaction matrix (period=%s, counts %s): %d rows in, %d kept -> "
        "%d users x %d items, %d positive cells of %d user-item pairs",
        period,
        count_scale,
        len(interactions),
        counts.size,
        shape[0],
        shape[1],
        positive.nnz,
        seen.nnz,
    )
    return InteractionMatrix(
        matrix=positive,
        user_ids=user_ids,
        item_ids=item_ids,
        seen=seen,
        profile=profile,
    )


def recent_item_weights(
    users: np.ndarray, seconds: np.ndarray, half_life: float
) -> np.ndarray:
    """Weight of each (user, item) cell by how recent the item is for the user.

    ``users`` (sorted) and ``seconds`` (time of the last event on the cell)
    describe one cell each. A cell's rank is the number of the user's items
    with a later last event (0 for the latest; items touched at the same time
    share a rank) and its weight ``0.5 ** (rank / half_life)``: a user's items
    count the more the more recent they are among that user's items, whatever
    the calendar time, so a user who stopped a year ago is scored from what
    they did last.
    """
    users = np.asarray(users, dtype=np.int64)
    seconds = np.asarray(seconds, dtype=np.int64)
    if users.size == 0:
        return np.zeros(0)
    latest_first = seconds.max() - seconds
    span = int(latest_first.max()) + 1
    # Ties share a rank, so the order among them does not matter.
    if int(users.max()) + 1 < np.iinfo(np.int64).max // span:
        order = np.argsort(users * span + latest_first)
    else:
        order = np.lexsort((latest_first, users))
    sorted_users, sorted_times = users[order], latest_first[order]
    positions = np.arange(order.size)
    new_user = np.concatenate(([True], sorted_users[1:] != sorted_users[:-1]))
    new_time = new_user | np.concatenate(
        ([True], sorted_times[1:] != sorted_times[:-1])
    )
    user_start = np.maximum.accumulate(np.where(new_user, positions, 0))
    time_start = np.maximum.accumulate(np.where(new_time, positions, 0))
    weights = np.empty(order.size)
    weights[order] = np.exp2((user_start - time_start) / half_life)
    return weights


def scaled_counts(counts: np.ndarray, count_scale: str = "log") -> np.ndarray:
    """Event counts as repeat weights: ``1 + ln(count)``, the count, or 1.

    Counts of 0 (or below) weigh 0 in every scale. The log scale keeps a user
    who bought an item fifty times from drowning out everything else the user
    did, while a repeat still counts for more than a single event.
    """
    _check_count_scale(count_scale)
    counts = np.asarray(counts, dtype=np.float64)
    positive = counts > 0
    if count_scale == "linear":
        return np.where(positive, counts, 0.0)
    if count_scale == "binary":
        return positive.astype(np.float64)
    return np.where(positive, 1.0 + np.log(np.where(positive, counts, 1.0)), 0.0)


def item_similarities(
    m: InteractionMatrix,
    k: int = 20,
    min_support: int = 2,
    block_size: int = 2048,
    *,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Top-k cosine neighbours of every item.

    Similarity is the cosine between two item columns of the weighted matrix;
    support is the number of users with a positive cell on both. Only pairs with
    support >= min_support count, an item is never its own neighbour, and ties
    in similarity go to the smaller similar_item_id.

    Compiled kernels (``item_neighbours``) compute each pair once, from the
    users of its smaller item, and offer it to the neighbour heaps of both
    items, so no item x item product is ever held. Items are cut into ranges
    of at most ``block_size`` items and a bounded amount of work, which the
    threads take in turn, each into heaps of its own that are merged at the
    end.
    """
    _check_positive(k, "k")
    _check_positive(block_size, "block_size")
    n_items = m.shape[1]
    k = min(int(k), max(n_items - 1, 0))
    by_user = _positive_cells(m.matrix)
    item_indptr, item_users, item_cells, work = item_neighbours.by_item(
        by_user.indptr, by_user.indices, n_items
    )
    norms = np.sqrt(
        np.bincount(by_user.indices, weights=by_user.data**2, minlength=n_items)
    )
    blocks = _item_blocks(work, block_size)
    n_workers = max(1, min(_thread_count(n_threads), len(blocks)))

    heaps = np.zeros((n_workers, n_items, k, 3))
    floors = np.zeros((n_workers, n_items, 2))
    floors[:, :, item_neighbours.FLOOR] = -np.inf
    queue: SimpleQueue[tuple[int, int]] = SimpleQueue()
    for block in blocks:
        queue.put(block)

    def fill_heaps(worker: int) -> None:
        sums = np.zeros((n_items, 2))
        touched = np.zeros(n_items, dtype=np.int64)
        found = np.zeros((n_items, 2))
        while True:
            try:
                start, stop = queue.get_nowait()
            except Empty:
                return
            item_neighbours.offer_pairs(
                start,
                stop,
                by_user.indptr,
                by_user.indices,
                by_user.data,
                item_indptr,
                item_users,
                item_cells,
                norms,
                float(min_support),
                sums,
                touched,
                found,
                heaps[worker],
                floors[worker],
            )

    if k and blocks:
        with ThreadPoolExecutor(n_workers) as executor:
            list(executor.map(fill_heaps, range(n_workers)))
        item_neighbours.merge_heaps(heaps, floors)
    counts = floors[0, :, item_neighbours.SIZE].astype(np.int64)
    best = heaps[0]

    filled = np.arange(k) < counts[:, None]
    items = np.repeat(np.arange(n_items), counts)
    frame = pd.DataFrame(
        {
            "item_id": _ids_at(m.item_ids, items),
            "similar_item_id": _ids_at(
                m.item_ids, best[filled, item_neighbours.ITEM].astype(np.int64)
            ),
            "similarity": best[filled, item_neighbours.VALUE],
            "support": best[filled, item_neighbours.SUPPORT].astype(np.int64),
            "rank": np.nonzero(filled)[1].astype(np.int64) + 1,
        },
        columns=SIMILARITY_COLUMNS,
    )
    log.info(
        "item similarities: %d items, %d blocks, %d pairs kept (k=%d, "
        "min_support=%d), %d items with at least one neighbour",
        n_items,
        len(blocks),
        len(frame),
        k,
        min_support,
        np.count_nonzero(counts),
    )
    return frame


def popular_items(m: InteractionMatrix) -> np.ndarray:
    """Item ids by number of distinct users with a positive cell, most first.

    Ties go to the smaller item id; items without any positive cell are left out.
    """
    return m.item_ids[_popularity_order(m)]


def recommend(
    m: InteractionMatrix,
    similarities: pd.DataFrame,
    n: int = 10,
    batch_size: int = 20000,
    popular_items: Sequence[Any] | np.ndarray | None = None,
    *,
    users_without_history: Iterable[Any] | None = None,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Top-n items for every user of ``m`` and every id in users_without_history.

    An unseen item scores sum over the user's items j of weight(u, j) * sim(j, i)
    with the kept neighbours, weight being the cell of ``m.profile_matrix()``
    (the recent items weighing more when ``m`` has a profile); its
    source_item_id is the j contributing most (ties
    to the smaller id). Items the user has any interaction with are never
    recommended. Lists shorter than n are filled with the most popular unseen
    items (``popular_items`` order, by default ``popular_items(m)``), strategy
    "popular", score 0 and no source. Ranks run 1..n per user; rows are sorted by
    user_id and rank.
    """
    _check_positive(n, "n")
    _check_positive(batch_size, "batch_size")
    neighbours = _neighbour_matrix(m, similarities)
    popular_index, catalog = _popular_catalog(m, popular_items)
    extra_users = _extra_users(m, users_without_history)

    result = _recommend_arrays(
        m, neighbours, n, batch_size, popular_index, extra_users.size, n_threads
    )
    user_ids = np.concatenate([m.user_ids, extra_users])
    if extra_users.size:
        # ordered while rows are still codes: cheaper than moving the id texts
        result = _sorted_by_user(result, user_ids)
    frame = pd.DataFrame(
        {
            "user_id": _ids_at(user_ids, result.users),
            "item_id": _ids_at(catalog, result.items),
            "score": result.scores,
            "rank": result.ranks.astype(np.int64),
            "source_item_id": _ids_at(catalog, result.sources),
            "strategy": _ids_at(
                np.array([POPULAR_STRATEGY, CF_STRATEGY], dtype=object),
                result.from_cf.astype(np.int64),
            ),
        },
        columns=RECOMMENDATION_COLUMNS,
    )
    log.info(
        "recommendations: %d users scored (%d from the matrix, %d without history), "
        "%d rows (%d item_cf, %d popular)",
        m.shape[0] + extra_users.size,
        m.shape[0],
        extra_users.size,
        len(frame),
        int(result.from_cf.sum()),
        int((~result.from_cf).sum()),
    )
    return frame


def evaluate(
    interactions: pd.DataFrame,
    weights: Mapping[str, float],
    reference_at: Any,
    holdout_start: Any,
    k: int = 10,
    n_neighbours: int = 20,
    min_support: int = 2,
    relevant_event_types: Sequence[str] = ("purchase",),
    half_life_days: float | None = None,
    *,
    count_scale: str = "log",
    recent_items_half_life: float | None = 50.0,
    batch_size: int = 20000,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Item CF and the most-popular baseline on a time-based holdout.

    Both train on the events before holdout_start (decay measured to
    holdout_start; a common shift of the reference would scale every weight
    alike and change no ranking) and recommend k items each user had no train
    interaction with: item_cf as ``recommend`` does (popular fill included),
    most_popular the most popular such items. A user's relevant items are those
    with a relevant event type in the holdout (events > events_before_holdout)
    and no train interaction, the same rule for both variants: an item the user
    already touched is never recommended, so counting it would only cap both.
    Users evaluated have at least one positive train cell and one relevant
    item. Catalog coverage is distinct recommended items over items in the
    train matrix. The split itself comes from events_before_holdout: a cut of
    every user at holdout_start, or any other cut made before the counts (such
    as each user's latest events), holdout_start then being only the reference
    of the decay. With no user to evaluate, the ranking metrics are NaN.
    """
    _check_positive(k, "k")
    holdout_at = _utc_timestamp(holdout_start)
    if holdout_at > _utc_timestamp(reference_at):
        raise ValueError(
            f"holdout_start ({holdout_start}) is after reference_at ({reference_at}): "
            "the holdout must end at or before the reference date"
        )
    _require_columns(
        interactions,
        ["user_id", "item_id", "event_type", "events", "events_before_holdout"],
        "interactions",
    )
    train = build_matrix(
        interactions,
        weights,
        holdout_at,
        half_life_days,
        period="train",
        count_scale=count_scale,
        recent_items_half_life=recent_items_half_life,
    )
    relevant_users, relevant_items = _holdout_relevant(
        interactions, train, relevant_event_types
    )
    relevant_counts = np.bincount(relevant_users, minlength=train.shape[0])
    has_history = np.diff(train.matrix.indptr) > 0
    evaluated = np.flatnonzero(has_history & (relevant_counts > 0))
    local_user = np.full(train.shape[0], -1, dtype=np.int64)
    local_user[evaluated] = np.arange(evaluated.size)
    known = (local_user[relevant_users] >= 0) & (relevant_items >= 0)
    n_items = train.shape[1]
    relevant_keys = local_user[relevant_users[known]] * n_items + relevant_items[known]
    log.info(
        "holdout: %d train users, %d with history, %d relevant user-item pairs, "
        "%d users evaluated",
        train.shape[0],
        int(has_history.sum()),
        relevant_users.size,
        evaluated.size,
    )

    subset = _subset_users(train, evaluated)
    popular_index = _popularity_order(train)
    similarities = item_similarities(
        train, k=n_neighbours, min_support=min_support, n_threads=n_threads
    )
    variants = {
        "item_cf": _neighbour_matrix(train, similarities),
        "most_popular": sparse.csr_matrix((n_items, n_items), dtype=np.float64),
    }
    suffix = f"_at_{k}"
    records = []
    for variant, neighbours in variants.items():
        result = _recommend_arrays(
            subset, neighbours, k, batch_size, popular_index, 0, n_threads
        )
        is_relevant = np.isin(result.users * n_items + result.items, relevant_keys)
        hit_counts, dcg = ranking_metrics.hits_per_user(
            result.users, result.ranks, is_relevant, evaluated.size, k
        )
        user_relevant = relevant_counts[evaluated]
        metrics = {
            f"precision{suffix}": ranking_metrics.precision_at_k(hit_counts, k),
            f"recall{suffix}": ranking_metrics.recall_at_k(hit_counts, user_relevant),
            f"ndcg{suffix}": ranking_metrics.ndcg_at_k(dcg, user_relevant, k),
            f"hit_rate{suffix}": ranking_metrics.hit_rate_at_k(hit_counts),
            "catalog_coverage": ranking_metrics.catalog_coverage(result.items, n_items),
            "users_evaluated": float(evaluated.size),
        }
        log.info(
            "recommendation metrics (%s): %s",
            variant,
            ", ".join(f"{name}={value:.4f}" for name, value in metrics.items()),
        )
        records.extend(
            ("recommendations", variant, name, float(value))
            for name, value in metrics.items()
        )
    return pd.DataFrame.from_records(records, columns=METRIC_COLUMNS)


# --- matrix helpers -------------------------------------------------------------


def _period_columns(period: str) -> tuple[str, str]:
    if period not in PERIOD_COLUMNS:
        raise ValueError(
            f"period must be one of {sorted(PERIOD_COLUMNS)}, got {period!r}"
        )
    return PERIOD_COLUMNS[period]


def _checked_weights(weights: Mapping[str, float]) -> dict[str, float]:
    checked = {str(name): float(value) for name, value in weights.items()}
    if checked.get("refund", 0.0) > 0:
        raise ValueError(
            f"the weight of 'refund' is {checked['refund']}, but a refund is never "
            "a positive signal: give it a negative weight (it cancels the purchase) "
            "or 0 (it is ignored)"
        )
    return checked


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it has {list(frame.columns)}"
        )


def _check_count_scale(count_scale: str) -> None:
    if count_scale not in COUNT_SCALES:
        raise ValueError(
            f"count_scale must be one of {list(COUNT_SCALES)}, got {count_scale!r}"
        )


def _check_recent_items_half_life(half_life: float | None) -> None:
    if half_life is not None and not half_life > 0:
        raise ValueError(
            "recent_items_half_life must be a positive number of items or None, "
            f"got {half_life!r}"
        )


def _event_seconds(at: pd.Series, column: str) -> np.ndarray:
    """Whole seconds since the epoch (UTC) of each row's last event."""
    times = pd.to_datetime(at)
    if times.dt.tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = int(times.isna().sum())
    if missing:
        raise ValueError(
            f"{missing} interaction rows have events but no {column}: weighing a "
            "user's recent items needs the time of the last event"
        )
    return times.to_numpy(dtype="datetime64[s]").astype(np.int64)


@dataclass(frozen=True)
class _Cells:
    """The distinct (user, item) cells of interaction rows, in row-major order.

    ``order`` sorts the rows by cell (None when they already are, as rows in
    the interactions key order are), ``starts`` is the first sorted row of
    each cell. Rows of one cell are folded in their sorted order, so sums are
    the same whatever the input order of equal rows' neighbours.
    """

    order: np.ndarray | None
    starts: np.ndarray
    users: np.ndarray
    items: np.ndarray

    @property
    def size(self) -> int:
        return self.starts.size

    def _sorted(self, values: np.ndarray) -> np.ndarray:
        return values if self.order is None else values[self.order]

    def sum(self, values: np.ndarray) -> np.ndarray:
        if self.size == 0:
            return np.zeros(0)
        return np.add.reduceat(self._sorted(values), self.starts)

    def maximum(self, values: np.ndarray) -> np.ndarray:
        if self.size == 0:
            return np.zeros(0, dtype=values.dtype)
        return np.maximum.reduceat(self._sorted(values), self.starts)

    def matrix(self, values: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
        """CSR matrix holding one value per cell, indices sorted."""
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users, minlength=shape[0]), out=indptr[1:])
        index_type = np.int32 if max(shape[1], self.size) < 2**31 else np.int64
        return sparse.csr_matrix(
            (values, self.items.astype(index_type), indptr.astype(index_type)),
            shape=shape,
        )


def _cells(user_codes: np.ndarray, item_codes: np.ndarray, n_items: int) -> _Cells:
    keys = user_codes.astype(np.int64) * n_items + item_codes
    order = None
    if keys.size > 1 and (keys[1:] < keys[:-1]).any():
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
    if keys.size:
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    else:
        starts = np.zeros(0, dtype=np.int64)
    cell_keys = keys[starts]
    return _Cells(
        order=order,
        starts=starts,
        users=cell_keys // n_items,
        items=cell_keys % n_items,
    )


def _check_positive(value: int, name: str) -> None:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _thread_count(n_threads: int | None) -> int:
    if n_threads is None:
        return max(1, min(4, os.cpu_count() or 1))
    _check_positive(n_threads, "n_threads")
    return int(n_threads)


def _counts(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column).fillna(0).to_numpy(dtype=np.float64)


def _sorted_codes(
    ids: pd.Series, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the ids into their sorted distinct values, and those values.

    With ``keep`` (a boolean mask), only the kept rows are coded and only the
    values they use are returned; kept rows must not be null. Without it no
    id may be null. Arrow-backed strings are dictionary-encoded by Arrow and
    only the distinct values are sorted (byte order of UTF-8, which is code
    point order, the order Python sorts str in); anything else goes through
    pandas.
    """
    if hasattr(ids.array, "__arrow_array__"):
        encoded = pc.dictionary_encode(ids.array.__arrow_array__()).combine_chunks()
        order = pc.array_sort_indices(encoded.dictionary).to_numpy()
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        # Null ids get code 0 here; they are never among the kept rows.
        indices = encoded.indices.fill_null(0).to_numpy()
        codes = rank[indices] if order.size else np.zeros(indices.size, np.int64)
        values = encoded.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    else:
        codes, values = pd.factorize(ids, sort=True)
    values = np.asarray(values, dtype=object)
    if keep is None:
        return codes, values
    codes = codes[keep]
    used = np.zeros(values.size, dtype=bool)
    used[codes] = True
    compact = np.cumsum(used) - 1
    return compact[codes], values[used]


def _utc_timestamp(value: Any) -> pd.Timestamp:
    timestamp = pd.Timestamp(value)
    if timestamp.tzinfo is not None:
        timestamp = timestamp.tz_convert("UTC").tz_localize(None)
    return timestamp


def _decay_factors(
    at: pd.Series, reference_at: Any, half_life_days: float, column: str
) -> np.ndarray:
    times = pd.to_datetime(at)
    if times.dt.tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    age_days = (_utc_timestamp(reference_at) - times) / pd.Timedelta(days=1)
    age_days = age_days.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = int(np.isnan(age_days).sum())
    if missing:
        raise ValueError(
            f"{missing} interaction rows have events but no {column}: a decayed "
            "weight needs the time of the last event"
        )
    return 0.5 ** (np.maximum(age_days, 0.0) / half_life_days)


def _positive_cells(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """The matrix's positive cells with float64 weights, indices sorted.

    Shares the index arrays with ``matrix`` when it is already so.
    """
    matrix = sparse.csr_matrix(matrix)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    weights = matrix.data.astype(np.float64)
    if (weights <= 0).any():
        positive = sparse.csr_matrix(
            (np.maximum(weights, 0.0), matrix.indices, matrix.indptr),
            shape=matrix.shape,
        )
        positive.eliminate_zeros()
        return positive
    return sparse.csr_matrix(
        (weights, matrix.indices, matrix.indptr), shape=matrix.shape, copy=False
    )


def _pattern(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    return sparse.csr_matrix(
        (np.ones(matrix.nnz, dtype=bool), matrix.indices, matrix.indptr),
        shape=matrix.shape,
    )


def _subset_users(m: InteractionMatrix, rows: np.ndarray) -> InteractionMatrix:
    return InteractionMatrix(
        matrix=m.matrix[rows],
        user_ids=m.user_ids[rows],
        item_ids=m.item_ids,
        seen=m.seen_matrix()[rows],
        profile=m.profile[rows] if m.profile is not None else None,
    )


def _popularity_order(m: InteractionMatrix) -> np.ndarray:
    positive_cells = m.matrix.indices[m.matrix.data > 0]
    users_per_item = np.bincount(positive_cells, minlength=m.shape[1])
    order = np.lexsort((np.arange(m.shape[1]), -users_per_item))
    return order[users_per_item[order] > 0]


def _lookup(matrix: sparse.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> Any:
    if rows.size == 0:
        return np.zeros(0, dtype=matrix.dtype)
    return np.asarray(matrix[rows, cols]).ravel()


def _expand_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each of ``rows``, the positions of its stored entries, flattened.

    Returns the index into ``rows`` of each position, the positions and the
    start of each row's run in the flattened arrays.
    """
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    run_starts = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(rows.size), lengths)
    positions = starts[owner] + np.arange(owner.size) - run_starts[owner]
    return owner, positions, run_starts


# --- top-k selection ------------------------------------------------------------


def _top_k_per_group(
    groups: np.ndarray,
    values: np.ndarray,
    tie_breaks: np.ndarray,
    n_groups: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the k largest values of each group, and their ranks (1..k).

    ``groups`` must be non-decreasing, ``values`` non-negative and ``tie_breaks``
    distinct within a group. The result is ordered by group, value descending,
    then tie_breaks ascending.
    """
    candidates = _top_k_candidates(groups, values, n_groups, k)
    ordered = candidates[
        _group_value_order(
            groups[candidates], values[candidates], tie_breaks[candidates]
        )
    ]
    ordered_groups = groups[ordered]
    sizes = np.bincount(ordered_groups, minlength=n_groups)
    ranks = np.arange(ordered.size) - (np.cumsum(sizes) - sizes)[ordered_groups] + 1
    keep = ranks <= k
    return ordered[keep], ranks[keep]


def _group_value_order(
    groups: np.ndarray, values: np.ndarray, tie_breaks: np.ndarray
) -> np.ndarray:
    """Order by group, then value descending, then tie_breaks ascending.

    Values are replaced by their dense rank so that the three keys fit one int64
    and a single sort does the work (much faster than a three-key lexsort).
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    by_value = np.argsort(values)
    sorted_values = values[by_value]
    value_rank = np.empty(values.size, dtype=np.int64)
    value_rank[by_value] = np.cumsum(
        np.concatenate(([0], sorted_values[1:] != sorted_values[:-1]))
    )
    n_values = int(value_rank[by_value[-1]]) + 1
    first_group = int(groups[0])
    n_group_keys = int(groups[-1]) - first_group + 1
    n_tie_keys = int(tie_breaks.max()) + 1
    if n_group_keys * n_values * n_tie_keys >= 2**62:
        return np.lexsort((tie_breaks, -value_rank, groups))
    key = (groups - first_group).astype(np.int64) * n_values
    key += n_values - 1 - value_rank
    key *= n_tie_keys
    key += tie_breaks
    return np.argsort(key)


def _top_k_candidates(
    groups: np.ndarray, values: np.ndarray, n_groups: int, k: int
) -> np.ndarray:
    """Positions that may be in their group's top k, a superset of it (O(n)).

    A group keeps every entry whose bucket is at or above the highest bucket that
    still has k entries at or above it; the k-th largest value sits in that
    bucket, so nothing of the top k (ties included) is lost.
    """
    sizes = np.bincount(groups, minlength=n_groups)
    crowded = sizes > k
    if not crowded.any():
        return np.arange(values.size)
    crowded_sizes = sizes[crowded]
    if crowded_sizes.size == np.count_nonzero(sizes):
        positions = None
        crowded_values = values
    else:
        positions = np.flatnonzero(crowded[groups])
        crowded_values = values[positions]
    starts = np.cumsum(crowded_sizes) - crowded_sizes
    crowded_rank = np.repeat(
        np.arange(crowded_sizes.size, dtype=np.int64), crowded_sizes
    )
    bits = crowded_values.astype(np.float32).view(np.int32) >> _BUCKET_SHIFT
    buckets = bits - np.maximum.reduceat(bits, starts)[crowded_rank]
    buckets += _N_BUCKETS - 1
    np.maximum(buckets, 0, out=buckets)

    thresholds = np.empty(crowded_sizes.size, dtype=np.int64)
    groups_per_chunk = max(1, _COUNT_TABLE_CELLS // _N_BUCKETS)
    bounds = np.concatenate((starts, [crowded_values.size]))
    for first in range(0, crowded_sizes.size, groups_per_chunk):
        last = min(first + groups_per_chunk, crowded_sizes.size)
        lo, hi = bounds[first], bounds[last]
        table = np.bincount(
            (crowded_rank[lo:hi] - first) * _N_BUCKETS + buckets[lo:hi],
            minlength=(last - first) * _N_BUCKETS,
        ).reshape(last - first, _N_BUCKETS)
        at_or_above = np.cumsum(table[:, ::-1], axis=1)
        thresholds[first:last] = _N_BUCKETS - (at_or_above >= k).argmax(axis=1) - 1

    keep_crowded = buckets >= thresholds[crowded_rank]
    if positions is None:
        return np.flatnonzero(keep_crowded)
    keep = np.ones(values.size, dtype=bool)
    keep[positions] = keep_crowded
    return np.flatnonzero(keep)


# --- similarities -----------------------------------------------------------------


def _item_blocks(work: np.ndarray, block_size: int) -> list[tuple[int, int]]:
    """Contiguous item ranges whose summed work stays within the budget."""
    n_items = work.size
    cumulative = np.cumsum(work)
    blocks = []
    start = 0
    while start < n_items:
        done = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, done + _BLOCK_WORK_BUDGET, "right"))
        stop = min(max(stop, start + 1), start + block_size, n_items)
        blocks.append((start, stop))
        start = stop
    return blocks


# --- recommendations -------------------------------------------------------------


@dataclass(frozen=True)
class _Recommendations:
    users: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    ranks: np.ndarray
    sources: np.ndarray
    from_cf: np.ndarray


def _neighbour_matrix(
    m: InteractionMatrix, similarities: pd.DataFrame
) -> sparse.csr_matrix:
    """Kept similarities as an items x items matrix: row j, column i = sim(j, i)."""
    _require_columns(
        similarities, ["item_id", "similar_item_id", "similarity"], "similarities"
    )
    items = pd.Index(m.item_ids)
    rows = items.get_indexer(similarities["item_id"])
    cols = items.get_indexer(similarities["similar_item_id"])
    values = pd.to_numeric(similarities["similarity"]).to_numpy(dtype=np.float64)
    keep = (rows >= 0) & (cols >= 0) & (rows != cols) & (values > 0)
    n_items = m.shape[1]
    neighbours = sparse.csr_matrix(
        (values[keep], (rows[keep], cols[keep])), shape=(n_items, n_items)
    )
    neighbours.sum_duplicates()
    if neighbours.nnz != int(keep.sum()):
        raise ValueError(
            "similarities has duplicate (item_id, similar_item_id) pairs; pass the "
            "output of item_similarities"
        )
    return neighbours


def _popular_catalog(
    m: InteractionMatrix, popular: Sequence[Any] | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Popular items as positions in a catalog: the matrix items, then the
    popular ids the matrix does not have."""
    if popular is None:
        return _popularity_order(m), m.item_ids
    ids = pd.unique(pd.Series(np.asarray(popular, dtype=object)).dropna())
    ids = np.asarray(ids, dtype=object)
    positions = pd.Index(m.item_ids).get_indexer(ids)
    outside = positions < 0
    positions[outside] = m.shape[1] + np.arange(int(outside.sum()))
    return positions.astype(np.int64), np.concatenate([m.item_ids, ids[outside]])


def _extra_users(m: InteractionMatrix, users: Iterable[Any] | None) -> np.ndarray:
    if users is None:
        return np.zeros(0, dtype=object)
    ids = pd.Series(list(users), dtype=object).dropna().drop_duplicates()
    ids = ids[pd.Index(m.user_ids).get_indexer(ids) < 0]
    return np.asarray(ids.sort_values(), dtype=object)


def _recommend_arrays(
    m: InteractionMatrix,
    neighbours: sparse.csr_matrix,
    n: int,
    batch_size: int,
    popular_index: np.ndarray,
    n_extra_users: int,
    n_threads: int | None,
) -> _Recommendations:
    """Recommendations by user position (matrix users, then the extra users)."""
    weighted = m.profile_matrix()
    seen = m.seen_matrix()
    n_users, n_items = m.shape

    def batch(start: int) -> _Recommendations:
        stop = min(start + batch_size, n_users)
        part = _recommend_batch(
            weighted[start:stop],
            seen[start:stop],
            neighbours,
            n,
            popular_index,
        )
        return _Recommendations(part.users + start, *_recommendation_fields(part)[1:])

    with ThreadPoolExecutor(_thread_count(n_threads)) as executor:
        parts = list(executor.map(batch, range(0, n_users, batch_size)))

    if n_extra_users:
        listed = popular_index[:n]
        parts.append(
            _Recommendations(
                users=np.repeat(
                    np.arange(n_users, n_users + n_extra_users), listed.size
                ),
                items=np.tile(listed, n_extra_users),
                scores=np.zeros(listed.size * n_extra_users),
                ranks=np.tile(np.arange(1, listed.size + 1), n_extra_users),
                sources=np.full(listed.size * n_extra_users, -1, dtype=np.int64),
                from_cf=np.zeros(listed.size * n_extra_users, dtype=bool),
            )
        )
    if not parts:
        return _empty_recommendations()
    return _Recommendations(
        *(
            np.concatenate(arrays)
            for arrays in zip(*map(_recommendation_fields, parts), strict=True)
        )
    )


def _recommendation_fields(result: _Recommendations) -> tuple[np.ndarray, ...]:
    return (
        result.users,
        result.items,
        result.scores,
        result.ranks,
        result.sources,
        result.from_cf,
    )


def _empty_recommendations() -> _Recommendations:
    none = np.zeros(0, dtype=np.int64)
    return _Recommendations(
        none, none, np.zeros(0), none, none, np.zeros(0, dtype=bool)
    )


def _recommend_batch(
    weighted: sparse.csr_matrix,
    seen: sparse.csr_matrix,
    neighbours: sparse.csr_matrix,
    n: int,
    popular_index: np.ndarray,
) -> _Recommendations:
    n_users, n_items = weighted.shape
    scores = (weighted @ neighbours).tocsr()
    # A seen cell becomes -inf, so it drops out with the non-positive scores.
    scores = scores - seen.astype(np.float64) * np.inf
    users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(scores.indptr))
    keep = scores.data > 0
    users, items, values = users[keep], scores.indices[keep], scores.data[keep]
    chosen, ranks = _top_k_per_group(users, values, items, n_users, n)
    users, items, values = users[chosen], items[chosen].astype(np.int64), values[chosen]
    sources = _strongest_sources(weighted, neighbours, users, items)
    cf = _Recommendations(
        users, items, values, ranks, sources, np.ones(users.size, dtype=bool)
    )
    fill = _popular_fill(seen, cf, n, popular_index)
    merged = [
        np.concatenate(pair)
        for pair in zip(_recommendation_fields(cf), fill, strict=True)
    ]
    order = np.lexsort((merged[3], merged[0]))
    return _Recommendations(*(array[order] for array in merged))


def _strongest_sources(
    weighted: sparse.csr_matrix,
    neighbours: sparse.csr_matrix,
    users: np.ndarray,
    items: np.ndarray,
) -> np.ndarray:
    """For each (user, item), the user's item j with the largest
    weight(user, j) * sim(j, item); ties go to the smallest j."""
    if users.size == 0:
        return np.zeros(0, dtype=np.int64)
    owner, positions, run_starts = _expand_rows(weighted.indptr, users)
    sources = weighted.indices[positions].astype(np.int64)
    contributions = weighted.data[positions] * _lookup(
        neighbours, sources, items[owner]
    )
    best = np.maximum.reduceat(contributions, run_starts)
    candidates = np.where(contributions == best[owner], sources, np.iinfo(np.int64).max)
    return np.minimum.reduceat(candidates, run_starts)


def _popular_fill(
    seen: sparse.csr_matrix,
    cf: _Recommendations,
    n: int,
    popular_index: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Most popular items each short list lacks, skipping seen and listed items."""
    n_users, n_items = seen.shape
    cf_counts = np.bincount(cf.users, minlength=n_users)
    short = np.flatnonzero(cf_counts < n)
    if short.size == 0 or popular_index.size == 0:
        return _recommendation_fields(_empty_recommendations())

    missing = n - cf_counts[short]
    # At most (seen + already listed) of the popular items can be skipped.
    scan = np.minimum(
        missing + np.diff(seen.indptr)[short] + cf_counts[short], popular_index.size
    )
    run_starts = np.cumsum(scan) - scan
    owner = np.repeat(np.arange(short.size), scan)
    users = short[owner]
    items = popular_index[np.arange(owner.size) - run_starts[owner]]

    listed = sparse.csr_matrix(
        (np.ones(cf.users.size, dtype=bool), (cf.users, cf.items)),
        shape=(n_users, n_items),
    )
    blocked = (seen + listed).astype(bool)
    in_catalog = items < n_items
    available = np.ones(items.size, dtype=bool)
    available[in_catalog] = ~_lookup(blocked, users[in_catalog], items[in_catalog])

    taken_so_far = np.cumsum(available)
    before_run = np.concatenate(([0], taken_so_far))[run_starts]
    order_in_run = taken_so_far - before_run[owner]
    take = available & (order_in_run <= missing[owner])
    users, items = users[take], items[take]
    ranks = cf_counts[users] + order_in_run[take]
    return (
        users,
        items,
        np.zeros(users.size),
        ranks,
        np.full(users.size, -1, dtype=np.int64),
        np.zeros(users.size, dtype=bool),
    )


def _ids_at(ids: np.ndarray, positions: np.ndarray) -> Any:
    """Ids at the given positions (-1 gives a null), as a string array when the
    ids are strings."""
    missing = positions < 0
    try:
        dictionary = pa.array(ids, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        values = np.asarray(ids, dtype=object)[np.where(missing, 0, positions)]
        values[missing] = None
        return values
    return pd.array(dictionary.take(pa.array(positions, mask=missing)), dtype="str")


def _sorted_by_user(result: _Recommendations, user_ids: np.ndarray) -> _Recommendations:
    """Rows ordered by user id (then rank, which each user's rows already follow);
    ``result.users`` are positions in ``user_ids``."""
    position = np.empty(user_ids.size, dtype=np.int64)
    position[np.argsort(user_ids, kind="stable")] = np.arange(user_ids.size)
    order = np.argsort(position[result.users], kind="stable")
    return _Recommendations(
        users=result.users[order],
        items=result.items[order],
        scores=result.scores[order],
        ranks=result.ranks[order],
        sources=result.sources[order],
        from_cf=result.from_cf[order],
    )


# --- evaluation -------------------------------------------------------------------


def _holdout_relevant(
    interactions: pd.DataFrame,
    train: InteractionMatrix,
    relevant_event_types: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """(train user position, train item position or -1) of each relevant pair.

    Users without any train interaction are left out (they cannot be evaluated);
    items the user interacted with in train are not relevant.
    """
    in_holdout = _counts(interactions["events"]) > _counts(
        interactions["events_before_holdout"]
    )
    mask = (
        in_holdout
        & interactions["event_type"].isin(list(relevant_event_types)).to_numpy()
        & interactions["user_id"].notna().to_numpy()
        & interactions["item_id"].notna().to_numpy()
    )
    pairs = interactions.loc[mask, ["user_id", "item_id"]].drop_duplicates()
    users = pd.Index(train.user_ids).get_indexer(pairs["user_id"])
    items = pd.Index(train.item_ids).get_indexer(pairs["item_id"])
    users, items = users[users >= 0], items[users >= 0]
    in_catalog = items >= 0
    seen_in_train = np.zeros(items.size, dtype=bool)
    seen_in_train[in_catalog] = _lookup(
        train.seen_matrix(), users[in_catalog], items[in_catalog]
    )
    return users[~seen_in_train].astype(np.int64), items[~seen_in_train].astype(
        np.int64
    )
