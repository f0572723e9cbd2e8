"""One trial: sampled parameters -> design point and quantization plan -> PPA model + accuracy proxy -> record.

Infeasibility never raises: a parameter combination that is not a valid design point, or that the
PPA model flags infeasible, violates the constraint named ``feasible``; each objectives-file
constraint (``area_mm2 <= 4``) is one more. They are set as Optuna constraints, which every sampler
reads and ``study.best_trials`` honours, so the front never holds such a trial. Objective values
fall back to the reference point where the cost model gives none, so model-based samplers still
get finite numbers. The proxy is asked for every trial: its cache makes repeats of a model-side
choice free, and the accuracy it returns holds whatever the hardware.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from coexplore.hardware.design import DesignBatch, DesignPoint
from coexplore.record import FEASIBLE, SOURCE_SAMPLER, TrialRecord, compute_metrics, write_record
from coexplore.record.trial import finite, objective_values
from coexplore.search.objectives import ObjectivesConfig
from coexplore.search.space import ModelChoice, SearchSpace

if TYPE_CHECKING:
    import optuna

    from coexplore.search.study_config import StudyConfig
    from coexplore.workload.layer import Workload

PPA_TOTALS = ("energy_j", "latency_s", "area_mm2", "macs", "cycles", "power_w", "edp", "gops_per_mm2", "tops_per_w")
"""The raw totals a cost model hands to :func:`build_record` (NaN where it has none)."""


def invalid_design_reason(exc: ValidationError) -> str:
    """The ``infeasible_reason`` of parameters that make no valid design point: its first problem."""
    e = exc.errors()[0]
    return f"invalid design: {'.'.join(map(str, e['loc']))}: {e['msg']}"


def build_record(
    raw: Mapping[str, float],
    objectives: ObjectivesConfig,
    *,
    reason: str = "",
    extra_metrics: Mapping[str, float] | None = None,
    **fields: Any,
) -> TrialRecord:
    """The trial record of raw measurements: metrics, objective values and constraint values.

    The one place where raw quantities become what a study optimizes, for every producer (the
    driver, hybrid trials, ENOS), so equal measurements give equal records.

    Args:
        raw: ``accuracy``, ``baseline_accuracy`` (fractions) and the totals of :data:`PPA_TOTALS`.
        objectives: objectives, constraints and reference point.
        reason: why the design is infeasible ("" when the cost model finds it feasible).
        extra_metrics: recorded beside the registry metrics (breakdowns, ``baseline_accuracy``).
        **fields: the other :class:`~coexplore.record.TrialRecord` fields (``pe_type``,
            ``effective``, ``per_layer``, proxy facts, ``source``, ``extra``).
    """
    metrics = finite({**compute_metrics(raw), "cycles": raw.get("cycles", math.nan),
                      "baseline_accuracy": raw.get("baseline_accuracy", math.nan), **(extra_metrics or {})})
    constraints = {FEASIBLE: 0.0 if reason == "" else 1.0}
    for c in objectives.parsed_constraints():
        constraints[str(c)] = c.violation(metrics) if c.metric in metrics else 1.0
        if constraints[str(c)] > 0 and not reason:
            reason = f"constraint {c} violated ({c.metric} = {metrics.get(c.metric, math.nan):.4g})"
    return TrialRecord(values=objective_values(metrics, objectives.names, objectives.reference), metrics=metrics,
                       constraints=constraints, infeasible_reason=reason, **fields)


def _finite(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


class TrialEvaluator:
    """Evaluates trials of a study: the composition of search space, PPA model and accuracy proxy.

    Args:
        space: the search space.
        objectives: objectives, constraints and reference point.
        proxy: a ``ProxyEvaluator`` (``.layer_names``, ``.evaluate(plan)``).
        workload: the network the PPA model evaluates.
        ppa_evaluate: the PPA model's ``evaluate`` (default :func:`coexplore.ppa.evaluate`).
    """

    def __init__(self, space: SearchSpace, objectives: ObjectivesConfig, proxy: Any, workload: Workload,
                 ppa_evaluate: Callable[..., Any] | None = None) -> None:
        if ppa_evaluate is None:
            from coexplore.ppa import evaluate as ppa_evaluate
        self.space = space
        self.objectives = objectives
        self.proxy = proxy
        self.workload = workload
        self.ppa_evaluate = ppa_evaluate
        self.layer_names = list(proxy.layer_names)
        self.same_layers = list(workload.layer_names) == self.layer_names

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

    def evaluate(self, hw: dict[str, Any], choice: ModelChoice) -> TrialRecord:
        """Evaluate one (hardware, model-side choice) pair.

        Args:
            hw: DesignPoint fields (searched and fixed hardware parameters).
            choice: PE type and bits, as sampled by :meth:`SearchSpace.suggest`.
        """
        t0 = time.perf_counter()
        proxy_result = self.proxy.evaluate(self.plan(choice))
        return self.record(hw, choice, proxy_result, proxy_seconds=time.perf_counter() - t0)

    def record(self, hw: dict[str, Any], choice: ModelChoice, proxy_result: Any, *, proxy_seconds: float = 0.0,
               cache_hit: bool | None = None, source: str = SOURCE_SAMPLER,
               extra: dict[str, Any] | None = None) -> TrialRecord:
        """The record of one design given the proxy's result for its model-side choice.

        Args:
            hw, choice: as for :meth:`evaluate`.
            proxy_result: the proxy's ``ProxyResult`` for ``choice``'s plan.
            proxy_seconds: wall time of the proxy call.
            cache_hit: overrides the result's own flag (a sweep asks the proxy once for many designs).
            source, extra: the record's producer and its facts.
        """
        plan = self.plan(choice)
        t1 = time.perf_counter()
        raw: dict[str, float] = {k: math.nan for k in PPA_TOTALS}
        raw.update(accuracy=float(proxy_result.accuracy), baseline_accuracy=float(proxy_result.baseline_accuracy))
        per_layer: list[dict[str, Any]] = []
        breakdown: dict[str, float] = {}
        reason = ""
        w, a = plan.resolve(self.layer_names)
        try:
            point = DesignPoint(pe_type=choice.pe_type, **hw)
        except ValidationError as exc:
            reason = invalid_design_reason(exc)
        else:
            wl, al = self._layer_bits(plan)
            res = self.ppa_evaluate(DesignBatch.from_points([point]), self.workload, weight_bits=wl, act_bits=al)
            for k in PPA_TOTALS:
                raw[k] = _finite(np.asarray(getattr(res, k))[0])
            if not bool(np.asarray(res.feasible)[0]):
                reason = str(np.asarray(res.infeasible_reason)[0]) or "infeasible per the PPA model"
            d = res.to_dict(0, per_layer=True)
            per_layer = list(d.get("layers", []))
            breakdown = {f"area_{k}_mm2": v for k, v in d["area_breakdown_mm2"].items()}
            breakdown.update({f"energy_{k}_j": v for k, v in d["energy_breakdown_j"].items()})
        effective = {"pe_type": choice.pe_type, **hw, "weight_bits": w, "act_bits": a}
        return build_record(raw, self.objectives, reason=reason, extra_metrics=breakdown, pe_type=choice.pe_type,
                            effective=effective, per_layer=per_layer, source=source, extra=dict(extra or {}),
                            proxy_cache_hit=bool(proxy_result.cache_hit if cache_hit is None else cache_hit),
                            proxy_seconds=proxy_seconds, ppa_seconds=time.perf_counter() - t1)

    def proxy_accuracy(self, params: dict[str, Any], fidelity: str = "brief") -> tuple[float, float, str]:
        """(accuracy, baseline accuracy, proxy cache key) of the model-side choice in a trial's
        parameters at ``fidelity`` (``brief`` or ``high``), for re-checking a front."""
        import optuna

        _, choice = self.space.suggest(optuna.trial.FixedTrial(params), self.layer_names)
        r = self.proxy.evaluate(self.plan(choice), fidelity=fidelity)
        return float(r.accuracy), float(r.baseline_accuracy), str(r.key)

    def __call__(self, trial: optuna.Trial) -> list[float]:
        """Optuna objective: sample, evaluate, write the trial record."""
        hw, choice = self.space.suggest(trial, self.layer_names)
        record = self.evaluate(hw, choice)
        write_record(trial, record)
        return record.values


def build_evaluator(cfg: StudyConfig, storage_url: str) -> TrialEvaluator:
    """The trial evaluator of a plain (PE type x bits x hardware) study: the proxy, its cache in
    the study storage, and the PPA workload.

    Raises:
        ValueError: the space is a hybrid one (``operators:``): its evaluator lives in
            :mod:`coexplore.enos` (``coexplore.api`` builds either).
    """
    from coexplore.accuracy import ProxyEvaluator
    from coexplore.search.storage import proxy_cache_dir

    if cfg.space.hybrid:
        raise ValueError(f"study {cfg.name}: a hybrid (operators:) space is evaluated by coexplore.enos; "
                         "use coexplore.api.build_evaluator")
    proxy = ProxyEvaluator(cfg.proxy_config(), cache_dir=proxy_cache_dir(storage_url), cache_url=storage_url)
    from coexplore.search.model_axes import has_transforms

    if has_transforms(cfg.space.model):  # model-side transform axes (prune, vip)
        from coexplore.search.transformed import transform_evaluator

        return transform_evaluator(cfg, proxy)
    if cfg.workload:
        from coexplore.workload import resolve

        return TrialEvaluator(cfg.space, cfg.objectives, proxy, resolve(cfg.workload))
    return TrialEvaluator(cfg.space, cfg.objectives, proxy, proxy.workload())
