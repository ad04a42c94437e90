"""What each dbt Python model computes, from plain frames and settings.

The files under python_models/ only read their refs and call one function
here, so the whole ML layer runs and is tested without dbt. Fits needed by
more than one model go through ulm.cache and happen once per build.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ulm import cache, churn, memory, recommend, segments
from ulm.settings import Settings

log = logging.getLogger(__name__)

SEGMENT_FEATURES = (
    "net_revenue",
    "purchase_days",
    "days_since_last_event",
    "events_90d",
    "active_days_90d",
    "sessions_90d",
    "tenure_days",
    "distinct_items",
)

METRIC_COLUMNS = ["model", "variant", "metric_name", "metric_value", "note"]

# The key of each input table, in the order the models read its rows.
INTERACTION_KEYS = ["user_id", "item_id", "event_type"]
# The interaction columns item CF reads for the published tables, and those
# its holdout evaluation reads: a model reads no more than it uses. The CF
# models of one build read the same columns, so they share one matrix fit.
CF_INTERACTION_COLUMNS = [*INTERACTION_KEYS, "events", "last_at"]
EVALUATION_INTERACTION_COLUMNS = [
    *INTERACTION_KEYS,
    "events",
    "events_before_holdout",
    "last_before_holdout_at",
]
DAILY_KEYS = ["user_id", "activity_date"]
ACTIVITY_KEYS = ["user_id"]


def in_key_order(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows sorted by their key, so results never depend on the engine's scan order.

    An incremental build and a full refresh store the same rows in different
    orders; models fed the same rows in the same order give identical output.
    """
    if is_in_key_order(frame, keys):
        return frame.reset_index(drop=True)
    log.info("sorting %d rows by %s: the input was not in key order", len(frame), keys)
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def is_in_key_order(frame: pd.DataFrame, keys: list[str]) -> bool:
    """True when no row's key is greater than the next row's key.

    Keys compare column by column, as sort_values orders them; a frame the
    engine already sorted (frames.to_pandas with order_by) skips the sort.
    Keys must be free of nulls, as the keys of ulm's tables are.
    """
    if len(frame) < 2:
        return True
    # rows i and i + 1 whose order is still undecided by the keys compared so far
    undecided = np.ones(len(frame) - 1, dtype=bool)
    for key in keys:
        column = frame[key]
        if column.isna().any():
            return False
        current = column.iloc[:-1].reset_index(drop=True)
        following = column.iloc[1:].reset_index(drop=True)
        if (undecided & (current > following).to_numpy(dtype=bool)).any():
            return False
        undecided &= (current == following).to_numpy(dtype=bool)
        if not undecided.any():
            break
    return True


OUTPUT_DECIMALS = 10


def rounded_floats(
    frame: pd.DataFrame, decimals: int = OUTPUT_DECIMALS
) -> pd.DataFrame:
    """Float columns rounded to `decimals` places.

    numpy may sum the same numbers in a different order depending on memory
    layout, which moves the last bits of a result between two runs on the same
    input; rounding keeps published tables identical from build to build.
    """
    floats = frame.select_dtypes(include="floating").columns
    if len(floats) == 0:
        return frame
    return frame.assign(**{column: frame[column].round(decimals) for column in floats})


def as_of_bounds(as_of: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(as_of_date, end of that day) from the one-row int_as_of_date table."""
    if as_of.empty or pd.isna(as_of["as_of_date"].iloc[0]):
        raise ValueError(
            "No accepted events: int_as_of_date is empty, so there is nothing to "
            "model. Check staging.stg_raw__events_rejected for why rows were "
            "rejected."
        )
    as_of_date = pd.Timestamp(as_of["as_of_date"].iloc[0])
    return as_of_date, as_of_date + pd.Timedelta(days=1)


def fit_segments(activity: pd.DataFrame, config: Settings) -> segments.SegmentResult:
    columns = ["user_id", *SEGMENT_FEATURES]
    return cache.cached_call(
        "segments",
        segments.fit_segments,
        {"features": in_key_order(activity[columns], ACTIVITY_KEYS)},
        feature_columns=SEGMENT_FEATURES,
        k=config.segments_k,
        seed=config.random_seed,
    )


@memory.returned
def segment_assignments(activity: pd.DataFrame, config: Settings) -> pd.DataFrame:
    result = fit_segments(activity, config)
    warn_if_few_segments(result, config)
    return rounded_floats(result.assignments)


def warn_if_few_segments(result: segments.SegmentResult, config: Settings) -> None:
    """A warning when the data allow fewer segments than asked for."""
    if len(result.assignments) == 0:
        return
    k_note = result.metrics.loc[result.metrics["metric_name"] == "k", "note"]
    note = k_note.iloc[0] if len(k_note) else ""
    if result.k == 1:
        log.warning("segments: every user is in one segment: %s", note)
    elif config.segments_k != "auto" and result.k < int(config.segments_k):
        log.warning("segments: %s", note)


@memory.returned
def segment_profiles(activity: pd.DataFrame, config: Settings) -> pd.DataFrame:
    return rounded_floats(fit_segments(activity, config).profiles)


def interaction_matrix(
    interactions: pd.DataFrame, as_of: pd.DataFrame, config: Settings
) -> recommend.InteractionMatrix:
    _, as_of_end = as_of_bounds(as_of)
    return cache.cached_call(
        "interaction matrix",
        recommend.build_matrix,
        {"interactions": in_key_order(interactions, INTERACTION_KEYS)},
        weights=config.interaction_weights,
        reference_at=as_of_end,
        half_life_days=config.cf_half_life_days,
        count_scale=config.cf_count_scale,
        recent_items_half_life=config.cf_recent_items_half_life,
    )


@memory.returned
def item_similarities(
    interactions: pd.DataFrame, as_of: pd.DataFrame, config: Settings
) -> pd.DataFrame:
    matrix = interaction_matrix(interactions, as_of, config)
    similarities = recommend.item_similarities(
        matrix, k=config.similar_items_k, min_support=config.cf_min_support
    )
    if similarities.empty:
        log.warning(
            "item similarities: no two of the %d items share %d users "
            "(var cf_min_support), so there are none and every recommendation "
            "comes from the popular fallback",
            matrix.shape[1],
            config.cf_min_support,
        )
    return rounded_floats(similarities)


@memory.returned
def user_recommendations(
    interactions: pd.DataFrame,
    similarities: pd.DataFrame,
    users: pd.DataFrame,
    as_of: pd.DataFrame,
    config: Settings,
) -> pd.DataFrame:
    """Top-N per user; users with no item history get the popular fallback."""
    matrix = interaction_matrix(interactions, as_of, config)
    recommendations = recommend.recommend(
        matrix,
        similarities,
        n=config.recommendations_n,
        users_without_history=users["user_id"].to_numpy(),
    )
    without = users["user_id"].nunique() - recommendations["user_id"].nunique()
    if without > 0:
        log.warning(
            "recommendations: %d of %d users get none: they already interacted "
            "with every item anyone interacted with",
            without,
            users["user_id"].nunique(),
        )
    return rounded_floats(recommendations)


def churn_result(
    daily: pd.DataFrame, as_of: pd.DataFrame, config: Settings
) -> churn.ChurnResult:
    as_of_date, _ = as_of_bounds(as_of)
    return cache.cached_call(
        "churn",
        churn.score_churn,
        {"daily": in_key_order(daily, DAILY_KEYS)},
        as_of_date=as_of_date.date(),
        horizon_days=config.churn_horizon_days,
        lookback_days=config.churn_lookback_days,
        n_cutoffs=config.churn_training_cutoffs,
        seed=config.random_seed,
    )


@memory.returned
def churn_scores(
    daily: pd.DataFrame, as_of: pd.DataFrame, config: Settings
) -> pd.DataFrame:
    scores = churn_result(daily, as_of, config).scores
    if scores.empty:
        log.warning(
            "churn: no user was active in the %d days before as_of_date (var "
            "churn_lookback_days), so ml_churn_scores is empty and dim_users "
            "has no churn probability",
            config.churn_lookback_days,
        )
    return rounded_floats(scores)


@memory.returned
def churn_metrics(
    daily: pd.DataFrame, as_of: pd.DataFrame, config: Settings
) -> pd.DataFrame:
    """Holdout metrics of the churn classifier and its baselines."""
    return churn_result(daily, as_of, config).metrics


@memory.returned
def recommendation_metrics(
    interactions: pd.DataFrame, as_of: pd.DataFrame, config: Settings
) -> pd.DataFrame:
    """Item CF and the most-popular baseline on the time split of holdout_days."""
    as_of_date, as_of_end = as_of_bounds(as_of)
    holdout_start = as_of_end - pd.Timedelta(days=config.holdout_days)
    metrics = recommend.evaluate(
        in_key_order(interactions, INTERACTION_KEYS),
        config.interaction_weights,
        reference_at=holdout_start,
        holdout_start=holdout_start,
        k=10,
        n_neighbours=config.similar_items_k,
        min_support=config.cf_min_support,
        half_life_days=config.cf_half_life_days,
        count_scale=config.cf_count_scale,
        recent_items_half_life=config.cf_recent_items_half_life,
    )
    metrics = metrics.assign(
        note=f"time split: train before {holdout_start:%Y-%m-%d}, "
        f"purchases from then to {as_of_date:%Y-%m-%d} are the truth"
    )
    evaluated = metrics.loc[metrics["metric_name"] == "users_evaluated", "metric_value"]
    if len(evaluated) and not (evaluated > 0).any():
        log.warning(
            "recommendation metrics: no user with history before %s bought a new "
            "item from then to %s, so precision, recall and ndcg are null",
            f"{holdout_start:%Y-%m-%d}",
            f"{as_of_date:%Y-%m-%d}",
        )
    return metrics


def segment_metrics(activity: pd.DataFrame, config: Settings) -> pd.DataFrame:
    """Quality of the segmentation (chosen k, silhouette)."""
    return fit_segments(activity, config).metrics


def model_metrics(
    churn_part: pd.DataFrame,
    recommendation_part: pd.DataFrame,
    segment_part: pd.DataFrame,
    as_of: pd.DataFrame,
) -> pd.DataFrame:
    """The metrics of every model beside its baseline, one row per metric.

    The three parts are computed apart (churn_metrics, recommendation_metrics,
    segment_metrics), so the model can read each input only for its part and
    never hold all of them at once.
    """
    as_of_date, _ = as_of_bounds(as_of)
    metrics = pd.concat(
        [
            frame.reindex(columns=METRIC_COLUMNS)
            for frame in (churn_part, recommendation_part, segment_part)
        ],
        ignore_index=True,
    )
    metrics["metric_value"] = metrics["metric_value"].astype(np.float64)
    metrics["note"] = metrics["note"].fillna("").astype(str)
    metrics.insert(0, "as_of_date", as_of_date.date())
    log.info("model metrics: %d rows", len(metrics))
    metrics = metrics.sort_values(["model", "variant", "metric_name"], kind="stable")
    return rounded_floats(metrics.reset_index(drop=True))
