"""A study's high-fidelity re-check in MLflow: the long accuracy on each front run, the outcome on
the parent run (rank agreement, front and hypervolume after the re-check)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric

from coexplore.tracking.report import open_client
from coexplore.tracking.runs import StudyRuns

if TYPE_CHECKING:
    import optuna


def log_recheck(study: optuna.Study, tracking_uri: str, recheck: dict[str, Any]) -> int:
    """Log ``recheck`` (:meth:`coexplore.search.recheck.RecheckResult.to_dict`); returns the
    number of trial runs that got their high-fidelity accuracy.

    Trial runs get ``accuracy_high_fidelity``; the parent gets ``recheck_kendall_tau_b``,
    ``recheck_front_changed``, ``recheck_hypervolume``. Re-logging the same re-check adds nothing
    (same values, same step and timestamp).
    """
    runs = StudyRuns(open_client(tracking_uri), study, tracking_uri)
    claims = runs.claims()
    stamp = int(recheck.get("logged_at_ms") or time.time() * 1000)
    logged = 0
    for row in recheck["rows"]:
        run_id = claims.get(int(row["trial"]))
        if run_id is not None:
            runs.client.log_batch(run_id, metrics=[Metric("accuracy_high_fidelity", float(row["accuracy_high"]),
                                                          stamp, 0)])
            logged += 1
    parent = {"recheck_front_changed": float(recheck["changed"]),
              "recheck_hypervolume": float(recheck["hypervolume_after"])}
    if recheck["kendall_tau_b"] == recheck["kendall_tau_b"]:  # not NaN
        parent["recheck_kendall_tau_b"] = float(recheck["kendall_tau_b"])
    runs.client.log_batch(runs.parent_run_id, metrics=[Metric(k, v, stamp, 0) for k, v in parent.items()])
    return logged
