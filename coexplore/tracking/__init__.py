"""Tracking: MLflow logging of studies and trials, review plots, export, and the MLflow UI.

Public API:
- :class:`MlflowObserver` — the driver's observer (``coexplore.search.observers.StudyObserver``).
- :func:`report_study` — sync a whole study to MLflow and refresh its plots (``study report``).
- :func:`export_trials`, :func:`trials_frame` — one row per trial, CSV/Parquet (``study export``).
- :func:`default_tracking_uri`, :func:`mask_url` — the default store next to the study storage.
- :func:`start_server`, :func:`stop_server` — ``mlflow server`` on 127.0.0.1 (``coexplore ui``).
"""

from __future__ import annotations

from coexplore.tracking.export import export_trials, trials_frame
from coexplore.tracking.observer import MlflowObserver
from coexplore.tracking.report import StudyReport, report_study
from coexplore.tracking.store import default_tracking_uri, mask_secrets, mask_url
from coexplore.tracking.ui import start_server, stop_server

__all__ = [
    "MlflowObserver",
    "StudyReport",
    "default_tracking_uri",
    "export_trials",
    "mask_secrets",
    "mask_url",
    "report_study",
    "start_server",
    "stop_server",
    "trials_frame",
]
