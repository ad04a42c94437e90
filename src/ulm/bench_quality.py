"""Model quality benchmark: every model beside its baseline on public data.

Two datasets, read from ``../shared/datasets`` beside the project root (or
``--datasets``):

- **UCI Online Retail** (``uci_online_retail``): the real ``dbt build`` with the
  vars of ``config/uci_online_retail.yml`` and ``as_of_date`` pinned to
  ``UCI_AS_OF_DATE``, into a warehouse of its own; the figures are read back
  from ``ml_model_metrics``, so they are the ones the table shows. Its time
  splits are the project's own: churn is evaluated on the latest labelled
  cutoff (as_of_date + 1 - churn_horizon_days = 2011-11-10) with the models
  trained on earlier cutoffs; recommendations train on the interactions
  before as_of_date + 1 - holdout_days (also 2011-11-10) and are judged on
  the purchases from then to as_of_date.
- **MovieLens 100K** (``movielens_100k``): every rating is one interaction of
  event type ``rating`` (the row ``int_user_item_interactions`` would hold for
  it), and ``ulm.recommend.evaluate``, the function behind the recommendation
  rows of ``ml_model_metrics``, scores item CF and the most-popular baseline
  with the project's default settings. Two time splits: ``per_user`` (the
  headline) holds out each user's latest ``MOVIELENS_HOLDOUT_SHARE`` of
  ratings; ``global`` holds out every rating from ``MOVIELENS_HOLDOUT_START``
  on. Most MovieLens users rated everything within a few days of joining, so
  a global cut leaves only about 130 of the 943 users on both sides of it;
  the per-user cut evaluates every user and keeps each user's future out of
  their own training history.

In both, a relevant item is one the user interacted with in the holdout
(purchase for UCI, rating for MovieLens) and never before it, and both item
CF and the baseline recommend only such unseen items.

The report is printed; ``--json`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ulm import recommend
from ulm.settings import Settings

log = logging.getLogger(__name__)

UCI_DATASET = "uci_online_retail"
UCI_CONFIG = Path("config") / "uci_online_retail.yml"
UCI_EVENTS_FILE = "online_retail.parquet"
UCI_AS_OF_DATE = "2011-12-09"
MOVIELENS_DATASET = "movielens_100k"
MOVIELENS_RATINGS = Path("ml-100k") / "u.data"
MOVIELENS_EVENT_TYPE = "rating"
MOVIELENS_HOLDOUT_SHARE = 0.2
MOVIELENS_HOLDOUT_START = "1998-02-01"
RECOMMENDATIONS_K = 10

# What the figures must show for the models to earn their place.
GOALS = {
    "uci_precision_ratio": 1.5,
    "movielens_precision_ratio": 1.6,
}

METRIC_COLUMNS = ["dataset", "split", "model", "variant", "metric_name", "metric_value"]
CHURN_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "lift_top_decile",
    "base_rate",
    "rows_train",
    "rows_test",
)
REVENUE_METRICS = ("mae", "spearman", "rows_train", "rows_test")
RECOMMENDATION_METRICS = tuple(
    f"{name}_at_{RECOMMENDATIONS_K}"
    for name in ("precision", "recall", "ndcg", "hit_rate")
) + ("catalog_coverage", "users_evaluated")
SEGMENT_METRICS = ("k", "silhouette")


# --- MovieLens --------------------------------------------------------------------


def read_movielens_ratings(path: Path) -> pd.DataFrame:
    """The ratings file (tab separated, no header) with ``rated_at`` in UTC."""
    ratings = pd.read_csv(
        path,
        sep="\t",
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": str, "item_id": str, "rating": "int64", "timestamp": "int64"},
    )
    ratings["rated_at"] = pd.to_datetime(ratings["timestamp"], unit="s")
    return ratings.drop(columns="timestamp")


def per_user_holdout(ratings: pd.DataFrame, share: float) -> np.ndarray:
    """True for each user's latest ``ceil(share x ratings)`` ratings.

    Ratings of one user are ordered by time, then item id, so ties in time
    are cut the same way on every run.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share!r}")
    ordered = ratings[["user_id", "rated_at", "item_id"]].reset_index(drop=True)
    ordered = ordered.sort_values(["user_id", "rated_at", "item_id"], kind="stable")
    by_user = ordered.groupby("user_id", sort=False)
    from_latest = by_user.cumcount(ascending=False).to_numpy()
    per_user = by_user["item_id"].transform("size").to_numpy()
    result = np.zeros(len(ratings), dtype=bool)
    result[ordered.index.to_numpy()] = from_latest < np.ceil(per_user * share)
    return result


def date_holdout(ratings: pd.DataFrame, holdout_start: Any) -> np.ndarray:
    """True for every rating at or after ``holdout_start``."""
    return (ratings["rated_at"] >= pd.Timestamp(holdout_start)).to_numpy()


def ratings_as_interactions(
    ratings: pd.DataFrame, held_out: np.ndarray
) -> pd.DataFrame:
    """One interaction row per rating, shaped like ``int_user_item_interactions``.

    A rating is one event of type ``rating``; ``events_before_holdout`` and
    ``last_before_holdout_at`` are empty for the held-out ones. MovieLens has
    one rating per user and item, so no rows need summing.
    """
    held_out = np.asarray(held_out, dtype=bool)
    if held_out.size != len(ratings):
        raise ValueError("held_out must have one flag per rating")
    rated_at = ratings["rated_at"].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "user_id": ratings["user_id"].to_numpy(),
            "item_id": ratings["item_id"].to_numpy(),
            "event_type": MOVIELENS_EVENT_TYPE,
            "events": np.ones(len(ratings), dtype=np.int64),
            "events_before_holdout": (~held_out).astype(np.int64),
            "quantity": np.ones(len(ratings), dtype=np.int64),
            "first_at": rated_at,
            "last_at": rated_at,
            "last_before_holdout_at": rated_at.where(~held_out),
        }
    )
    keys = ["user_id", "item_id", "event_type"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def recommendation_metrics(
    interactions: pd.DataFrame,
    reference_at: Any,
    settings: Settings,
    relevant_event_types: Sequence[str],
) -> pd.DataFrame:
    """``recommend.evaluate`` with the project settings, as ml_model_metrics runs
    it (holdout metrics at ``RECOMMENDATIONS_K``)."""
    return recommend.evaluate(
        interactions,
        settings.interaction_weights,
        reference_at=reference_at,
        holdout_start=reference_at,
        k=RECOMMENDATIONS_K,
        n_neighbours=settings.similar_items_k,
        min_support=settings.cf_min_support,
        relevant_event_types=relevant_event_types,
        half_life_days=settings.cf_half_life_days,
        count_scale=settings.cf_count_scale,
        recent_items_half_life=settings.cf_recent_items_half_life,
    )


def movielens_metrics(
    dataset_dir: Path, settings: Settings | None = None
) -> pd.DataFrame:
    """Item CF and most-popular on both MovieLens splits, in METRIC_COLUMNS."""
    settings = settings or Settings()
    ratings = read_movielens_ratings(dataset_dir / MOVIELENS_RATINGS)
    # Decay (when configured) is measured to the day after the last rating for
    # the per-user split, whose cut differs from user to user.
    after_last = ratings["rated_at"].max().normalize() + pd.Timedelta(days=1)
    splits = {
        "per_user": (per_user_holdout(ratings, MOVIELENS_HOLDOUT_SHARE), after_last),
        "global": (
            date_holdout(ratings, MOVIELENS_HOLDOUT_START),
            pd.Timestamp(MOVIELENS_HOLDOUT_START),
        ),
    }
    frames = []
    for split, (held_out, reference_at) in splits.items():
        log.info(
            "movielens %s split: %d of %d ratings held out",
            split,
            int(held_out.sum()),
            len(ratings),
        )
        metrics = recommendation_metrics(
            ratings_as_interactions(ratings, held_out),
            reference_at,
            settings,
            relevant_event_types=(MOVIELENS_EVENT_TYPE,),
        )
        frames.append(metrics.assign(dataset=MOVIELENS_DATASET, split=split))
    return pd.concat(frames, ignore_index=True)[METRIC_COLUMNS]


# --- UCI Online Retail through dbt --------------------------------------------------


def uci_vars(project_dir: Path, dataset_dir: Path) -> dict[str, Any]:
    """The vars of config/uci_online_retail.yml, as_of_date pinned, the events
    file taken from ``dataset_dir``."""
    import yaml

    variables = yaml.safe_load((project_dir / UCI_CONFIG).read_text())
    variables["as_of_date"] = UCI_AS_OF_DATE
    variables["raw_events_path"] = str((dataset_dir / UCI_EVENTS_FILE).absolute())
    return variables


def dbt_environment(workdir: Path) -> dict[str, str]:
    """Environment that sends every file of a dbt run into ``workdir``."""
    return {
        **os.environ,
        "ULM_DUCKDB_PATH": str(workdir / "ulm.duckdb"),
        "ULM_PUBLISHED_PATH": str(workdir / "published"),
        "ULM_TEMP_DIRECTORY": str(workdir / "tmp"),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
    }


def _dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else "dbt"


def build_uci(project_dir: Path, dataset_dir: Path, workdir: Path) -> Path:
    """Run ``dbt build`` on UCI Online Retail into ``workdir``; the warehouse."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        _dbt_executable(),
        "build",
        "--vars",
        json.dumps(uci_vars(project_dir, dataset_dir)),
    ]
    log.info("uci: dbt build into %s", workdir)
    result = subprocess.run(
        command,
        cwd=project_dir,
        env=dbt_environment(workdir),
        capture_output=True,
        text=True,
        check=False,
    )
    (workdir / "dbt_build.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(
            f"dbt build on {UCI_DATASET} failed (exit {result.returncode}); the "
            f"end of its output:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
        )
    return workdir / "ulm.duckdb"


def read_model_metrics(warehouse: Path) -> pd.DataFrame:
    """ml_model_metrics of a built warehouse, in METRIC_COLUMNS."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        metrics = connection.sql(
            "select model, variant, metric_name, metric_value, note "
            "from marts.ml_model_metrics"
        ).df()
    split = metrics.loc[metrics["model"] == "recommendations", "note"]
    return metrics.assign(
        dataset=UCI_DATASET,
        split=split.iloc[0] if len(split) else "",
    )[METRIC_COLUMNS]


# --- report -------------------------------------------------------------------------


def metric_value(
    metrics: pd.DataFrame, model: str, variant: str, metric_name: str, **where: str
) -> float:
    """One figure, NaN when absent."""
    mask = (
        (metrics["model"] == model)
        & (metrics["variant"] == variant)
        & (metrics["metric_name"] == metric_name)
    )
    for column, value in where.items():
        mask &= metrics[column] == value
    values = metrics.loc[mask, "metric_value"]
    return float(values.iloc[0]) if len(values) else float("nan")


def precision_ratio(metrics: pd.DataFrame, **where: str) -> float:
    """Item CF precision@k over most-popular precision@k (NaN without both)."""
    name = f"precision_at_{RECOMMENDATIONS_K}"
    cf = metric_value(metrics, "recommendations", "item_cf", name, **where)
    popular = metric_value(metrics, "recommendations", "most_popular", name, **where)
    if not popular > 0 or math.isnan(cf):
        return float("nan")
    return cf / popular


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value == int(value) and (abs(value) >= 1 or value == 0):
        return f"{int(value):d}"
    return f"{value:.4f}"


def metric_table(
    metrics: pd.DataFrame,
    model: str,
    variants: Sequence[str],
    names: Sequence[str],
    **where: str,
) -> list[str]:
    """Lines of a metric x variant table."""
    width = max(len(name) for name in names) + 2
    header = "".join(f"{variant:>16}" for variant in variants)
    lines = [f"    {'':<{width}}{header}"]
    for name in names:
        cells = "".join(
            f"{_format_value(metric_value(metrics, model, v, name, **where)):>16}"
            for v in variants
        )
        lines.append(f"    {name:<{width}}{cells}")
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _format_ratio(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio:.2f}x"


def churn_goal(metrics: pd.DataFrame) -> tuple[bool, str]:
    """Whether the classifier beats both baselines on ROC-AUC and PR-AUC."""
    parts, met = [], True
    for name in ("roc_auc", "pr_auc"):
        model = metric_value(metrics, "churn", "classifier", name)
        best = max(
            metric_value(metrics, "churn", baseline, name)
            for baseline in ("recency", "bgnbd")
        )
        met &= model > best
        parts.append(f"{name} {model:.4f} vs best baseline {best:.4f}")
    return met, "; ".join(parts)


def format_report(uci: pd.DataFrame | None, movielens: pd.DataFrame | None) -> str:
    """The printed report of both datasets (either may be None when skipped)."""
    lines = ["Model quality benchmark", ""]
    k = RECOMMENDATIONS_K
    recommendation_variants = ("item_cf", "most_popular")
    if uci is None:
        lines += [f"{UCI_DATASET}: skipped", ""]
    else:
        split = uci["split"].iloc[0] if len(uci) else ""
        lines += [
            f"{UCI_DATASET} (dbt build, as_of_date {UCI_AS_OF_DATE}; figures "
            "from ml_model_metrics)",
            "  churn (evaluation cutoff = as_of_date + 1 - churn_horizon_days; "
            "trained on earlier cutoffs):",
            *metric_table(
                uci, "churn", ("classifier", "recency", "bgnbd"), CHURN_METRICS
            ),
            "  predicted revenue (same cutoffs):",
            *metric_table(
                uci,
                "predicted_revenue",
                ("regressor", "previous_window"),
                REVENUE_METRICS,
            ),
            f"  recommendations ({split}):",
            *metric_table(
                uci, "recommendations", recommendation_variants, RECOMMENDATION_METRICS
            ),
            "  segments:",
            *metric_table(uci, "segments", ("kmeans",), SEGMENT_METRICS),
        ]
        churn_met, churn_note = churn_goal(uci)
        ratio = precision_ratio(uci)
        goal = GOALS["uci_precision_ratio"]
        lines += [
            f"  goal churn beats recency and BG/NBD: {_verdict(churn_met)} "
            f"({churn_note})",
            f"  goal precision@{k} >= {goal}x most popular: "
            f"{_verdict(ratio >= goal)} ({_format_ratio(ratio)})",
            "",
        ]
    if movielens is None:
        lines += [f"{MOVIELENS_DATASET}: skipped", ""]
    else:
        lines.append(
            f"{MOVIELENS_DATASET} (ratings as interactions, ulm.recommend.evaluate "
            "with the default settings)"
        )
        split_notes = {
            "per_user": (
                f"per-user time split: each user's latest "
                f"{MOVIELENS_HOLDOUT_SHARE:.0%} of ratings held out"
            ),
            "global": (
                f"global time split: ratings from {MOVIELENS_HOLDOUT_START} held out"
            ),
        }
        for split, note in split_notes.items():
            ratio = precision_ratio(movielens, split=split)
            lines += [
                f"  recommendations ({note}):",
                *metric_table(
                    movielens,
                    "recommendations",
                    recommendation_variants,
                    RECOMMENDATION_METRICS,
                    split=split,
                ),
                f"    precision@{k} item_cf / most_popular: {_format_ratio(ratio)}",
            ]
        ratio = precision_ratio(movielens, split="per_user")
        goal = GOALS["movielens_precision_ratio"]
        lines += [
            f"  goal precision@{k} >= {goal}x most popular (per-user split): "
            f"{_verdict(ratio >= goal)} ({_format_ratio(ratio)})",
            "",
        ]
    return "\n".join(lines)


def _json_records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    cleaned = frame.astype(object).where(frame.notna(), None)
    return cleaned.to_dict(orient="records")


def main(argv: Sequence[str] | None = None) -> dict[str, pd.DataFrame | None]:
    parser = argparse.ArgumentParser(
        prog="python -m ulm.bench_quality",
        description="Every model beside its baseline on UCI Online Retail and "
        "MovieLens 100K.",
    )
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path("..") / "shared" / "datasets",
        help="folder holding the dataset folders (default: ../shared/datasets)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the UCI build goes (default: a temporary folder, removed)",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        help="read ml_model_metrics of this UCI warehouse instead of building",
    )
    parser.add_argument("--skip-uci", action="store_true")
    parser.add_argument("--skip-movielens", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    project_dir = Path.cwd()
    if not (project_dir / "dbt_project.yml").exists():
        parser.error("run it from the project root (where dbt_project.yml is)")
    datasets = args.datasets.absolute()

    uci = None
    if not args.skip_uci:
        uci = _uci_figures(project_dir, datasets, args.workdir, args.warehouse)
    movielens = None
    if not args.skip_movielens:
        dataset_dir = datasets / MOVIELENS_DATASET
        if dataset_dir.is_dir():
            movielens = movielens_metrics(dataset_dir)
        else:
            log.warning("dataset folder %s is absent: movielens skipped", dataset_dir)

    sys.stdout.write(format_report(uci, movielens) + "\n")
    if args.json:
        payload = {"uci": _json_records(uci), "movielens": _json_records(movielens)}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return {"uci": uci, "movielens": movielens}


def _uci_figures(
    project_dir: Path,
    datasets: Path,
    workdir: Path | None,
    warehouse: Path | None,
) -> pd.DataFrame | None:
    if warehouse is not None:
        return read_model_metrics(warehouse)
    dataset_dir = datasets / UCI_DATASET
    if not dataset_dir.is_dir():
        log.warning("dataset folder %s is absent: uci skipped", dataset_dir)
        return None
    temporary = workdir is None
    target = Path(tempfile.mkdtemp(prefix="ulm-quality-")) if temporary else workdir
    try:
        warehouse = build_uci(project_dir, dataset_dir, target.absolute())
        return read_model_metrics(warehouse)
    finally:
        if temporary:
            shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()
