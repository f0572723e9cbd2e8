"""Search: config schemas, space to Optuna, objectives and constraints, driver, Pareto.

Public API (``coexplore.api`` composes these with the proxy, ENOS and MLflow; the CLI wraps that):
- :func:`load_space`, :func:`load_objectives`, :func:`load_study` — validated YAML configs
  (raise :class:`ConfigError`, one line per problem).
- :mod:`~coexplore.search.driver` — :func:`open_new` / :func:`open_existing` a study, :func:`run` it.
- :func:`summarize`, :func:`pareto_rows` — what a study has found.
- :func:`run_sweep` — a space's hardware grid through the PPA model.

Nothing here imports MLflow, ENOS or the CLI.
"""

from __future__ import annotations

from typing import Any

from coexplore.search.configio import ConfigError
from coexplore.search.objectives import load_objectives
from coexplore.search.space import SearchSpace, load_space
from coexplore.search.study_config import StudyConfig, load_study

_LAZY = {
    "open_new": "coexplore.search.driver",
    "open_existing": "coexplore.search.driver",
    "run": "coexplore.search.driver",
    "ensure_study": "coexplore.search.driver",
    "StudyError": "coexplore.search.study",
    "summarize": "coexplore.search.report",
    "pareto_rows": "coexplore.search.report",
    "run_sweep": "coexplore.search.sweep",
    "TrialEvaluator": "coexplore.search.evaluate",
    "build_evaluator": "coexplore.search.evaluate",
}


def __getattr__(name: str) -> Any:
    """Import the driver, reports and sweeps (optuna, pandas) only when used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [
    "ConfigError",
    "SearchSpace",
    "StudyConfig",
    "StudyError",
    "TrialEvaluator",
    "build_evaluator",
    "ensure_study",
    "load_objectives",
    "load_space",
    "load_study",
    "open_existing",
    "open_new",
    "pareto_rows",
    "run",
    "run_sweep",
    "summarize",
]
