"""Point-in-time churn classifier, predicted revenue and their baselines.

Input is the user-day activity table (one row per user per day with any
activity): ``user_id``, ``activity_date``, ``events``, ``sessions``, ``views``,
``add_to_carts``, ``purchases``, ``refunds``, ``revenue`` (gross purchase
revenue that day), ``refunded_revenue`` and ``distinct_items``. Missing
numbers count as 0; rows without ``user_id`` or ``activity_date`` are dropped
and duplicate user-day rows are summed. Net revenue of a day is
``revenue - abs(refunded_revenue)``, so either sign convention for refunds gives
the same result.

Definitions
-----------
Cutoff
    A date. Features at a cutoff use only rows with ``activity_date < cutoff``;
    the last observed day is ``cutoff - 1``. An ``N``-day window is
    ``[cutoff - N days, cutoff)``.
Eligible user
    At least one active day in ``[cutoff - lookback_days, cutoff)``
    (default lookback 90 days).
Churned
    1 when an eligible user has no active day in
    ``[cutoff, cutoff + horizon_days)`` (default horizon 30 days), else 0.
Scoring cutoff
    ``as_of_date + 1 day``, so the as-of day's activity is included; users
    eligible at that cutoff are scored. Rows after ``as_of_date`` are ignored.
Labelled cutoffs
    The latest labelled cutoff is ``as_of_date + 1 - horizon_days``: its label
    window ends exactly at the scoring cutoff. Earlier cutoffs step back from
    it by ``cutoff_step_days`` (default: the horizon), at most ``n_cutoffs``
    cutoffs in all (default 6), and never earlier than
    ``first activity date + ceil(lookback_days / 3)`` days, so that every
    training cutoff has at least a third of the lookback as history.
Holdout evaluation
    Evaluated on the latest labelled cutoff; the models are trained on the
    earlier cutoffs ``c`` with ``c + horizon_days <= evaluation cutoff``, so no
    training label looks at days on or after the evaluation cutoff.
Production model
    Trained on all labelled cutoffs, the latest included. When the labelled
    rows exceed ``max_training_rows`` (default 100,000) a seeded uniform
    sample of rows is used (also for the holdout training rows).

Features (one row per eligible user, see ``FEATURE_COLUMNS``)
    ``days_since_last_active``: days from the last active day to the last
    observed day (0 = active on ``cutoff - 1``). ``active_days_7d/30d/90d``:
    active days in the window. ``activity_trend_30d``: active days in the last
    30 days minus active days in ``[cutoff - 60, cutoff - 30)``.
    ``events_30d``, ``events_90d``, ``sessions_30d``, ``views_30d``,
    ``add_to_carts_90d``, ``purchases_90d``, ``refunds_90d``,
    ``distinct_items_90d`` (sum of daily distinct items): window sums.
    ``revenue_90d``: net revenue in the 90-day window.
    ``cart_to_purchase_ratio_90d``: ``purchases_90d / max(add_to_carts_90d, 1)``.
    ``days_since_last_purchase``: days from the last day with a purchase to the
    last observed day, capped at 365; 365 when the user never purchased.
    ``tenure_days``: days from the first active day to the last observed day.
    ``lifetime_active_days``, ``lifetime_purchases``, ``lifetime_net_revenue``:
    over all rows before the cutoff. ``mean_gap_days``: mean days between
    consecutive active days, ``(last - first) / (active days - 1)``; for a user
    with a single active day the gap still open, ``days_since_last_active``.

Churn model
    ``HistGradientBoostingClassifier`` (seeded, no early stopping, 60
    iterations, learning rate 0.15, at most 15 leaves, at least 40 rows per
    leaf, L2 1.0) fitted once on all training rows; its log-loss output is the
    probability. It is not recalibrated: on a 10-million-event benchmark a
    sigmoid fitted on 3-fold cross-validated scores changed the holdout Brier
    score by less than 1e-5 and took 2.6 times as long to fit.
Risk bands
    ``low`` when p < 0.3, ``medium`` when 0.3 <= p < 0.6, ``high`` when p >= 0.6.
Drivers
    Occlusion: for each feature in turn, every scored user's value is replaced
    by the median of that feature over the production training rows and the
    drop of the churn log-odds
    is measured, ``logit(p(actual)) - logit(p(median))`` (natural log; only
    the trees whose path for the user tests the feature are walked again,
    see ``ulm.occlusion``). ``driver_1..3`` are the three features with
    the largest positive contribution, written as
    ``"days_since_last_active=45 (+1.32)"``: +0.69 means that this value alone
    doubles the odds of churn compared with a typical value. Log-odds rather
    than probability points, because near p = 1 several signals each suffice
    and no single one moves the probability, which would leave the riskiest
    users without drivers. A slot is null when fewer than three features add
    at least 0.05. With ``drivers_min_probability`` > 0 only users at or above
    that probability get drivers (a time saver on large inputs).
Fallback (``model_variant = "baseline_recency"``)
    Used when the production training rows are fewer than
    ``min_training_rows``, when their labels have a single class, or when there
    is no labelled cutoff. The churn probability comes from the churn rate by
    ``days_since_last_active`` bucket (``RECENCY_BUCKET_EDGES``) over all
    labelled rows, each bucket shrunk towards the recency ramp with
    ``RECENCY_PRIOR_WEIGHT`` pseudo-rows and made non-decreasing in recency;
    without any labelled row the ramp ``min(days_since_last_active / horizon,
    1)`` itself. Driver 1 is then ``"days_since_last_active=N"`` (null when
    N = 0), drivers 2 and 3 are null.
Status rows
    Every run writes one ``metric_name = "status"`` row per model (``churn``,
    ``predicted_revenue``): ``variant`` is what produced the scores
    (``classifier`` / ``baseline_recency``, ``regressor`` /
    ``previous_window``), ``metric_value`` the number of production training
    rows, ``note`` either ``"ok: ..."`` or ``"fallback: <reason>"``. Empty input
    gives an empty scores frame and status rows with variant ``none``,
    ``metric_value`` NaN and the reason.
Holdout variants (model ``churn``)
    ``classifier``: the churn model above. ``recency``: score =
    ``days_since_last_active``; its Brier score uses the bucket mapping of the
    fallback fitted on the training cutoffs. ``bgnbd``: ``lifetimes``
    ``BetaGeoFitter`` (penalizer 0.001) fitted on all users with activity before
    the evaluation cutoff (seeded sample of at most ``bgnbd_max_users``),
    active days as transactions and days as time unit (frequency = active days
    - 1, recency = last - first active day, T = last observed day - first
    active day). Its score, also used for its Brier score, is the model's
    probability of no active day in the horizon,
    ``1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + horizon)) **
    (r + frequency)``; NaN with a note when it does not fit.
    Metrics: ``roc_auc``, ``pr_auc`` (average precision, churned = positive),
    ``brier``, ``lift_top_decile`` (churn rate in the top 10% of scores over the
    base rate, ties at the boundary shared pro rata), ``base_rate``,
    ``rows_train``, ``rows_test``.
Predicted revenue (model ``predicted_revenue``)
    ``HistGradientBoostingRegressor`` with Poisson loss (seeded) on the same
    training rows, target ``max(future_revenue, 0)``; predictions are >= 0.
    Baseline ``previous_window``: ``max(previous_revenue, 0)``, the net revenue
    of the horizon before the cutoff; it is also the fallback when the regressor
    cannot be trained (too few rows or no positive target). Holdout metrics
    against the actual ``future_revenue``: ``mae``, ``spearman``, ``rows_train``,
    ``rows_test``.
"""

from __future__ import annotations

import logging
import math
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from ulm import occlusion

with warnings.catch_warnings():
    # lifetimes sets a pandas option that pandas 3 deprecates
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter

log = logging.getLogger(__name__)

DEFAULT_HORIZON_DAYS = 30
DEFAULT_LOOKBACK_DAYS = 90
DEFAULT_N_CUTOFFS = 6
DEFAULT_MIN_TRAINING_ROWS = 200
DEFAULT_MAX_TRAINING_ROWS = 100_000
DEFAULT_BGNBD_MAX_USERS = 100_000
MIN_HISTORY_DIVISOR = 3  # history before a cutoff >= ceil(lookback / 3) days
PURCHASE_RECENCY_CAP_DAYS = 365
LONGEST_WINDOW_DAYS = 90
RISK_BAND_MEDIUM_FROM = 0.3
RISK_BAND_HIGH_FROM = 0.6
MIN_DRIVER_LOG_ODDS = 0.05
RECENCY_BUCKET_EDGES = (0, 1, 3, 7, 14, 30, 60, 90)
RECENCY_PRIOR_WEIGHT = 5.0
BGNBD_PENALIZER = 0.001
MIN_CLASS_ROWS = 3  # fewer rows of a class: nothing to learn it from
DEFAULT_MODEL_THREADS = 1
BOOSTING_ITERATIONS = 60
BOOSTING_LEARNING_RATE = 0.15
BOOSTING_MAX_LEAF_NODES = 15

DAILY_COLUMNS = (
    "user_id",
    "activity_date",
    "events",
    "sessions",
    "views",
    "add_to_carts",
    "purchases",
    "refunds",
    "revenue",
    "refunded_revenue",
    "distinct_items",
)
_COUNT_COLUMNS = (
    "events",
    "sessions",
    "views",
    "add_to_carts",
    "purchases",
    "refunds",
    "distinct_items",
)
FEATURE_COLUMNS = (
    "days_since_last_active",
    "active_days_7d",
    "active_days_30d",
    "active_days_90d",
    "activity_trend_30d",
    "events_30d",
    "events_90d",
    "sessions_30d",
    "views_30d",
    "add_to_carts_90d",
    "purchases_90d",
    "refunds_90d",
    "distinct_items_90d",
    "revenue_90d",
    "cart_to_purchase_ratio_90d",
    "days_since_last_purchase",
    "tenure_days",
    "lifetime_active_days",
    "lifetime_purchases",
    "lifetime_net_revenue",
    "mean_gap_days",
)
_FLOAT_FEATURES = frozenset(
    {
        "revenue_90d",
        "cart_to_purchase_ratio_90d",
        "lifetime_net_revenue",
        "mean_gap_days",
    }
)
SCORE_COLUMNS = (
    "user_id",
    "churn_probability",
    "risk_band",
    "predicted_revenue",
    "driver_1",
    "driver_2",
    "driver_3",
    "model_variant",
)
METRIC_COLUMNS = ("model", "variant", "metric_name", "metric_value", "note")
LABEL_COLUMNS = ("cutoff", "churned", "future_revenue", "previous_revenue")


@dataclass
class ChurnResult:
    scores: pd.DataFrame
    metrics: pd.DataFrame


@dataclass(frozen=True)
class _DailyArrays:
    """Activity sorted by (user, day); users are codes into ``user_ids``."""

    user_ids: np.ndarray
    user_code: np.ndarray
    day: np.ndarray
    counts: dict[str, np.ndarray]
    net_revenue: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.day)


@dataclass(frozen=True)
class _Snapshot:
    user_codes: np.ndarray
    features: dict[str, np.ndarray]


# --------------------------------------------------------------------------
# dates and input preparation


def _to_day(value: date | datetime | str | pd.Timestamp | np.datetime64) -> int:
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def _day_to_timestamp(day: int) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(int(day), "D"))


def _prepare_daily(daily: pd.DataFrame, last_day: int | None = None) -> _DailyArrays:
    missing = [c for c in DAILY_COLUMNS if c not in daily.columns]
    if missing:
        raise ValueError(f"daily activity is missing columns: {missing}")
    dates = pd.to_datetime(daily["activity_date"]).to_numpy().astype("datetime64[D]")
    day = dates.astype(np.int64)
    codes, user_ids = pd.factorize(daily["user_id"], sort=True)
    usable = (codes >= 0) & ~np.isnat(dates)
    if last_day is not None:
        usable &= day <= last_day
    keep = None if usable.all() else np.flatnonzero(usable)
    if keep is not None:
        codes, day = codes[keep], day[keep]
    first_day = int(day.min()) if len(day) else 0
    span = int(day.max()) - first_day + 1 if len(day) else 1
    order = np.argsort(codes.astype(np.int64) * span + (day - first_day))
    rows = order if keep is None else keep[order]
    codes, day = codes.astype(np.int64)[order], day[order]

    def column(name: str) -> np.ndarray:
        values = pd.to_numeric(daily[name]).to_numpy(dtype=np.float64, na_value=0.0)
        return values[rows]

    counts = {c: column(c) for c in _COUNT_COLUMNS}
    net = column("revenue") - np.abs(column("refunded_revenue"))
    duplicate = np.zeros(len(day), dtype=bool)
    duplicate[1:] = (codes[1:] == codes[:-1]) & (day[1:] == day[:-1])
    if duplicate.any():
        starts = np.flatnonzero(~duplicate)
        log.info("merged %d duplicate user-day rows", int(duplicate.sum()))
        counts = {c: np.add.reduceat(v, starts) for c, v in counts.items()}
        net = np.add.reduceat(net, starts)
        codes, day = codes[starts], day[starts]
    return _DailyArrays(
        user_ids=np.asarray(user_ids.astype(str), dtype=object),
        user_code=codes,
        day=day,
        counts=counts,
        net_revenue=net,
    )


# --------------------------------------------------------------------------
# features and labels


def _empty_snapshot() -> _Snapshot:
    return _Snapshot(
        user_codes=np.empty(0, dtype=np.int64),
        features={f: np.empty(0) for f in FEATURE_COLUMNS},
    )


def _snapshot(data: _DailyArrays, cutoff_day: int, lookback_days: int) -> _Snapshot:
    before = np.flatnonzero(data.day < cutoff_day)
    if len(before) == 0:
        return _empty_snapshot()
    code, day = data.user_code[before], data.day[before]
    is_start = np.ones(len(code), dtype=bool)
    is_start[1:] = code[1:] != code[:-1]
    starts = np.flatnonzero(is_start)
    ends = np.r_[starts[1:], len(day)] - 1
    eligible = day[ends] >= cutoff_day - lookback_days
    if not eligible.any():
        return _empty_snapshot()

    # rows of eligible users only; `group` numbers eligible users 0..n-1
    group_of_row = np.cumsum(is_start) - 1
    keep = eligible[group_of_row]
    rows = before[keep]
    group = (np.cumsum(eligible) - 1)[group_of_row[keep]]
    starts, ends = starts[eligible], ends[eligible]
    n_users = len(starts)
    last_observed = cutoff_day - 1
    first_day, last_day = day[starts], day[ends]

    # every fixed window is at most LONGEST_WINDOW_DAYS long: sum within it
    in_window = data.day[rows] >= cutoff_day - LONGEST_WINDOW_DAYS
    window_rows, window_group = rows[in_window], group[in_window]
    window_day = data.day[window_rows]

    windows = {}
    for window_days in (7, 30, 60, LONGEST_WINDOW_DAYS):
        inside = window_day >= cutoff_day - window_days
        windows[window_days] = (window_rows[inside], window_group[inside])

    def window_sum(column: str | None, window_days: int) -> np.ndarray:
        rows_in, group_in = windows[window_days]
        if column is None:
            weights = None
        elif column == "net_revenue":
            weights = data.net_revenue[rows_in]
        else:
            weights = data.counts[column][rows_in]
        return np.bincount(group_in, weights=weights, minlength=n_users)

    def as_int(values: np.ndarray) -> np.ndarray:
        return np.rint(values).astype(np.int64)

    lifetime_active_days = (ends - starts + 1).astype(np.int64)
    days_since_last_active = (last_observed - last_day).astype(np.int64)
    active_30 = as_int(window_sum(None, 30))
    active_31_to_60 = as_int(window_sum(None, 60)) - active_30
    purchases_90 = as_int(window_sum("purchases", 90))
    carts_90 = as_int(window_sum("add_to_carts", 90))

    purchases = data.counts["purchases"][rows]
    bought = purchases > 0
    last_purchase = np.full(n_users, last_observed - PURCHASE_RECENCY_CAP_DAYS)
    # rows are sorted by day within a user, so the last assignment wins
    last_purchase[group[bought]] = data.day[rows[bought]]
    days_since_purchase = np.minimum(
        last_observed - last_purchase, PURCHASE_RECENCY_CAP_DAYS
    ).astype(np.int64)

    gaps = np.where(
        lifetime_active_days > 1,
        (last_day - first_day) / np.maximum(lifetime_active_days - 1, 1),
        days_since_last_active,
    ).astype(np.float64)

    features = {
        "days_since_last_active": days_since_last_active,
        "active_days_7d": as_int(window_sum(None, 7)),
        "active_days_30d": active_30,
        "active_days_90d": as_int(window_sum(None, 90)),
        "activity_trend_30d": active_30 - active_31_to_60,
        "events_30d": as_int(window_sum("events", 30)),
        "events_90d": as_int(window_sum("events", 90)),
        "sessions_30d": as_int(window_sum("sessions", 30)),
        "views_30d": as_int(window_sum("views", 30)),
        "add_to_carts_90d": carts_90,
        "purchases_90d": purchases_90,
        "refunds_90d": as_int(window_sum("refunds", 90)),
        "distinct_items_90d": as_int(window_sum("distinct_items", 90)),
        "revenue_90d": window_sum("net_revenue", 90),
        "cart_to_purchase_ratio_90d": purchases_90 / np.maximum(carts_90, 1),
        "days_since_last_purchase": days_since_purchase,
        "tenure_days": (last_observed - first_day).astype(np.int64),
        "lifetime_active_days": lifetime_active_days,
        "lifetime_purchases": as_int(np.bincount(group, purchases, n_users)),
        "lifetime_net_revenue": np.bincount(group, data.net_revenue[rows], n_users),
        "mean_gap_days": gaps,
    }
    return _Snapshot(user_codes=code[starts], features=features)


def _snapshot_frame(data: _DailyArrays, snap: _Snapshot) -> pd.DataFrame:
    frame = pd.DataFrame({"user_id": data.user_ids[snap.user_codes]})
    frame["user_id"] = frame["user_id"].astype(str)
    for name in FEATURE_COLUMNS:
        dtype = np.float64 if name in _FLOAT_FEATURES else np.int64
        frame[name] = snap.features[name].astype(dtype)
    return frame


def _window_totals(
    data: _DailyArrays,
    user_codes: np.ndarray,
    start_day: int,
    end_day: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Active days and net revenue in [start_day, end_day) for the given users."""
    inside = (data.day >= start_day) & (data.day < end_day)
    position = np.full(len(data.user_ids), -1, dtype=np.int64)
    position[user_codes] = np.arange(len(user_codes))
    where = position[data.user_code[inside]]
    known = where >= 0
    n = len(user_codes)
    active = np.bincount(where[known], minlength=n).astype(np.int64)
    revenue = np.bincount(where[known], data.net_revenue[inside][known], n)
    return active, revenue


def _labelled_rows(
    data: _DailyArrays,
    cutoff_days: list[int],
    horizon_days: int,
    lookback_days: int,
) -> pd.DataFrame:
    frames = []
    for cutoff_day in sorted(cutoff_days):
        snap = _snapshot(data, cutoff_day, lookback_days)
        frame = _snapshot_frame(data, snap)
        future_active, future_revenue = _window_totals(
            data, snap.user_codes, cutoff_day, cutoff_day + horizon_days
        )
        _, previous_revenue = _window_totals(
            data, snap.user_codes, cutoff_day - horizon_days, cutoff_day
        )
        frame["cutoff"] = _day_to_timestamp(cutoff_day)
        frame["churned"] = (future_active == 0).astype(np.int64)
        frame["future_revenue"] = future_revenue.astype(np.float64)
        frame["previous_revenue"] = previous_revenue.astype(np.float64)
        log.info(
            "cutoff %s: %d eligible users, churn rate %.3f",
            _day_to_timestamp(cutoff_day).date(),
            len(frame),
            float(frame["churned"].mean()) if len(frame) else float("nan"),
        )
        frames.append(frame)
    if not frames:
        return _empty_training_rows()
    # each frame is in user order, and frames come in cutoff order
    return pd.concat(frames, ignore_index=True)


def _empty_training_rows() -> pd.DataFrame:
    frame = _empty_feature_frame()
    frame["cutoff"] = pd.Series(dtype="datetime64[s]")
    frame["churned"] = pd.Series(dtype=np.int64)
    frame["future_revenue"] = pd.Series(dtype=np.float64)
    frame["previous_revenue"] = pd.Series(dtype=np.float64)
    return frame


def _empty_feature_frame() -> pd.DataFrame:
    columns: dict[str, pd.Series] = {"user_id": pd.Series(dtype=str)}
    for name in FEATURE_COLUMNS:
        dtype = np.float64 if name in _FLOAT_FEATURES else np.int64
        columns[name] = pd.Series(dtype=dtype)
    return pd.DataFrame(columns)


def snapshot_features(
    daily: pd.DataFrame,
    cutoff: date | datetime | str | pd.Timestamp,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> pd.DataFrame:
    """Features of the users eligible at ``cutoff``, from rows before it only."""
    if len(daily) == 0:
        return _empty_feature_frame()
    data = _prepare_daily(daily)
    frame = _snapshot_frame(data, _snapshot(data, _to_day(cutoff), lookback_days))
    log.info(
        "snapshot at %s: %d rows in, %d eligible users",
        pd.Timestamp(cutoff).date(),
        len(daily),
        len(frame),
    )
    return frame


def build_training_rows(
    daily: pd.DataFrame,
    cutoffs: list,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> pd.DataFrame:
    """Features plus ``cutoff``, ``churned``, ``future_revenue``, ``previous_revenue``.

    Labels read ``[cutoff, cutoff + horizon_days)``; the caller picks cutoffs
    whose label window the data fully cover (see ``training_cutoffs``).
    """
    if len(daily) == 0 or len(cutoffs) == 0:
        return _empty_training_rows()
    data = _prepare_daily(daily)
    return _labelled_rows(
        data, sorted({_to_day(c) for c in cutoffs}), horizon_days, lookback_days
    )


def earliest_training_cutoff(
    first_activity_date: date | datetime | str | pd.Timestamp,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> pd.Timestamp:
    days = -(-lookback_days // MIN_HISTORY_DIVISOR)
    return pd.Timestamp(first_activity_date).normalize() + pd.Timedelta(days=days)


def training_cutoffs(
    first_activity_date: date | datetime | str | pd.Timestamp,
    as_of_date: date | datetime | str | pd.Timestamp,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    n_cutoffs: int = DEFAULT_N_CUTOFFS,
    cutoff_step_days: int | None = None,
) -> list[pd.Timestamp]:
    """Labelled cutoffs, oldest first; the last one is the evaluation cutoff."""
    step = horizon_days if cutoff_step_days is None else cutoff_step_days
    if horizon_days < 1 or lookback_days < 1 or n_cutoffs < 1 or step < 1:
        raise ValueError("horizon, lookback, n_cutoffs and step must be positive")
    latest = pd.Timestamp(as_of_date).normalize() + pd.Timedelta(days=1 - horizon_days)
    earliest = earliest_training_cutoff(first_activity_date, lookback_days)
    candidates = [latest - pd.Timedelta(days=k * step) for k in range(n_cutoffs)]
    return sorted(c for c in candidates if c >= earliest)


def holdout_split(
    cutoffs: list[pd.Timestamp], horizon_days: int = DEFAULT_HORIZON_DAYS
) -> tuple[list[pd.Timestamp], pd.Timestamp | None]:
    """Training cutoffs ``c`` with ``c + horizon <= evaluation cutoff``, and it."""
    if not cutoffs:
        return [], None
    evaluation = max(cutoffs)
    horizon = pd.Timedelta(days=horizon_days)
    return [c for c in sorted(cutoffs) if c + horizon <= evaluation], evaluation


# --------------------------------------------------------------------------
# scores, baselines and metrics


def risk_band(probability: np.ndarray | pd.Series) -> np.ndarray:
    p = np.asarray(probability, dtype=np.float64)
    return np.where(
        p >= RISK_BAND_HIGH_FROM,
        "high",
        np.where(p >= RISK_BAND_MEDIUM_FROM, "medium", "low"),
    ).astype(object)


def _recency_ramp(days_since_last_active: np.ndarray, horizon_days: int) -> np.ndarray:
    return np.clip(np.asarray(days_since_last_active) / horizon_days, 0.0, 1.0)


def _recency_bucket(days_since_last_active: np.ndarray) -> np.ndarray:
    edges = np.asarray(RECENCY_BUCKET_EDGES)
    return np.searchsorted(edges, np.asarray(days_since_last_active), side="right") - 1


def recency_bucket_rates(
    days_since_last_active: np.ndarray,
    churned: np.ndarray,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> np.ndarray:
    """Churn probability per ``RECENCY_BUCKET_EDGES`` bucket, shrunk and monotone."""
    n_buckets = len(RECENCY_BUCKET_EDGES)
    bucket = _recency_bucket(days_since_last_active)
    rows = np.bincount(bucket, minlength=n_buckets).astype(np.float64)
    churners = np.bincount(
        bucket, weights=np.asarray(churned, dtype=np.float64), minlength=n_buckets
    )
    prior = _recency_ramp(np.asarray(RECENCY_BUCKET_EDGES), horizon_days)
    rates = (churners + RECENCY_PRIOR_WEIGHT * prior) / (rows + RECENCY_PRIOR_WEIGHT)
    return np.maximum.accumulate(rates)


def _baseline_probability(
    days_since_last_active: np.ndarray,
    labelled: pd.DataFrame,
    horizon_days: int,
) -> np.ndarray:
    if len(labelled) == 0:
        return _recency_ramp(days_since_last_active, horizon_days)
    rates = recency_bucket_rates(
        labelled["days_since_last_active"].to_numpy(),
        labelled["churned"].to_numpy(),
        horizon_days,
    )
    return rates[_recency_bucket(days_since_last_active)]


def lift_at_top_fraction(
    labels: np.ndarray, scores: np.ndarray, fraction: float = 0.1
) -> float:
    """Churn rate among the top ``fraction`` of scores over the base rate.

    Rows tied with the boundary score enter the top group pro rata, so the
    value does not depend on row order.
    """
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    n = len(y)
    if n == 0 or y.sum() == 0:
        return float("nan")
    k = max(1, math.ceil(fraction * n))
    boundary = np.sort(s)[::-1][k - 1]
    above = s > boundary
    tied = s == boundary
    take_from_tied = (k - above.sum()) / tied.sum()
    positives_in_top = y[above].sum() + take_from_tied * y[tied].sum()
    return float((positives_in_top / k) / y.mean())


def _nan_classification_metrics(labels: np.ndarray) -> dict[str, float]:
    base_rate = float(np.mean(labels)) if len(labels) else float("nan")
    return {
        "roc_auc": float("nan"),
        "pr_auc": float("nan"),
        "brier": float("nan"),
        "lift_top_decile": float("nan"),
        "base_rate": base_rate,
    }


def _classification_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    probabilities: np.ndarray | None,
) -> tuple[dict[str, float], str]:
    y = np.asarray(labels)
    metrics = _nan_classification_metrics(y)
    if len(y) == 0:
        return metrics, "no evaluation rows"
    if probabilities is not None:
        metrics["brier"] = float(brier_score_loss(y, probabilities))
    metrics["lift_top_decile"] = lift_at_top_fraction(y, scores)
    if len(np.unique(y)) < 2:
        return metrics, "evaluation labels have a single class"
    metrics["roc_auc"] = float(roc_auc_score(y, scores))
    metrics["pr_auc"] = float(average_precision_score(y, scores))
    return metrics, ""


def _fit_classifier(
    features: np.ndarray, labels: np.ndarray, seed: int
) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(
        max_iter=BOOSTING_ITERATIONS,
        learning_rate=BOOSTING_LEARNING_RATE,
        max_leaf_nodes=BOOSTING_MAX_LEAF_NODES,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(features, labels)
    return model


def _fit_regressor(
    features: np.ndarray, target: np.ndarray, seed: int
) -> HistGradientBoostingRegressor:
    model = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=BOOSTING_ITERATIONS,
        learning_rate=BOOSTING_LEARNING_RATE,
        max_leaf_nodes=BOOSTING_MAX_LEAF_NODES,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(features, np.clip(target, 0.0, None))
    return model


def _classifier_problem(rows: pd.DataFrame, min_training_rows: int) -> str:
    if len(rows) == 0:
        return "no labelled training rows"
    if len(rows) < min_training_rows:
        return (
            f"{len(rows)} labelled training rows < min_training_rows="
            f"{min_training_rows}"
        )
    class_sizes = np.bincount(rows["churned"].to_numpy(), minlength=2)
    if (class_sizes == 0).any():
        only = int(np.argmax(class_sizes))
        return f"training labels have a single class (churned={only})"
    if class_sizes.min() < MIN_CLASS_ROWS:
        return (
            f"the smaller class has {int(class_sizes.min())} rows, fewer than "
            f"{MIN_CLASS_ROWS}"
        )
    return ""


def _regressor_problem(rows: pd.DataFrame, min_training_rows: int) -> str:
    if len(rows) == 0:
        return "no labelled training rows"
    if len(rows) < min_training_rows:
        return (
            f"{len(rows)} labelled training rows < min_training_rows="
            f"{min_training_rows}"
        )
    if not (rows["future_revenue"].to_numpy() > 0).any():
        return "no training row has positive future revenue"
    return ""


def _sample_rows(rows: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(rows) <= max_rows:
        return rows
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(rows), size=max_rows, replace=False))
    log.info("sampled %d of %d training rows (seed %d)", max_rows, len(rows), seed)
    return rows.iloc[keep].reset_index(drop=True)


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)


def bgnbd_no_activity_probability(
    frequency: np.ndarray,
    age: np.ndarray,
    horizon_days: int,
    params: dict[str, float],
    probability_alive: np.ndarray,
) -> np.ndarray:
    """P(no transaction in the next ``horizon_days`` | BG/NBD history).

    Dropout happens only right after a transaction, so a user alive now makes
    no transaction in the horizon with probability E[exp(-lambda * horizon)]
    under the posterior Gamma(r + x, alpha + T) of lambda.
    """
    r, alpha = params["r"], params["alpha"]
    stay_quiet = ((alpha + age) / (alpha + age + horizon_days)) ** (r + frequency)
    return 1.0 - probability_alive + probability_alive * stay_quiet


def _bgnbd_scores(
    data: _DailyArrays,
    cutoff_day: int,
    eval_user_codes: np.ndarray,
    horizon_days: int,
    seed: int,
    max_users: int,
) -> tuple[np.ndarray, int]:
    before = data.day < cutoff_day
    code, day = data.user_code[before], data.day[before]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    ends = np.r_[starts[1:], len(day)] - 1
    users = code[starts]
    frequency = (ends - starts).astype(np.float64)
    recency = (day[ends] - day[starts]).astype(np.float64)
    age = (cutoff_day - 1 - day[starts]).astype(np.float64)

    fit_rows = np.arange(len(users))
    if len(fit_rows) > max_users:
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(len(users), size=max_users, replace=False))
    model = BetaGeoFitter(penalizer_coef=BGNBD_PENALIZER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frequency[fit_rows], recency[fit_rows], age[fit_rows])
    params = {k: float(v) for k, v in model.params_.items()}
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        raise ValueError(f"BG/NBD parameters are not usable: {params}")

    where = np.searchsorted(users, eval_user_codes)
    eval_frequency, eval_age = frequency[where], age[where]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = model.conditional_probability_alive(
            eval_frequency, recency[where], eval_age
        )
    scores = bgnbd_no_activity_probability(
        eval_frequency, eval_age, horizon_days, params, np.asarray(alive, dtype=float)
    )
    if not np.isfinite(scores).all():
        raise ValueError("BG/NBD produced non-finite probabilities")
    log.info(
        "BG/NBD fitted on %d users: r=%.3f alpha=%.3f a=%.3f b=%.3f",
        len(fit_rows),
        params["r"],
        params["alpha"],
        params["a"],
        params["b"],
    )
    return scores, len(fit_rows)


def _add_metrics(
    metrics: list[dict],
    model: str,
    variant: str,
    values: dict[str, float],
    note: str = "",
) -> None:
    for name, value in values.items():
        value = float(value)
        metrics.append(
            {
                "model": model,
                "variant": variant,
                "metric_name": name,
                "metric_value": value,
                "note": note,
            }
        )
        log.info("metric %s/%s %s=%.4f %s", model, variant, name, value, note)


def _metrics_frame(metrics: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(metrics, columns=list(METRIC_COLUMNS))
    frame["metric_value"] = frame["metric_value"].astype(np.float64)
    frame["note"] = frame["note"].astype(str)
    return frame


def _evaluate_churn(
    data: _DailyArrays,
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluation_day: int | None,
    horizon_days: int,
    seed: int,
    min_training_rows: int,
    bgnbd_max_users: int,
    metrics: list[dict],
) -> None:
    y_test = test["churned"].to_numpy()
    sizes = {"rows_train": float(len(train)), "rows_test": float(len(test))}
    no_eval = "no labelled evaluation cutoff" if evaluation_day is None else ""

    problem = no_eval or _classifier_problem(train, min_training_rows)
    if problem:
        values = _nan_classification_metrics(y_test)
        _add_metrics(
            metrics, "churn", "classifier", values | sizes, f"not evaluated: {problem}"
        )
    else:
        model = _fit_classifier(_matrix(train), train["churned"].to_numpy(), seed)
        probability = model.predict_proba(_matrix(test))[:, 1]
        values, note = _classification_metrics(y_test, probability, probability)
        _add_metrics(metrics, "churn", "classifier", values | sizes, note)

    recency = test["days_since_last_active"].to_numpy()
    recency_probability = None
    recency_note = ""
    if len(train):
        recency_probability = _baseline_probability(recency, train, horizon_days)
    else:
        recency_note = "brier not computed: no training rows for the bucket mapping"
    values, note = _classification_metrics(y_test, recency, recency_probability)
    _add_metrics(
        metrics,
        "churn",
        "recency",
        values | sizes,
        "; ".join(n for n in (note, recency_note) if n),
    )

    bgnbd_note = no_eval or ("" if len(test) else "no evaluation rows")
    values = _nan_classification_metrics(y_test)
    fitted_users = 0
    if not bgnbd_note:
        eval_codes = pd.Index(data.user_ids).get_indexer(test["user_id"])
        try:
            scores, fitted_users = _bgnbd_scores(
                data, evaluation_day, eval_codes, horizon_days, seed, bgnbd_max_users
            )
            values, bgnbd_note = _classification_metrics(y_test, scores, scores)
        except Exception as error:  # lifetimes raises several error types
            bgnbd_note = f"BG/NBD did not fit: {type(error).__name__}: {error}"
            log.warning(bgnbd_note)
    _add_metrics(
        metrics,
        "churn",
        "bgnbd",
        values | {"rows_train": float(fitted_users), "rows_test": float(len(test))},
        bgnbd_note,
    )


def _regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> tuple[dict, str]:
    if len(actual) == 0:
        return {"mae": np.nan, "spearman": np.nan}, "no evaluation rows"
    mae = float(np.mean(np.abs(actual - predicted)))
    if np.ptp(actual) == 0 or np.ptp(predicted) == 0:
        return {"mae": mae, "spearman": np.nan}, "spearman undefined: constant values"
    return {"mae": mae, "spearman": float(spearmanr(actual, predicted).statistic)}, ""


def _evaluate_revenue(
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluation_day: int | None,
    seed: int,
    min_training_rows: int,
    metrics: list[dict],
) -> None:
    actual = test["future_revenue"].to_numpy()
    sizes = {"rows_train": float(len(train)), "rows_test": float(len(test))}
    no_eval = "no labelled evaluation cutoff" if evaluation_day is None else ""

    problem = no_eval or _regressor_problem(train, min_training_rows)
    if problem:
        values = {"mae": np.nan, "spearman": np.nan}
        _add_metrics(
            metrics,
            "predicted_revenue",
            "regressor",
            values | sizes,
            f"not evaluated: {problem}",
        )
    else:
        model = _fit_regressor(_matrix(train), train["future_revenue"].to_numpy(), seed)
        values, note = _regression_metrics(actual, model.predict(_matrix(test)))
        _add_metrics(metrics, "predicted_revenue", "regressor", values | sizes, note)

    naive = np.clip(test["previous_revenue"].to_numpy(), 0.0, None)
    values, note = _regression_metrics(actual, naive)
    _add_metrics(
        metrics,
        "predicted_revenue",
        "previous_window",
        values | {"rows_train": 0.0, "rows_test": float(len(test))},
        note,
    )


def _logit(probability: np.ndarray) -> np.ndarray:
    p = np.clip(probability, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def occlusion_contributions(
    model: HistGradientBoostingClassifier,
    features: np.ndarray,
    reference: np.ndarray,
    min_probability: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Probability and, per feature, the log-odds drop when set to reference.

    Rows with a probability below ``min_probability`` get no contributions (0).
    The drops come from the trees that split on each feature
    (``ulm.occlusion``); for a model whose trees cannot be read that way, from
    one prediction of the whole model per feature.
    """
    if len(features) == 0:
        return np.empty(0), np.empty((0, features.shape[1]))
    probability = model.predict_proba(features)[:, 1]
    explained = probability >= min_probability
    trees = occlusion.tree_arrays(model, features.shape[1])
    if trees is not None:
        return probability, occlusion.log_odds_drops(
            trees, features, reference, explained
        )
    log.info("drivers: predicting the model once per feature")
    return probability, predicted_log_odds_drops(
        model, features, reference, probability, explained
    )


def predicted_log_odds_drops(
    model: HistGradientBoostingClassifier,
    features: np.ndarray,
    reference: np.ndarray,
    probability: np.ndarray,
    explained: np.ndarray,
) -> np.ndarray:
    """The log-odds drops of ``occlusion_contributions``, one batch per feature."""
    log_odds = _logit(probability)
    contributions = np.zeros_like(features)
    for j in range(features.shape[1]):
        # users already at the reference value contribute exactly 0
        changed = explained & (features[:, j] != reference[j])
        if not changed.any():
            continue
        occluded = features[changed]
        occluded[:, j] = reference[j]
        contributions[changed, j] = log_odds[changed] - _logit(
            model.predict_proba(occluded)[:, 1]
        )
    return contributions


def _driver_columns(
    features: np.ndarray, contributions: np.ndarray
) -> dict[str, np.ndarray]:
    names = np.asarray(FEATURE_COLUMNS, dtype=object)
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :3]
    drivers = {}
    for k in range(3):
        column = order[:, k]
        rows = np.arange(len(features))
        contribution = contributions[rows, column]
        shown = np.flatnonzero(contribution >= MIN_DRIVER_LOG_ODDS)
        values = np.round(features[shown, column[shown]], 2)
        text = (
            names[column[shown]]
            + "="
            + np.char.mod("%.10g", values).astype(object)
            + " (+"
            + np.char.mod("%.2f", contribution[shown]).astype(object)
            + ")"
        )
        driver = np.full(len(features), None, dtype=object)
        driver[shown] = text
        drivers[f"driver_{k + 1}"] = driver
    return drivers


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype=str),
            "churn_probability": pd.Series(dtype=np.float64),
            "risk_band": pd.Series(dtype=str),
            "predicted_revenue": pd.Series(dtype=np.float64),
            "driver_1": pd.Series(dtype=str),
            "driver_2": pd.Series(dtype=str),
            "driver_3": pd.Series(dtype=str),
            "model_variant": pd.Series(dtype=str),
        }
    )


def _production_churn(
    production: pd.DataFrame,
    labelled: pd.DataFrame,
    scoring: pd.DataFrame,
    horizon_days: int,
    seed: int,
    min_training_rows: int,
    drivers_min_probability: float,
) -> tuple[np.ndarray, dict[str, np.ndarray], str, str]:
    """Probability, drivers, variant and status note for the scored users."""
    recency = scoring["days_since_last_active"].to_numpy()
    problem = _classifier_problem(production, min_training_rows)
    if problem:
        note = f"fallback: {problem}"
        log.warning("churn model: %s", note)
        probability = _baseline_probability(recency, labelled, horizon_days)
        first_driver = np.where(
            recency > 0,
            "days_since_last_active=" + recency.astype(str).astype(object),
            None,
        )
        no_driver = np.full(len(scoring), None, dtype=object)
        drivers = {
            "driver_1": first_driver,
            "driver_2": no_driver,
            "driver_3": no_driver,
        }
        return probability, drivers, "baseline_recency", note

    model = _fit_classifier(_matrix(production), production["churned"].to_numpy(), seed)
    reference = np.median(_matrix(production), axis=0)
    scoring_matrix = _matrix(scoring)
    probability, contributions = occlusion_contributions(
        model, scoring_matrix, reference, drivers_min_probability
    )
    drivers = _driver_columns(scoring_matrix, contributions)
    n_cutoffs = production["cutoff"].nunique()
    note = f"ok: trained on {len(production)} rows from {n_cutoffs} cutoffs"
    return probability, drivers, "classifier", note


def _production_revenue(
    production: pd.DataFrame,
    scoring: pd.DataFrame,
    previous_revenue: np.ndarray,
    seed: int,
    min_training_rows: int,
) -> tuple[np.ndarray, str, str]:
    """Predicted revenue, variant and status note for the scored users."""
    problem = _regressor_problem(production, min_training_rows)
    if problem:
        note = f"fallback: {problem}"
        log.warning("revenue model: %s", note)
        return np.clip(previous_revenue, 0.0, None), "previous_window", note
    model = _fit_regressor(
        _matrix(production), production["future_revenue"].to_numpy(), seed
    )
    predicted = (
        np.clip(model.predict(_matrix(scoring)), 0.0, None)
        if len(scoring)
        else np.empty(0)
    )
    return predicted, "regressor", f"ok: trained on {len(production)} rows"


def _empty_result(reason: str) -> ChurnResult:
    log.warning("churn scoring skipped: %s", reason)
    metrics: list[dict] = []
    _add_metrics(metrics, "churn", "none", {"status": np.nan}, reason)
    _add_metrics(metrics, "predicted_revenue", "none", {"status": np.nan}, reason)
    return ChurnResult(scores=_empty_scores(), metrics=_metrics_frame(metrics))


def score_churn(
    daily: pd.DataFrame,
    as_of_date: date | datetime | str | pd.Timestamp | None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    n_cutoffs: int = DEFAULT_N_CUTOFFS,
    cutoff_step_days: int | None = None,
    seed: int = 42,
    min_training_rows: int = DEFAULT_MIN_TRAINING_ROWS,
    *,
    max_training_rows: int = DEFAULT_MAX_TRAINING_ROWS,
    bgnbd_max_users: int = DEFAULT_BGNBD_MAX_USERS,
    n_threads: int | None = DEFAULT_MODEL_THREADS,
    drivers_min_probability: float = 0.0,
) -> ChurnResult:
    """Churn probability, risk band, drivers and predicted revenue per user.

    ``as_of_date`` None means the last activity date in ``daily``.
    ``drivers_min_probability`` > 0 computes drivers only for users at or above
    that churn probability (null below), which saves time on large inputs.
    ``n_threads`` caps the OpenMP threads of the boosted models; None leaves
    the library default (all cores). The default 1 is a little slower on an
    idle machine but several times faster when other work (DuckDB, other
    models) keeps the cores busy, where OpenMP threads wait on each other.
    """
    if daily is None or len(daily) == 0:
        return _empty_result("empty input: no activity rows")
    if as_of_date is None:
        as_of_date = pd.to_datetime(daily["activity_date"]).max()
    as_of_day = _to_day(as_of_date)
    data = _prepare_daily(daily, last_day=as_of_day)
    log.info(
        "churn scoring as of %s: %d rows in, %d used, %d users",
        _day_to_timestamp(as_of_day).date(),
        len(daily),
        data.n_rows,
        len(np.unique(data.user_code)),
    )
    if data.n_rows == 0:
        return _empty_result("empty input: no activity on or before as_of_date")
    threads = (
        nullcontext()
        if n_threads is None
        else threadpool_limits(limits=n_threads, user_api="openmp")
    )
    with threads:
        return _score(
            data,
            as_of_day,
            horizon_days,
            lookback_days,
            n_cutoffs,
            cutoff_step_days,
            seed,
            min_training_rows,
            max_training_rows,
            bgnbd_max_users,
            drivers_min_probability,
        )


def _score(
    data: _DailyArrays,
    as_of_day: int,
    horizon_days: int,
    lookback_days: int,
    n_cutoffs: int,
    cutoff_step_days: int | None,
    seed: int,
    min_training_rows: int,
    max_training_rows: int,
    bgnbd_max_users: int,
    drivers_min_probability: float,
) -> ChurnResult:
    cutoffs = training_cutoffs(
        _day_to_timestamp(int(data.day.min())),
        _day_to_timestamp(as_of_day),
        horizon_days,
        lookback_days,
        n_cutoffs,
        cutoff_step_days,
    )
    holdout_train_cutoffs, evaluation_cutoff = holdout_split(cutoffs, horizon_days)
    log.info(
        "labelled cutoffs %s; evaluation cutoff %s; holdout training cutoffs %s",
        [str(c.date()) for c in cutoffs],
        evaluation_cutoff.date() if evaluation_cutoff is not None else None,
        [str(c.date()) for c in holdout_train_cutoffs],
    )
    rows = _labelled_rows(
        data, [_to_day(c) for c in cutoffs], horizon_days, lookback_days
    )
    log.info(
        "labelled rows: %d, churned %d, retained %d",
        len(rows),
        int(rows["churned"].sum()),
        int((rows["churned"] == 0).sum()),
    )

    metrics: list[dict] = []
    evaluation_day = None if evaluation_cutoff is None else _to_day(evaluation_cutoff)
    holdout_train = _sample_rows(
        rows[rows["cutoff"].isin(holdout_train_cutoffs)].reset_index(drop=True),
        max_training_rows,
        seed,
    )
    holdout_test = rows[rows["cutoff"] == evaluation_cutoff].reset_index(drop=True)
    _evaluate_churn(
        data,
        holdout_train,
        holdout_test,
        evaluation_day,
        horizon_days,
        seed,
        min_training_rows,
        bgnbd_max_users,
        metrics,
    )
    _evaluate_revenue(
        holdout_train, holdout_test, evaluation_day, seed, min_training_rows, metrics
    )

    production = _sample_rows(rows, max_training_rows, seed)
    scoring_day = as_of_day + 1
    snap = _snapshot(data, scoring_day, lookback_days)
    scoring = _snapshot_frame(data, snap)
    log.info(
        "scoring cutoff %s: %d eligible users",
        _day_to_timestamp(scoring_day).date(),
        len(scoring),
    )
    empty_note = "" if len(scoring) else "; no eligible users at the scoring cutoff"

    probability, drivers, variant, churn_note = _production_churn(
        production,
        rows,
        scoring,
        horizon_days,
        seed,
        min_training_rows,
        drivers_min_probability,
    )
    _add_metrics(
        metrics, "churn", variant, {"status": len(production)}, churn_note + empty_note
    )
    _, previous_revenue = _window_totals(
        data, snap.user_codes, scoring_day - horizon_days, scoring_day
    )
    predicted_revenue, revenue_variant, revenue_note = _production_revenue(
        production, scoring, previous_revenue, seed, min_training_rows
    )
    _add_metrics(
        metrics,
        "predicted_revenue",
        revenue_variant,
        {"status": len(production)},
        revenue_note + empty_note,
    )

    if len(scoring) == 0:
        return ChurnResult(scores=_empty_scores(), metrics=_metrics_frame(metrics))
    scores = pd.DataFrame(
        {
            "user_id": scoring["user_id"].astype(str),
            "churn_probability": np.asarray(probability, dtype=np.float64),
            "risk_band": risk_band(probability),
            "predicted_revenue": np.asarray(predicted_revenue, dtype=np.float64),
            # text columns keep an empty slot as a missing value (SQL null) and
            # stay text even when every slot is empty
            "driver_1": pd.Series(drivers["driver_1"], dtype=str),
            "driver_2": pd.Series(drivers["driver_2"], dtype=str),
            "driver_3": pd.Series(drivers["driver_3"], dtype=str),
            "model_variant": variant,
        }
    )
    log.info(
        "scored %d users (%s): mean churn probability %.3f, bands %s",
        len(scores),
        variant,
        float(scores["churn_probability"].mean()),
        {k: int(v) for k, v in scores["risk_band"].value_counts().items()},
    )
    return ChurnResult(scores=scores, metrics=_metrics_frame(metrics))
