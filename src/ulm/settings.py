"""Project vars as the Python models see them.

The dbt YAML of each Python model passes the project vars as one JSON text
(config key `ulm_settings`); `from_json` turns it into typed settings with
the same defaults as dbt_project.yml.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from ulm import memory

log = logging.getLogger(__name__)

_NONE_WORDS = {"", "none", "null"}
# How repeated events of one user, item and type count (ulm.recommend).
COUNT_SCALES = ("log", "linear", "binary")


def _optional(value: Any) -> Any:
    if value is None or (
        isinstance(value, str) and value.strip().lower() in _NONE_WORDS
    ):
        return None
    return value


@dataclass(frozen=True)
class Settings:
    churn_horizon_days: int = 30
    churn_lookback_days: int = 90
    churn_training_cutoffs: int = 6
    holdout_days: int = 30
    segments_k: int | str = "auto"
    similar_items_k: int = 20
    recommendations_n: int = 10
    cf_min_support: int = 2
    cf_half_life_days: float | None = None
    cf_count_scale: str = "log"
    cf_recent_items_half_life: float | None = 50.0
    interaction_weights: dict[str, float] = field(
        default_factory=lambda: {
            "view": 1.0,
            "add_to_cart": 3.0,
            "purchase": 5.0,
            "rating": 3.0,
            "refund": -5.0,
        }
    )
    random_seed: int = 42


def from_json(text: str | None) -> Settings:
    """Typed settings from the JSON text of the vars; unknown keys are ignored."""
    raw = json.loads(text) if text else {}
    defaults = Settings()
    segments_k = _optional(raw.get("segments_k", defaults.segments_k))
    if segments_k is None:
        segments_k = "auto"
    if str(segments_k).strip().lower() != "auto":
        try:
            segments_k = int(segments_k)
        except ValueError as error:
            raise ValueError(
                f"var segments_k must be a whole number or 'auto', got {segments_k!r}"
            ) from error
        if segments_k < 1:
            raise ValueError(f"var segments_k must be at least 1, got {segments_k}")
    else:
        segments_k = "auto"
    half_life = _optional(raw.get("cf_half_life_days"))
    recent_half_life = _optional(
        raw.get("cf_recent_items_half_life", defaults.cf_recent_items_half_life)
    )
    if recent_half_life is not None:
        recent_half_life = float(recent_half_life)
        if not recent_half_life > 0:
            raise ValueError(
                "var cf_recent_items_half_life must be a positive number of items "
                f"or none, got {recent_half_life}"
            )
    count_scale = str(raw.get("cf_count_scale") or defaults.cf_count_scale).strip()
    if count_scale.lower() not in COUNT_SCALES:
        raise ValueError(
            f"var cf_count_scale must be one of {list(COUNT_SCALES)}, "
            f"got {count_scale!r}"
        )
    weights = raw.get("interaction_weights") or defaults.interaction_weights
    return Settings(
        churn_horizon_days=int(raw.get("churn_horizon_days", 30)),
        churn_lookback_days=int(raw.get("churn_lookback_days", 90)),
        churn_training_cutoffs=int(raw.get("churn_training_cutoffs", 6)),
        holdout_days=int(raw.get("holdout_days", 30)),
        segments_k=segments_k,
        similar_items_k=int(raw.get("similar_items_k", 20)),
        recommendations_n=int(raw.get("recommendations_n", 10)),
        cf_min_support=int(raw.get("cf_min_support", 2)),
        cf_half_life_days=float(half_life) if half_life is not None else None,
        cf_count_scale=count_scale.lower(),
        cf_recent_items_half_life=recent_half_life,
        interaction_weights={str(k): float(v) for k, v in weights.items()},
        random_seed=int(raw.get("random_seed", 42)),
    )


def from_dbt(settings_text: str | None) -> Settings:
    """Settings of a running dbt Python model, with logging switched on.

    Pass ``dbt.config.get("ulm_settings")`` written out in the model file: dbt
    hands a Python model only the config keys its own source asks for with
    that literal call, so a call made inside this package would see none and
    every var would silently take its default. Also sets up the allocator
    (ulm.memory) and returns what models that finished before left freed.
    """
    configure_logging()
    memory.configure()
    memory.release()
    return from_json(settings_text)


def configure_logging() -> None:
    """Send this package's log lines to stderr once, so dbt's console shows them."""
    package_log = logging.getLogger("ulm")
    if any(getattr(h, "_ulm", False) for h in package_log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ulm %(levelname)s %(name)s: %(message)s"))
    handler._ulm = True  # type: ignore[attr-defined]
    package_log.addHandler(handler)
    package_log.setLevel(logging.INFO)
    package_log.propagate = False
