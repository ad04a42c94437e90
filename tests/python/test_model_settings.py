"""The vars reach every dbt Python model.

dbt gives a Python model only the config keys that the model file itself asks
for with a literal `dbt.config.get("<key>")`; a call hidden inside the ulm
package sees an empty config, and every var silently takes its default.
"""

import ast
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ulm import settings

PYTHON_MODELS = sorted(
    (Path(__file__).resolve().parents[2] / "python_models").glob("ml_*.py")
)


def literal_config_keys(source: str) -> set[str]:
    """Keys of every dbt.config.get("<key>") call written in the source."""
    keys = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "dbt.config.get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            keys.add(node.args[0].value)
    return keys


def test_there_are_python_models_to_check() -> None:
    assert len(PYTHON_MODELS) >= 6


@pytest.mark.parametrize("path", PYTHON_MODELS, ids=lambda path: path.stem)
def test_each_python_model_asks_dbt_for_the_settings(path: Path) -> None:
    assert "ulm_settings" in literal_config_keys(path.read_text())


@pytest.fixture
def package_logging_restored() -> Iterator[None]:
    """from_dbt switches on the package's console logging; undo it afterwards."""
    package_log = logging.getLogger("ulm")
    handlers, level, propagate = (
        list(package_log.handlers),
        package_log.level,
        package_log.propagate,
    )
    yield
    package_log.handlers[:] = handlers
    package_log.setLevel(level)
    package_log.propagate = propagate


@pytest.mark.usefixtures("package_logging_restored")
def test_from_dbt_reads_the_settings_text() -> None:
    text = '{"segments_k": 5, "churn_horizon_days": 14, "random_seed": 7}'

    config = settings.from_dbt(text)

    assert (config.segments_k, config.churn_horizon_days, config.random_seed) == (
        5,
        14,
        7,
    )
    assert settings.from_dbt(None) == settings.Settings()
