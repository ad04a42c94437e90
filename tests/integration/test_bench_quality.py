"""The quality benchmark on the public datasets: the models beat their baselines."""

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT, dataset_path
from ulm import bench_quality as bq

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def movielens() -> pd.DataFrame:
    return bq.movielens_metrics(dataset_path("movielens_100k"))


def test_movielens_item_cf_reaches_the_goal(movielens) -> None:
    users = bq.metric_value(
        movielens, "recommendations", "item_cf", "users_evaluated", split="per_user"
    )
    ratio = bq.precision_ratio(movielens, split="per_user")

    assert users == 943
    assert ratio >= bq.GOALS["movielens_precision_ratio"]


def test_uci_models_beat_their_baselines(tmp_path: Path) -> None:
    folder = dataset_path("uci_online_retail")
    warehouse = bq.build_uci(PROJECT_ROOT, folder, tmp_path / "uci")
    metrics = bq.read_model_metrics(warehouse)

    churn_met, note = bq.churn_goal(metrics)
    assert churn_met, note
    assert bq.precision_ratio(metrics) >= bq.GOALS["uci_precision_ratio"]
