import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT
from ulm import bench_quality as bq


def ratings(rows):
    """Rows of (user, item, rated_at) as read_movielens_ratings returns them."""
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rated_at"])
    frame["rating"] = 4
    frame["rated_at"] = pd.to_datetime(frame["rated_at"])
    return frame


def write_u_data(folder: Path, rows) -> Path:
    """A MovieLens-shaped dataset folder holding ratings (user, item, time)."""
    (folder / "ml-100k").mkdir(parents=True)
    lines = [
        f"{user}\t{item}\t4\t{int(pd.Timestamp(at).timestamp())}"
        for user, item, at in rows
    ]
    (folder / "ml-100k" / "u.data").write_text("\n".join(lines) + "\n")
    return folder


# --- splits and interactions ------------------------------------------------------


def test_per_user_holdout_takes_each_users_latest_share_with_id_ties():
    frame = ratings(
        [
            ("b", "10", "1998-01-03"),
            ("a", "1", "1998-01-01"),
            ("a", "2", "1998-01-02"),
            ("a", "3", "1998-01-03"),
            ("a", "4", "1998-01-04"),
            ("a", "5", "1998-01-05"),
            ("b", "11", "1998-01-03"),
            ("b", "09", "1998-01-01"),
        ]
    )
    frame.index = [70, 71, 72, 73, 74, 75, 76, 77]

    held_out = bq.per_user_holdout(frame, 0.2)

    # a: ceil(5 x 0.2) = 1 -> item 5; b: ceil(3 x 0.2) = 1, and of the two
    # ratings at the latest time the larger item id, 11, goes
    assert frame.loc[held_out, "item_id"].tolist() == ["5", "11"]
    assert bq.per_user_holdout(frame, 0.5).sum() == 3 + 2


@pytest.mark.parametrize("share", [0, 1, -0.1])
def test_per_user_holdout_rejects_a_share_outside_zero_one(share):
    with pytest.raises(ValueError, match="share"):
        bq.per_user_holdout(ratings([("a", "1", "1998-01-01")]), share)


def test_date_holdout_starts_at_the_date():
    frame = ratings(
        [
            ("a", "1", "1998-01-31 23:59"),
            ("a", "2", "1998-02-01 00:00"),
            ("b", "1", "1999-01-01 00:00"),
        ]
    )
    assert bq.date_holdout(frame, "1998-02-01").tolist() == [False, True, True]


def test_ratings_become_interaction_rows_with_the_train_counts():
    frame = ratings([("b", "1", "1998-01-02"), ("a", "2", "1998-01-01")])

    rows = bq.ratings_as_interactions(frame, np.array([True, False]))

    assert rows[["user_id", "item_id", "event_type"]].values.tolist() == [
        ["a", "2", "rating"],
        ["b", "1", "rating"],
    ]
    assert rows["events"].tolist() == [1, 1]
    assert rows["events_before_holdout"].tolist() == [1, 0]
    assert rows["last_at"].tolist() == [
        pd.Timestamp("1998-01-01"),
        pd.Timestamp("1998-01-02"),
    ]
    assert rows["last_before_holdout_at"].iloc[0] == pd.Timestamp("1998-01-01")
    assert pd.isna(rows["last_before_holdout_at"].iloc[1])
    with pytest.raises(ValueError, match="one flag per rating"):
        bq.ratings_as_interactions(frame, np.array([True]))


def test_read_movielens_ratings_parses_ids_as_text_and_seconds_as_utc(tmp_path):
    folder = write_u_data(tmp_path, [(7, 42, "1997-09-20 03:05:10")])
    read = bq.read_movielens_ratings(folder / bq.MOVIELENS_RATINGS)
    assert read.to_dict(orient="records") == [
        {
            "user_id": "7",
            "item_id": "42",
            "rating": 4,
            "rated_at": pd.Timestamp("1997-09-20 03:05:10"),
        }
    ]


def test_movielens_metrics_on_a_hand_built_log(tmp_path):
    t1, t2, t3 = "1997-10-01", "1997-11-01", "1998-03-01"
    rows = [(user, "A", t1) for user in (1, 2, 3, 4)]
    rows += [(user, "B", t2) for user in (1, 2, 3, 4)]
    rows += [(1, "C", t3), (2, "C", t3), (3, "D", t3)]
    folder = write_u_data(tmp_path, rows)

    metrics = bq.movielens_metrics(folder)

    def figure(split, variant, name):
        return bq.metric_value(metrics, "recommendations", variant, name, split=split)

    # Per-user split: users 1-3 hold out their third rating (C or D, items
    # the train matrix lacks); user 4 holds out B (ceil(2 x 0.2) = 1), which
    # both item CF (B is A's neighbour, support 3) and popularity find.
    for variant in ("item_cf", "most_popular"):
        assert figure("per_user", variant, "users_evaluated") == 4
        assert figure("per_user", variant, "precision_at_10") == pytest.approx(1 / 40)
        assert figure("per_user", variant, "hit_rate_at_10") == pytest.approx(0.25)
        assert figure("per_user", variant, "catalog_coverage") == pytest.approx(0.5)
    # Global split at 1998-02-01: only C and D are held out; nobody can hit.
    assert figure("global", "item_cf", "users_evaluated") == 3
    assert figure("global", "item_cf", "precision_at_10") == 0
    assert set(metrics["dataset"]) == {bq.MOVIELENS_DATASET}
    assert list(metrics.columns) == bq.METRIC_COLUMNS


# --- UCI through dbt --------------------------------------------------------------


def test_uci_vars_pin_the_as_of_date_and_the_events_file(tmp_path):
    variables = bq.uci_vars(PROJECT_ROOT, tmp_path)

    assert variables["as_of_date"] == bq.UCI_AS_OF_DATE
    assert variables["raw_events_path"] == str(tmp_path / "online_retail.parquet")
    assert variables["raw_timezone"] == "Europe/London"
    assert "user_id" in variables["raw_events_columns"]


def test_dbt_environment_sends_every_path_into_the_workdir(tmp_path):
    env = bq.dbt_environment(tmp_path)
    for name in (
        "ULM_DUCKDB_PATH",
        "ULM_PUBLISHED_PATH",
        "ULM_TEMP_DIRECTORY",
        "DBT_TARGET_PATH",
        "DBT_LOG_PATH",
    ):
        assert Path(env[name]).parent == tmp_path


# --- report -----------------------------------------------------------------------


def metric_rows(rows, dataset="uci_online_retail", split="time split: x"):
    frame = pd.DataFrame(
        rows, columns=["model", "variant", "metric_name", "metric_value"]
    )
    return frame.assign(dataset=dataset, split=split)[bq.METRIC_COLUMNS]


UCI_ROWS = [
    ("churn", "classifier", "roc_auc", 0.76),
    ("churn", "classifier", "pr_auc", 0.70),
    ("churn", "recency", "roc_auc", 0.61),
    ("churn", "recency", "pr_auc", 0.64),
    ("churn", "bgnbd", "roc_auc", 0.73),
    ("churn", "bgnbd", "pr_auc", 0.73),
    ("churn", "classifier", "rows_test", 2619.0),
    ("recommendations", "item_cf", "precision_at_10", 0.06),
    ("recommendations", "most_popular", "precision_at_10", 0.03),
    ("segments", "kmeans", "k", 4.0),
]


def test_precision_ratio_and_missing_figures():
    metrics = metric_rows(UCI_ROWS)
    assert bq.precision_ratio(metrics) == pytest.approx(2.0)
    assert math.isnan(bq.precision_ratio(metrics, split="other"))
    assert math.isnan(bq.metric_value(metrics, "churn", "classifier", "brier"))


def test_churn_goal_needs_both_aucs_above_both_baselines():
    met, note = bq.churn_goal(metric_rows(UCI_ROWS))
    # ROC-AUC beats BG/NBD, but PR-AUC 0.70 is below its 0.73
    assert not met
    assert "pr_auc 0.7000 vs best baseline 0.7300" in note
    better = [
        row if row[2:] != ("pr_auc", 0.70) else row[:3] + (0.75,) for row in UCI_ROWS
    ]
    assert bq.churn_goal(metric_rows(better))[0]


def test_report_shows_tables_goals_and_skipped_parts():
    movielens = metric_rows(
        [
            ("recommendations", "item_cf", "precision_at_10", 0.17),
            ("recommendations", "most_popular", "precision_at_10", 0.1),
        ],
        dataset="movielens_100k",
        split="per_user",
    )

    report = bq.format_report(metric_rows(UCI_ROWS), movielens)

    assert "classifier         recency           bgnbd" in report
    rows_test = next(line for line in report.splitlines() if "rows_test" in line)
    assert rows_test.split() == ["rows_test", "2619", "-", "-"]
    assert "item_cf / most_popular: -" in report  # no global split figures
    assert "goal churn beats recency and BG/NBD: NOT met" in report
    assert "goal precision@10 >= 1.5x most popular: met (2.00x)" in report
    assert "(per-user split): met (1.70x)" in report
    skipped = bq.format_report(None, None)
    assert "uci_online_retail: skipped" in skipped
    assert "movielens_100k: skipped" in skipped
