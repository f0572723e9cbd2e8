"""The study summary shown on the parent run: trial counts, proxy evaluations, front and hypervolume."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from coexplore.search.pareto import (
    hypervolume,
    hypervolume_history,
    pareto_trials,
    study_directions,
)
from coexplore.tracking.entities import objective_names
from coexplore.tracking.store import mask_secrets, safe_key


@dataclass
class StudyView:
    """A snapshot of a study that tracking and plots read: trials, objectives, front, reference."""

    name: str
    trials: list[FrozenTrial]
    directions: list[str]
    objectives: list[str]
    reference_point: list[float] | None
    user_attrs: dict[str, Any]

    @classmethod
    def of(cls, study: optuna.Study) -> StudyView:
        """Read a study once (one storage round trip for the trials)."""
        directions = study_directions(study)
        attrs = dict(study.user_attrs)
        ref = attrs.get("reference_point")
        return cls(
            name=study.study_name,
            trials=list(study.get_trials(deepcopy=False)),
            directions=directions,
            objectives=objective_names(attrs, len(directions)),
            reference_point=[float(r) for r in ref] if ref is not None else None,
            user_attrs=attrs,
        )

    @cached_property
    def front(self) -> list[FrozenTrial]:
        """Feasible complete trials on the Pareto front (computed once per view: it is n x n)."""
        return pareto_trials(self.trials, self.directions)

    def front_numbers(self) -> set[int]:
        """Trial numbers of the Pareto front."""
        return {t.number for t in self.front}

    @cached_property
    def hypervolume_by_trial(self) -> list[tuple[int, float]]:
        """(trial number, hypervolume so far) after each finished trial; [] without a reference point."""
        if self.reference_point is None:
            return []
        return hypervolume_history(self.trials, self.directions, self.reference_point)

    def front_hypervolume(self) -> float | None:
        """Hypervolume of the front against the study's reference point (None without one)."""
        if self.reference_point is None:
            return None
        if not self.front:
            return 0.0
        return hypervolume(np.array([t.values for t in self.front]), self.directions, self.reference_point)


def summary_metrics(view: StudyView) -> dict[str, float]:
    """Counts by state, proxy evaluations (cache misses) and hits, front size, best hypervolume."""
    states = [t.state for t in view.trials]
    complete = [t for t in view.trials if t.state == TrialState.COMPLETE]
    proxy_runs = sum(1 for t in complete if t.user_attrs.get("proxy_cache_hit") is False)
    hits = sum(1 for t in complete if t.user_attrs.get("proxy_cache_hit") is True)
    front = view.front
    out = {
        "n_trials_complete": float(len(complete)),
        "n_trials_failed": float(states.count(TrialState.FAIL)),
        "n_trials_pruned": float(states.count(TrialState.PRUNED)),
        "n_trials_running": float(states.count(TrialState.RUNNING)),
        "n_trials_infeasible": float(sum(1 for t in complete if t.user_attrs.get("feasible") is False)),
        "proxy_evaluations": float(proxy_runs),
        "proxy_cache_hits": float(hits),
        "n_pareto": float(len(front)),
    }
    hv = view.front_hypervolume()
    if hv is not None:
        out["best_hypervolume"] = hv
    return out


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = str(value)


def study_params(view: StudyView) -> dict[str, str]:
    """Parent-run params: the resolved config flattened (``sampler.name`` ...), objectives, budget.

    Secrets are masked (passwords in URLs, secret-named fields) before anything is logged.
    """
    attrs = mask_secrets(view.user_attrs)
    flat: dict[str, str] = {}
    _flatten("", attrs.get("config") or {}, flat)
    out = {safe_key(f"config.{k}"): v[:6000] for k, v in flat.items()}
    out["objectives"] = ", ".join(f"{n} ({d})" for n, d in zip(view.objectives, view.directions))
    if view.reference_point is not None:
        out["reference_point"] = str(view.reference_point)
    if attrs.get("constraints"):
        out["constraints"] = "; ".join(map(str, attrs["constraints"]))[:6000]
    if attrs.get("n_trials") is not None:
        out["n_trials_budget"] = str(attrs["n_trials"])
    return out
