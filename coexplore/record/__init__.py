"""The trial record, the metric registry and the Pareto front: the contract every layer shares.

Depends on optuna and numpy only, so every producer (search, ENOS, sweeps) and every reader
(tracking, export, CLI) can use it without importing each other.

- :class:`TrialRecord`, :func:`write_record`, :func:`frozen_trial`, :func:`read_record` — one
  record of what a trial evaluated and measured, written and read in one place.
- :data:`METRICS`, :func:`register_metric`, :func:`compute_metrics` — the metric registry.
- :func:`pareto_trials`, :func:`study_front`, :func:`hypervolume`, :class:`FrontTracker` — the front.
- :func:`mask_url`, :func:`mask_secrets` — no secret reaches output, storage or MLflow.
"""

from __future__ import annotations

from coexplore.record.metrics import METRICS, Metric, compute_metrics, register_metric
from coexplore.record.secrets import mask_secrets, mask_url, sqlite_path
from coexplore.record.trial import (
    ERROR_ATTR,
    FEASIBLE,
    OVER_BUDGET_ATTR,
    RECORD_ATTR,
    SOURCE_ENOS,
    SOURCE_NAS,
    SOURCE_SAMPLER,
    TrialRecord,
    frozen_trial,
    read_record,
    write_record,
)

__all__ = [
    "ERROR_ATTR",
    "FEASIBLE",
    "METRICS",
    "OVER_BUDGET_ATTR",
    "RECORD_ATTR",
    "SOURCE_ENOS",
    "SOURCE_NAS",
    "SOURCE_SAMPLER",
    "Metric",
    "TrialRecord",
    "compute_metrics",
    "frozen_trial",
    "mask_secrets",
    "mask_url",
    "read_record",
    "register_metric",
    "sqlite_path",
    "write_record",
]
