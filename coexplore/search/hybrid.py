"""One trial of a hybrid digital + CIM space: operator assignment + hardware -> hybrid cost + accuracy.

The cost is :func:`coexplore.cim.hybrid_cost` (digital layers from the PPA model on the trial's
array, CIM layers from the macro model); the accuracy is the assignment's brief fine-tune from the
proxy's FP32 checkpoint (:meth:`coexplore.enos.EnosRunner.evaluate_assignment`), cached in the
proxy's result cache (the study storage) under a key of what accuracy depends on, so trials that
change only hardware sizing reuse it. Metrics, constraints and user_attrs follow the same contract
as every other trial (:mod:`coexplore.search.observer`) with ``pe_type`` ``"hybrid"`` and a
``choice`` and ``mode`` in each ``per_layer`` row.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from coexplore.cim.hybrid import HybridCost
from coexplore.cim.macro import CimMacro
from coexplore.hardware.design import DesignPoint
from coexplore.search.evaluate import (
    _PPA_TOTALS,
    TrialEvaluator,
    TrialOutcome,
    invalid_design_reason,
    record,
)
from coexplore.search.operators import HybridChoice, suggest_hybrid

if TYPE_CHECKING:
    import optuna

    from coexplore.enos.runner import EnosRunner

HYBRID_PE_TYPE = "hybrid"
"""The ``pe_type`` user_attr of a hybrid trial (each layer's PE type is in ``per_layer``)."""


def hybrid_raw_totals(cost: HybridCost, macs: float) -> dict[str, float]:
    """The PPA totals (``energy_j``, ``latency_s``, ``area_mm2``, ``edp``, ...) of a hybrid cost.

    Derived metrics use the PPA model's definitions (1 MAC = 2 ops; power = energy / latency).
    """
    e, lat, area = cost.energy_j, cost.latency_s, cost.area_mm2
    ok = lat > 0 and e > 0 and area > 0
    return {
        "energy_j": e, "latency_s": lat, "area_mm2": area, "edp": e * lat,
        "power_w": e / lat if ok else math.nan,
        "gops_per_mm2": 2 * macs / lat / 1e9 / area if ok else math.nan,
        "tops_per_w": 2 * macs / e / 1e12 if ok else math.nan,
        "cycles": float(sum(r.get("cycles", 0.0) for r in cost.per_layer)), "macs": float(macs),
    }


class HybridTrialEvaluator(TrialEvaluator):
    """Evaluates trials of a space with ``operators:`` (see :mod:`coexplore.search.operators`).

    Args: as :class:`~coexplore.search.evaluate.TrialEvaluator`; ``runner`` is an
    :class:`~coexplore.enos.EnosRunner` to use (default: built on the proxy at first use).
    """

    def __init__(self, *args: Any, runner: EnosRunner | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runner = runner

    @property
    def runner(self) -> EnosRunner:
        """The ENOS runner on the proxy's FP32 model, data and fine-tune recipe (built once)."""
        if self._runner is None:
            from coexplore.enos import EnosRunner

            ops = self.space.operators
            self._runner = EnosRunner.from_proxy(self.proxy, DesignPoint(), CimMacro(),
                                                 choices=ops.choices, bits=ops.bits)
        return self._runner

    @runner.setter
    def runner(self, runner: EnosRunner) -> None:
        self._runner = runner

    def hybrid_layer_names(self) -> list[str]:
        """The layers that take an operator choice (the proxy model's quantizable layers)."""
        return list(self.layer_names)

    def evaluate_hybrid(self, hw: dict[str, Any], choice: HybridChoice) -> TrialOutcome:
        """Evaluate one (hardware, CIM macro, assignment) triple; infeasibility is recorded, never raised."""
        reason, design, macro = "", None, None
        try:
            design = DesignPoint(**hw)
            macro = CimMacro(**choice.cim)
        except ValidationError as exc:
            reason = invalid_design_reason(exc)
        raw: dict[str, float] = {k: math.nan for k in _PPA_TOTALS}
        raw.update(accuracy=math.nan, drop=math.nan)
        extra: dict[str, float] = {}
        per_layer: list[dict[str, Any]] = []
        hit, t0 = False, time.perf_counter()
        if design is not None and macro is not None:
            from coexplore.accuracy.evaluator import (
                _torch_settings,  # the proxy's threads and determinism
            )

            runner = self.runner
            with _torch_settings(int(getattr(self.proxy, "threads", 1) or 1)):
                cand = runner.evaluate_assignment(choice.assignment, runner.finetune_steps, design=design,
                                                  cim_macro=macro)
            hit = bool(cand.extra.get("cache_hit", False))
            raw.update(accuracy=cand.accuracy, drop=cand.baseline_accuracy - cand.accuracy)
            raw.update(hybrid_raw_totals(cand.cost, float(np.asarray(runner.workload.arrays()["macs"]).sum())))
            cm = cand.cost.metrics()
            extra = {k: cm[k] for k in ("area_digital_mm2", "area_cim_mm2", "energy_digital_j", "energy_cim_j",
                                        "cim_layers")}
            extra["baseline_accuracy"] = cand.baseline_accuracy
            per_layer = cand.cost.per_layer
            if not cand.cost.feasible:
                reason = cand.cost.infeasible_reason or "infeasible per the cost model"
        seconds = time.perf_counter() - t0
        return self.outcome(raw, extra, reason, HYBRID_PE_TYPE, per_layer, hit, seconds, 0.0)

    def __call__(self, trial: optuna.Trial) -> list[float]:
        """Optuna objective: sample the hybrid trial, evaluate it, record the contract's user_attrs."""
        hw, choice = suggest_hybrid(self.space, trial, self.hybrid_layer_names())
        out = self.evaluate_hybrid(hw, choice)
        record(trial, out)
        return out.values
