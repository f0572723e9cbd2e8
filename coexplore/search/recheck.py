"""The front re-checked at high fidelity, as multi-fidelity search does with its final candidates.

Every design on a study's front is re-evaluated with the proxy's long fine-tune
(``ProxyConfig.high_fidelity``, cached apart from the brief result, so distinct model-side
choices are fine-tuned once). The front and its hypervolume are then recomputed with the
high-fidelity accuracies in place of the brief ones, and the brief and long rankings compared.
The result is stored on the study (user attribute ``recheck``) for the CLI and MLflow to show.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import optuna

from coexplore.record import read_record
from coexplore.record.front import hypervolume, non_dominated_mask, study_directions, study_front
from coexplore.search.report import objective_names, reference_point

RECHECK_ATTR = "recheck"
"""Study user attribute holding the last re-check (:meth:`RecheckResult.to_dict`)."""

Rechecker = Callable[[dict[str, Any], str], tuple[float, float, str]]
"""``(trial params, fidelity) -> (accuracy, baseline accuracy, proxy cache key)``."""


@dataclass
class RecheckResult:
    """Brief vs high-fidelity accuracy of each front design, and the front recomputed with them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    kendall_tau_b: float = math.nan
    spearman_rho: float = math.nan
    distinct_plans: int = 0
    front_before: list[int] = field(default_factory=list)
    front_after: list[int] = field(default_factory=list)
    hypervolume_before: float = 0.0
    hypervolume_after: float = 0.0
    logged_at_ms: int = 0

    @property
    def changed(self) -> int:
        """Front members that are no longer on the front once re-checked."""
        return len(set(self.front_before) - set(self.front_after))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored on the study)."""
        return {**asdict(self), "changed": self.changed}

    def lines(self) -> list[str]:
        """A human-readable summary."""
        tau = "n/a" if math.isnan(self.kendall_tau_b) else f"{self.kendall_tau_b:.3f}"
        rho = "n/a" if math.isnan(self.spearman_rho) else f"{self.spearman_rho:.3f}"
        return [
            (f"re-checked {len(self.rows)} front designs ({self.distinct_plans} distinct model-side choices) "
             "at high fidelity"),
            f"rank agreement brief vs high fidelity on the front: Kendall tau-b {tau}, Spearman {rho}",
            (f"front: {len(self.front_before)} designs before, {len(self.front_after)} after; "
             f"{self.changed} left the front"),
            f"hypervolume: {self.hypervolume_before:.6g} brief, {self.hypervolume_after:.6g} re-checked",
        ]


def _rescored(values: list[float], names: list[str], acc: float, base: float) -> list[float]:
    out = list(values)
    for i, n in enumerate(names):
        if n == "accuracy":
            out[i] = acc
        elif n == "accuracy_drop":
            out[i] = (base - acc) * 100.0
    return out


def recheck_front(study: optuna.Study, accuracy_of: Rechecker) -> RecheckResult:
    """Re-check the study's front at high fidelity and store the result on the study.

    Args:
        study: the study (its trials carry records with ``metrics["accuracy"]``).
        accuracy_of: the study evaluator's ``proxy_accuracy`` (brief or high fidelity of the
            model-side choice in a trial's parameters).
    """
    from coexplore.accuracy.recheck import rank_agreement

    names, directions, ref = objective_names(study), study_directions(study), reference_point(study)
    front = study_front(study)
    result = RecheckResult(front_before=[t.number for t in front], logged_at_ms=int(time.time() * 1000))
    pairs: dict[str, tuple[float, float]] = {}
    new_values = []
    for t in front:
        rec = read_record(t)
        brief = float(rec.metrics.get("accuracy", math.nan)) if rec is not None else math.nan
        high, base, key = accuracy_of(dict(t.params), "high")
        pairs.setdefault(key, (brief, high))
        result.rows.append({"trial": t.number, "accuracy_brief": brief, "accuracy_high": high,
                            "pe_type": rec.pe_type if rec is not None else ""})
        new_values.append(_rescored(list(t.values), names, high, base))
    result.distinct_plans = len(pairs)
    if len(pairs) >= 2:
        result.kendall_tau_b, result.spearman_rho = rank_agreement(*zip(*pairs.values()))
    if front:
        arr = np.array(new_values, dtype=float)
        mask = non_dominated_mask(arr, directions)
        result.front_after = [t.number for t, m in zip(front, mask) if m]
        if ref is not None:
            result.hypervolume_before = hypervolume(np.array([t.values for t in front]), directions, ref)
            result.hypervolume_after = hypervolume(arr[mask], directions, ref)
    study.set_user_attr(RECHECK_ATTR, result.to_dict())
    return result
