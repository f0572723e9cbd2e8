"""One trial: sampled parameters -> design point and quantization plan -> PPA model + accuracy proxy -> metrics.

Infeasibility never raises: a parameter combination that is not a valid design point, or that the
PPA model flags infeasible, violates the constraint named ``feasible``; each objectives-file
constraint (``area_mm2 <= 4``) is one more. They are set with Optuna 5's ``Trial.set_constraint``
(which every sampler reads; the older ``constraints_func`` is deprecated in Optuna 5), so the
sampler learns to avoid them and the Pareto set never contains such a trial. The trial's
``feasible`` user_attr is True only when every constraint holds (``infeasible_reason`` says which
did not). Its objective values fall back to the
reference point where the PPA model gives none, so model-based samplers still get finite numbers.
The proxy is asked for every trial: its cache makes repeats of a model-side choice free, and the
accuracy it returns is true whatever the hardware.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from coexplore.hardware.design import DesignBatch, DesignPoint
from coexplore.search.objectives import ObjectivesConfig, compute_metrics
from coexplore.search.space import ModelChoice, SearchSpace

if TYPE_CHECKING:
    import optuna

    from coexplore.workload.layer import Workload

CONSTRAINT_ATTR = "constraint_values"
"""Trial user_attr with the constraint values by name (feasible iff all <= 0), as also set with ``set_constraint``."""
FEASIBLE = "feasible"
"""Name of the constraint that the design point is valid and the PPA model finds it feasible."""

_PPA_TOTALS = ("energy_j", "latency_s", "area_mm2", "edp", "power_w", "gops_per_mm2", "tops_per_w", "cycles", "macs")


@dataclass
class TrialOutcome:
    """What one evaluation produced: objective values, constraint values and everything recorded."""

    values: list[float]
    constraints: dict[str, float]
    metrics: dict[str, float]
    feasible: bool
    infeasible_reason: str
    pe_type: str
    per_layer: list[dict[str, Any]] = field(default_factory=list)
    proxy_cache_hit: bool = False
    proxy_seconds: float = 0.0
    ppa_seconds: float = 0.0


def invalid_design_reason(exc: ValidationError) -> str:
    """The ``infeasible_reason`` of parameters that make no valid design point: its first problem."""
    e = exc.errors()[0]
    return f"invalid design: {'.'.join(map(str, e['loc']))}: {e['msg']}"


def _finite(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


class TrialEvaluator:
    """Evaluates trials of a study: the composition of search space, PPA model and accuracy proxy.

    Args:
        space: the search space.
        objectives: objectives, constraints and reference point.
        proxy: a ``ProxyEvaluator`` (``.layer_names``, ``.evaluate(plan)``).
        workload: the network the PPA model evaluates.
        ppa_evaluate: the PPA model's ``evaluate`` (default :func:`coexplore.ppa.evaluate`).
    """

    def __init__(
        self,
        space: SearchSpace,
        objectives: ObjectivesConfig,
        proxy: Any,
        workload: Workload,
        ppa_evaluate: Callable[..., Any] | None = None,
    ) -> None:
        if ppa_evaluate is None:
            from coexplore.ppa import evaluate as ppa_evaluate
        self.space = space
        self.objectives = objectives
        self.proxy = proxy
        self.workload = workload
        self.ppa_evaluate = ppa_evaluate
        self.layer_names = list(proxy.layer_names)
        self.same_layers = list(workload.layer_names) == self.layer_names
        self._constraints = objectives.parsed_constraints()

    def plan(self, choice: ModelChoice) -> Any:
        """The proxy's ``QuantPlan`` for a model-side choice."""
        from coexplore.quant import QuantPlan

        return QuantPlan(**choice.model_dump())

    def _layer_bits(self, plan: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-layer bits (shape L) in the PPA workload's layer order."""
        if self.same_layers:
            w, a = plan.resolve(self.layer_names)
        else:  # a workload other than the proxy model's: network-level bits (and pinned ends)
            w, a = plan.model_copy(update={"layer_weight_bits": {}, "layer_act_bits": {}}).resolve(
                self.workload.layer_names
            )
        return np.asarray(w, dtype=np.int64), np.asarray(a, dtype=np.int64)

    def evaluate(self, hw: dict[str, Any], choice: ModelChoice) -> TrialOutcome:
        """Evaluate one (hardware, model-side choice) pair.

        Args:
            hw: DesignPoint fields (searched and fixed hardware parameters).
            choice: PE type and bits, as sampled by :meth:`SearchSpace.suggest`.
        """
        plan = self.plan(choice)
        t0 = time.perf_counter()
        proxy_result = self.proxy.evaluate(plan)
        t1 = time.perf_counter()
        raw: dict[str, float] = {k: math.nan for k in _PPA_TOTALS}
        raw.update(accuracy=float(proxy_result.accuracy), drop=float(proxy_result.drop))
        per_layer: list[dict[str, Any]] = []
        breakdown: dict[str, float] = {}
        reason = ""
        try:
            point = DesignPoint(pe_type=choice.pe_type, **hw)
        except ValidationError as exc:
            reason = invalid_design_reason(exc)
        else:
            w, a = self._layer_bits(plan)
            res = self.ppa_evaluate(DesignBatch.from_points([point]), self.workload, weight_bits=w, act_bits=a)
            for k in _PPA_TOTALS:
                raw[k] = _finite(np.asarray(getattr(res, k))[0])
            if not bool(np.asarray(res.feasible)[0]):
                reason = str(np.asarray(res.infeasible_reason)[0]) or "infeasible per the PPA model"
            d = res.to_dict(0, per_layer=True)
            per_layer = list(d.get("layers", []))
            breakdown = {f"area_{k}_mm2": v for k, v in d["area_breakdown_mm2"].items()}
            breakdown.update({f"energy_{k}_j": v for k, v in d["energy_breakdown_j"].items()})
        t2 = time.perf_counter()
        extra = {"baseline_accuracy": float(proxy_result.baseline_accuracy)}
        extra.update({k: v for k, v in breakdown.items() if math.isfinite(v)})
        return self.outcome(raw, extra, reason, choice.pe_type, per_layer, bool(proxy_result.cache_hit),
                            t1 - t0, t2 - t1)

    def outcome(self, raw: dict[str, float], extra: dict[str, float], reason: str, pe_type: str,
                per_layer: list[dict[str, Any]], cache_hit: bool, proxy_seconds: float,
                ppa_seconds: float) -> TrialOutcome:
        """Objective values, constraints and recorded metrics from raw totals (``accuracy``, ``drop``, PPA).

        Args:
            raw: ``accuracy``, ``drop`` (fraction) and the PPA totals of ``_PPA_TOTALS`` (NaN if none).
            extra: further metrics recorded as they are (``baseline_accuracy``, hybrid splits).
            reason: why the design is infeasible ("" when the model finds it feasible).
        """
        metrics = compute_metrics(raw)
        metrics.update(latency_s=raw["latency_s"], cycles=raw["cycles"], macs=raw["macs"], **extra)
        values = []
        for name, ref in zip(self.objectives.names, self.objectives.reference):
            v = metrics[name]
            values.append(v if math.isfinite(v) else float(ref))
        finite_metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        cons = {FEASIBLE: 0.0 if reason == "" else 1.0}
        for c in self._constraints:
            cons[str(c)] = c.violation(metrics) if c.metric in finite_metrics else 1.0
            if cons[str(c)] > 0 and not reason:
                reason = f"constraint {c} violated ({c.metric} = {metrics.get(c.metric, float('nan')):.4g})"
        return TrialOutcome(
            values=values,
            constraints=cons,
            metrics=finite_metrics,
            feasible=reason == "",
            infeasible_reason=reason,
            pe_type=pe_type,
            per_layer=per_layer,
            proxy_cache_hit=cache_hit,
            proxy_seconds=proxy_seconds,
            ppa_seconds=ppa_seconds,
        )

    def __call__(self, trial: optuna.Trial) -> list[float]:
        """Optuna objective: sample, evaluate, record the user_attrs of the observer contract."""
        hw, choice = self.space.suggest(trial, self.layer_names)
        out = self.evaluate(hw, choice)
        record(trial, out)
        return out.values


def record(trial: optuna.Trial, out: TrialOutcome) -> None:
    """Set the trial user_attrs listed in :mod:`coexplore.search.observer` (plus timings)."""
    attrs = {
        "metrics": out.metrics,
        "pe_type": out.pe_type,
        "feasible": out.feasible,
        "infeasible_reason": out.infeasible_reason,
        "per_layer": out.per_layer,
        "proxy_cache_hit": out.proxy_cache_hit,
        CONSTRAINT_ATTR: out.constraints,
        "proxy_seconds": round(out.proxy_seconds, 4),
        "ppa_seconds": round(out.ppa_seconds, 5),
    }
    for k, v in attrs.items():
        trial.set_user_attr(k, v)
    for name, value in out.constraints.items():
        trial.set_constraint(name, value)
