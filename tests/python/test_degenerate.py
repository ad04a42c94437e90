"""The ML functions on degenerate inputs: nobody to score, nothing to compare.

Each output must still reach the warehouse with the column types of a normal
build, because dim_users has an enforced contract and BI tools read the types,
and each fallback must be announced by a warning in the build's log.
"""

import logging
from collections.abc import Iterator

import duckdb
import pandas as pd
import pytest

from ulm import pipelines
from ulm.churn import SCORE_COLUMNS, score_churn
from ulm.pipelines import SEGMENT_FEATURES
from ulm.settings import Settings

TEXT_SCORE_COLUMNS = ["user_id", "risk_band", "driver_1", "driver_2", "driver_3"]


def day_row(user_id: str, activity_date: str) -> dict:
    return {
        "user_id": user_id,
        "activity_date": pd.Timestamp(activity_date),
        "events": 1,
        "sessions": 1,
        "views": 1,
        "add_to_carts": 0,
        "purchases": 0,
        "refunds": 0,
        "revenue": 0.0,
        "refunded_revenue": 0.0,
        "distinct_items": 1,
    }


def warehouse_types(frame: pd.DataFrame) -> dict[str, str]:
    """Column types DuckDB gives the frame, as a dbt Python model would."""
    relation = duckdb.sql("select * from frame")
    return dict(zip(relation.columns, map(str, relation.types), strict=True))


def test_everyone_churned_gives_empty_scores_with_text_columns() -> None:
    # Last activity in February; as_of_date at the end of the year leaves no
    # user inside the 90-day look-back, so nobody is scored.
    daily = pd.DataFrame(
        [day_row(user, f"2024-02-0{day}") for user in "abc" for day in (1, 2, 3)]
    )

    scores = score_churn(daily, "2024-12-31").scores

    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert scores.empty
    types = warehouse_types(scores)
    assert {column: types[column] for column in TEXT_SCORE_COLUMNS} == dict.fromkeys(
        TEXT_SCORE_COLUMNS, "VARCHAR"
    )
    assert types["model_variant"] == "VARCHAR"
    assert types["churn_probability"] == "DOUBLE"


def test_fallback_with_empty_driver_slots_keeps_them_text() -> None:
    # Too little history for a classifier: the recency fallback fills only
    # driver_1, and only for users not active on as_of_date.
    daily = pd.DataFrame(
        [
            day_row("x", "2024-03-01"),
            day_row("x", "2024-03-20"),
            day_row("y", "2024-03-05"),
        ]
    )

    scores = score_churn(daily, "2024-03-20").scores.set_index("user_id")

    assert (scores["model_variant"] == "baseline_recency").all()
    assert scores.loc["y", "driver_1"] == "days_since_last_active=15"
    assert pd.isna(scores.loc["x", "driver_1"])
    assert scores[["driver_2", "driver_3"]].isna().all().all()
    types = warehouse_types(scores.reset_index())
    assert types["driver_2"] == types["driver_3"] == "VARCHAR"


# --- the warnings the pipelines log for degenerate results ------------------


@pytest.fixture
def pipeline_warnings(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """Warnings of ulm.pipelines, even after the package's own console logging
    (which stops propagation) was switched on by an earlier test."""
    package_log = logging.getLogger("ulm")
    propagate = package_log.propagate
    package_log.propagate = True
    with caplog.at_level(logging.WARNING, logger="ulm.pipelines"):
        yield caplog
    package_log.propagate = propagate


def warning_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "ulm.pipelines" and record.levelno == logging.WARNING
    ]


def activity_frame(n_users: int) -> pd.DataFrame:
    """Users whose every feature grows with their number: all distinct."""
    rows = [
        {"user_id": f"u{n}", **dict.fromkeys(SEGMENT_FEATURES, float(10 * n))}
        for n in range(1, n_users + 1)
    ]
    return pd.DataFrame(rows)


def interactions_frame(rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """(user, item, event type, events, events before the holdout) rows."""
    frame = pd.DataFrame(
        rows,
        columns=["user_id", "item_id", "event_type", "events", "events_before_holdout"],
    )
    return frame.assign(
        last_at=pd.Timestamp("2024-03-01"),
        last_before_holdout_at=pd.Timestamp("2024-03-01"),
    )


AS_OF = pd.DataFrame({"as_of_date": [pd.Timestamp("2024-03-31")]})


def test_one_user_warns_of_one_segment(pipeline_warnings) -> None:
    assignments = pipelines.segment_assignments(activity_frame(1), Settings())

    assert assignments["segment_id"].tolist() == [0]
    assert warning_lines(pipeline_warnings) == [
        "segments: every user is in one segment: all users have the same feature "
        "values: one segment"
    ]


def test_fewer_users_than_a_fixed_k_warns_of_the_cut(pipeline_warnings) -> None:
    assignments = pipelines.segment_assignments(
        activity_frame(3), Settings(segments_k=5)
    )

    assert sorted(assignments["segment_id"]) == [0, 1, 2]
    assert warning_lines(pipeline_warnings) == [
        "segments: configured k=5 reduced to the 3 distinct feature rows"
    ]


def test_one_user_gets_no_similar_items_nor_recommendations(pipeline_warnings) -> None:
    interactions = interactions_frame(
        [("u1", "i1", "view", 2, 2), ("u1", "i2", "view", 1, 1)]
    )
    users = pd.DataFrame({"user_id": ["u1"]})

    similarities = pipelines.item_similarities(interactions, AS_OF, Settings())
    recommendations = pipelines.user_recommendations(
        interactions, similarities, users, AS_OF, Settings()
    )

    assert similarities.empty
    assert recommendations.empty
    assert warning_lines(pipeline_warnings) == [
        "item similarities: no two of the 2 items share 2 users (var cf_min_support), "
        "so there are none and every recommendation comes from the popular fallback",
        "recommendations: 1 of 1 users get none: they already interacted with every "
        "item anyone interacted with",
    ]


def test_nobody_to_score_for_churn_warns(pipeline_warnings) -> None:
    daily = pd.DataFrame([day_row(user, "2023-10-01") for user in "abc"])

    scores = pipelines.churn_scores(daily, AS_OF, Settings())

    assert scores.empty
    assert (
        "churn: no user was active in the 90 days before as_of_date (var "
        "churn_lookback_days), so ml_churn_scores is empty and dim_users has no "
        "churn probability"
    ) in warning_lines(pipeline_warnings)


def test_no_purchase_in_the_holdout_warns_of_null_recommendation_metrics(
    pipeline_warnings,
) -> None:
    # Views only, all before the holdout: nothing was bought to hit.
    interactions = interactions_frame(
        [
            ("u1", "i1", "view", 1, 1),
            ("u2", "i1", "view", 1, 1),
            ("u2", "i2", "view", 1, 1),
        ]
    )
    daily = pd.DataFrame([day_row(user, "2024-02-01") for user in ("u1", "u2")])

    config = Settings()
    metrics = pipelines.model_metrics(
        pipelines.churn_metrics(daily, AS_OF, config),
        pipelines.recommendation_metrics(interactions, AS_OF, config),
        pipelines.segment_metrics(activity_frame(2), config),
        AS_OF,
    )

    evaluated = metrics.loc[
        (metrics["model"] == "recommendations")
        & (metrics["metric_name"] == "users_evaluated"),
        "metric_value",
    ]
    assert (evaluated == 0).all() and len(evaluated) == 2
    assert (
        "recommendation metrics: no user with history before 2024-03-02 bought a "
        "new item from then to 2024-03-31, so precision, recall and ndcg are null"
    ) in warning_lines(pipeline_warnings)
