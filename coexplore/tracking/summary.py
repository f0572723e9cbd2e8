"""The study summary shown on the parent run: trial counts, proxy evaluations, front and hypervolume."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from coexplore.record import TrialRecord, mask_secrets, read_record
from coexplore.record.front import (
    front_hypervolume,
    hypervolume_history,
    is_feasible,
    pareto_trials,
    study_directions,
)
from coexplore.tracking.entities import objective_names
from coexplore.tracking.store import safe_key

_STUDY_KEYS = ("config", "objectives", "reference_point", "constraints", "n_trials")


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
    def records(self) -> dict[int, TrialRecord]:
        """Trial number -> its record (trials without one are absent)."""
        out = {}
        for t in self.trials:
            rec = read_record(t)
            if rec is not None:
                out[t.number] = rec
        return out

    def record(self, trial: FrozenTrial) -> TrialRecord | None:
        """The record of ``trial`` (None when it has none)."""
        return self.records.get(trial.number)

    def pe_type(self, trial: FrozenTrial) -> str:
        """The PE type the trial evaluated."""
        rec = self.record(trial)
        return rec.pe_type if rec is not None else str(trial.params.get("pe_type", "?"))

    @cached_property
    def front(self) -> list[FrozenTrial]:
        """Feasible complete trials on the Pareto front, one per design (computed once per view)."""
        return pareto_trials(self.trials, self.directions)

    @property
    def constraints(self) -> list[str]:
        """The objectives file's constraints as text (``accuracy_drop <= 10``)."""
        return [str(c) for c in self.user_attrs.get("constraints") or []]

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
        return front_hypervolume(self.front, self.directions, self.reference_point)


def summary_metrics(view: StudyView) -> dict[str, float]:
    """Counts by state, proxy evaluations (cache misses) and hits, front size, best hypervolume.

    Trials still running are not counted here (they change between two reads of a study at rest
    elsewhere); ``coexplore study status`` shows them.
    """
    states = [t.state for t in view.trials]
    complete = [t for t in view.trials if t.state == TrialState.COMPLETE]
    hits_of = [view.record(t).proxy_cache_hit for t in complete if view.record(t) is not None]
    proxy_runs, hits = hits_of.count(False), hits_of.count(True)
    front = view.front
    out = {
        "n_trials_complete": float(len(complete)),
        "n_trials_failed": float(states.count(TrialState.FAIL)),
        "n_trials_pruned": float(states.count(TrialState.PRUNED)),
        "n_trials_infeasible": float(sum(1 for t in complete if not is_feasible(t))),
        "proxy_evaluations": float(proxy_runs),
        "proxy_cache_hits": float(hits),
        "n_pareto": float(len(front)),
    }
    hv = view.front_hypervolume()
    if hv is not None:
        out["best_hypervolume"] = hv
    return out


def _sampler_text(sampler: Any) -> str:
    if not isinstance(sampler, dict):
        return str(sampler or "")
    rest = ", ".join(f"{k}={v}" for k, v in sampler.items() if k != "name" and v is not None)
    return f"{sampler.get('name', '?')} ({rest})" if rest else str(sampler.get("name", "?"))


def study_params(view: StudyView) -> dict[str, str]:
    """Parent-run params, a handful so that MLflow's column picker is not flooded: objectives,
    constraints, reference point, sampler, budget. The whole resolved config is the artifact
    ``config/resolved_config.json``.

    Secrets are masked (passwords in URLs, secret-named fields) before anything is logged.
    """
    attrs = mask_secrets({k: v for k, v in view.user_attrs.items() if k in _STUDY_KEYS})
    config = attrs.get("config") or {}
    out = {"objectives": ", ".join(f"{n} ({d})" for n, d in zip(view.objectives, view.directions))}
    if attrs.get("constraints"):
        out["constraints"] = "; ".join(map(str, attrs["constraints"]))[:6000]
    if view.reference_point is not None:
        out["reference_point"] = str(view.reference_point)
    if config.get("sampler"):
        out["sampler"] = _sampler_text(config["sampler"])[:6000]
    if attrs.get("n_trials") is not None:
        out["n_trials_budget"] = str(attrs["n_trials"])
    return {safe_key(k): v for k, v in out.items()}
