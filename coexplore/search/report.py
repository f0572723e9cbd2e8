"""What a study has found so far: state counts, budget, proxy use, Pareto set, hypervolume.

Everything here reads the Optuna study and its trial records only, so it works the same for a
running, finished or killed study, from any process, without resolving its config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from coexplore.record import read_record
from coexplore.record.front import (
    completed_feasible,
    front_hypervolume,
    study_directions,
    study_front,
)
from coexplore.search.loop import count_states


@dataclass
class StudySummary:
    """Counts by state, budget, proxy evaluations, and the feasible Pareto set's size and hypervolume."""

    name: str
    complete: int
    running: int
    fail: int
    pruned: int
    waiting: int
    budget: int
    feasible: int
    proxy_evaluations: int
    pareto_size: int
    hypervolume: float
    objectives: list[str] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    abandoned: list[int] = field(default_factory=list)
    """Failed trials whose design point never completed and is not queued again (retries spent)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        out = [
            (f"study {self.name}: {self.complete}/{self.budget} trials complete"
             f" ({self.running} running, {self.fail} failed, {self.pruned} pruned, {self.waiting} waiting)"),
            (f"accuracy proxy evaluations: {self.proxy_evaluations} for {self.complete + self.fail + self.pruned}"
             " finished trials (the rest were cache hits: hardware-only changes)"),
            f"feasible trials: {self.feasible}; Pareto set: {self.pareto_size} designs; hypervolume {self.hypervolume:.6g}",
        ]
        if self.best:
            out.append("best per objective: " + ", ".join(f"{k} {v:.4g}" for k, v in self.best.items()))
        if self.abandoned:
            shown = ", ".join(map(str, self.abandoned[:10])) + (" ..." if len(self.abandoned) > 10 else "")
            out.append(f"abandoned design points: {len(self.abandoned)} failed and never completed "
                       f"(trials {shown}); see `coexplore study export` for their errors")
        return out


def objective_names(study: optuna.Study) -> list[str]:
    """Objective metric names (Optuna's metric names; ``objective_<i>`` when unnamed)."""
    names = study.metric_names
    if names:
        return list(names)
    objs = study.user_attrs.get("objectives")
    if objs:
        return [o["name"] for o in objs]
    return [f"objective_{i}" for i in range(len(study.directions))]


def reference_point(study: optuna.Study) -> list[float] | None:
    """The stored hypervolume reference point, if any."""
    ref = study.user_attrs.get("reference_point")
    return [float(v) for v in ref] if ref else None


def summarize(study: optuna.Study) -> StudySummary:
    """Summary of a study from its storage."""
    trials = study.get_trials(deepcopy=False)
    directions = study_directions(study)
    names = objective_names(study)
    ok = completed_feasible(trials)
    front = study_front(study)
    ref = reference_point(study)
    best: dict[str, float] = {}
    for i, (n, d) in enumerate(zip(names, directions)):
        vals = [t.values[i] for t in ok]
        if vals:
            best[n] = float(max(vals) if d == "maximize" else min(vals))
    records = [read_record(t) for t in trials]
    return StudySummary(
        abandoned=abandoned_trials(trials),
        name=study.study_name,
        budget=int(study.user_attrs.get("n_trials", 0)),
        feasible=len(ok),
        proxy_evaluations=sum(1 for r in records if r is not None and r.proxy_cache_hit is False),
        pareto_size=len(front),
        hypervolume=front_hypervolume(front, directions, ref) if ref else 0.0,
        objectives=names,
        best=best,
        **count_states(trials),
    )


def abandoned_trials(trials: list[optuna.trial.FrozenTrial]) -> list[int]:
    """Numbers of failed trials whose parameters no complete, running or waiting trial holds."""
    def key(t: optuna.trial.FrozenTrial) -> tuple:
        params = t.params or t.system_attrs.get("fixed_params") or {}
        return tuple(sorted((k, repr(v)) for k, v in params.items()))

    alive = {key(t) for t in trials if t.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)}
    return [t.number for t in trials if t.state == TrialState.FAIL and t.params and key(t) not in alive]


def pareto_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """The feasible Pareto set, one row per design: ``trial``, each objective by name, ``pe_type``,
    ``params`` (the design as evaluated), sorted by the first objective (best first)."""
    names = objective_names(study)
    directions = study_directions(study)
    rows = []
    for t in study_front(study):
        rec = read_record(t)
        row: dict[str, Any] = {"trial": t.number}
        row.update({n: float(v) for n, v in zip(names, t.values)})
        row["pe_type"] = rec.pe_type if rec is not None else t.params.get("pe_type", "")
        row["params"] = dict(rec.effective) if rec is not None and rec.effective else dict(t.params)
        rows.append(row)
    if names:
        rows.sort(key=lambda r: -r[names[0]] if directions[0] == "maximize" else r[names[0]])
    return rows


def list_studies(storage: optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """One row per study in the storage: name, complete trials, budget, objectives."""
    rows = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if s.study_name == "coexplore-proxy-cache":  # gRPC workers' proxy results (search/grpc_cache.py)
            continue
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        rows.append(
            {
                "name": s.study_name,
                "complete": complete,
                "budget": int(s.user_attrs.get("n_trials", 0)),
                "trials": s.n_trials,
                "objectives": [o["name"] for o in s.user_attrs.get("objectives", [])],
                "started": s.datetime_start.isoformat(timespec="seconds") if s.datetime_start else None,
            }
        )
    return rows
