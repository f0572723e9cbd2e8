"""Search: config schemas, space to Optuna, objectives and constraints, driver, Pareto.

Public API (the CLI ``coexplore study`` only wraps these):
- :func:`load_space`, :func:`load_objectives`, :func:`load_study` — validated YAML configs
  (raise :class:`ConfigError`, one line per problem).
- :func:`start_study`, :func:`resume_study` — run a study to its budget (``worker=True`` to join).
- :func:`summarize`, :func:`pareto_rows` — what a study has found.
- :func:`run_sweep` — a space's hardware grid through the PPA model.
- :class:`HybridTrialEvaluator` — trials of a hybrid digital + CIM space (``operators:`` section,
  :mod:`coexplore.search.operators`); ENOS's gradient search feeds such a study through
  :func:`coexplore.enos.enos_study_search`.
"""

from __future__ import annotations

from typing import Any

from coexplore.search.configio import ConfigError
from coexplore.search.objectives import METRICS, load_objectives
from coexplore.search.space import SearchSpace, load_space
from coexplore.search.study_config import StudyConfig, load_study

_LAZY = {
    "start_study": "coexplore.search.driver",
    "resume_study": "coexplore.search.driver",
    "StudyError": "coexplore.search.driver",
    "summarize": "coexplore.search.report",
    "pareto_rows": "coexplore.search.report",
    "run_sweep": "coexplore.search.sweep",
    "ensure_study": "coexplore.search.driver",
    "HybridTrialEvaluator": "coexplore.search.hybrid",
}


def __getattr__(name: str) -> Any:
    """Import the driver, reports and sweeps (optuna, pandas) only when used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [
    "METRICS",
    "ConfigError",
    "HybridTrialEvaluator",
    "SearchSpace",
    "StudyConfig",
    "StudyError",
    "ensure_study",
    "load_objectives",
    "load_space",
    "load_study",
    "pareto_rows",
    "resume_study",
    "run_sweep",
    "start_study",
    "summarize",
]
