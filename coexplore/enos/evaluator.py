"""One trial of a hybrid digital + CIM space: operator assignment + hardware -> hybrid cost + accuracy.

The cost is :func:`coexplore.cim.hybrid_cost` (digital layers from the PPA model on the trial's
array, CIM layers from the macro model); the accuracy is the assignment's fine-tune by the proxy
(:meth:`EnosRunner.evaluate_assignment`, cached in the study storage under what the accuracy
depends on), so trials that change only hardware sizing reuse it. The trial record is built by
the same :func:`~coexplore.search.evaluate.build_record` as every other trial, with ``pe_type``
``"hybrid"`` and a ``choice`` and ``mode`` in each per-layer row.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from coexplore.cim.macro import CimMacro
from coexplore.enos.runner import EnosCandidate, EnosRunner
from coexplore.hardware.design import DesignPoint
from coexplore.record import SOURCE_ENOS, SOURCE_SAMPLER, TrialRecord, write_record
from coexplore.search.evaluate import (
    PPA_TOTALS,
    TrialEvaluator,
    build_record,
    invalid_design_reason,
)
from coexplore.search.operators import CIM_PARAM, HybridChoice, suggest_hybrid

if TYPE_CHECKING:
    import optuna

    from coexplore.search.objectives import ObjectivesConfig
    from coexplore.search.study_config import StudyConfig

ENOS_FACTS_ATTR = "enos"
"""User attribute of a trial enqueued by ENOS: the search's facts (lambda, mode, expected energy)."""
HYBRID_PE_TYPE = "hybrid"
"""The ``pe_type`` of a hybrid trial (each layer's PE type is in its per-layer row)."""


def candidate_record(cand: EnosCandidate, objectives: ObjectivesConfig, *, reason: str = "",
                     effective: dict[str, Any] | None = None, source: str = SOURCE_SAMPLER,
                     extra: dict[str, Any] | None = None) -> TrialRecord:
    """The trial record of an evaluated assignment (ENOS's and the driver's hybrid trials alike)."""
    raw = {"accuracy": cand.accuracy, "baseline_accuracy": cand.baseline_accuracy, **cand.cost.raw_totals(cand.macs)}
    if not cand.cost.feasible and not reason:
        reason = cand.cost.infeasible_reason or "infeasible per the cost model"
    return build_record(raw, objectives, reason=reason, extra_metrics=cand.cost.breakdown(),
                        pe_type=HYBRID_PE_TYPE, effective=effective or {"assignment": list(cand.assignment)},
                        per_layer=cand.cost.per_layer, proxy_cache_hit=cand.cache_hit,
                        proxy_seconds=cand.proxy_seconds, ppa_seconds=max(cand.seconds - cand.proxy_seconds, 0.0),
                        source=source, extra=extra or {})


class HybridTrialEvaluator(TrialEvaluator):
    """Evaluates trials of a space with ``operators:`` (see :mod:`coexplore.search.operators`).

    Args: as :class:`~coexplore.search.evaluate.TrialEvaluator`; ``runner`` is the
    :class:`EnosRunner` to use (default: built on the proxy at first use).
    """

    def __init__(self, *args: Any, runner: EnosRunner | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runner = runner

    @property
    def runner(self) -> EnosRunner:
        """The ENOS runner on the proxy (built once)."""
        if self._runner is None:
            ops = self.space.operators
            self._runner = EnosRunner(self.proxy, DesignPoint(), CimMacro(), choices=ops.choices, bits=ops.bits)
        return self._runner

    @runner.setter
    def runner(self, runner: EnosRunner) -> None:
        self._runner = runner

    def evaluate_hybrid(self, hw: dict[str, Any], choice: HybridChoice) -> TrialRecord:
        """Evaluate one (hardware, CIM macro, assignment) triple; infeasibility is recorded, never raised."""
        effective = {**hw, **{f"{CIM_PARAM}{k}": v for k, v in choice.cim.items()},
                     "assignment": list(choice.assignment)}
        try:
            design, macro = DesignPoint(**hw), CimMacro(**choice.cim)
        except ValidationError as exc:
            raw = {k: math.nan for k in PPA_TOTALS}
            return build_record(raw, self.objectives, reason=invalid_design_reason(exc), pe_type=HYBRID_PE_TYPE,
                                effective=effective)
        start = time.perf_counter()
        cand = self.runner.evaluate_assignment(choice.assignment, design=design, cim_macro=macro)
        cand.seconds = time.perf_counter() - start
        return candidate_record(cand, self.objectives, effective=effective)

    def proxy_accuracy(self, params: dict[str, Any], fidelity: str = "brief") -> tuple[float, float, str]:
        """(accuracy, baseline accuracy, cache identity) of the assignment in a trial's parameters."""
        import optuna

        _, choice = suggest_hybrid(self.space, optuna.trial.FixedTrial(params), list(self.layer_names))
        macro = CimMacro(**choice.cim)
        cand = self.runner.evaluate_assignment(choice.assignment, cim_macro=macro, fidelity=fidelity)
        key = repr(sorted(self.runner.variant_choices(choice.assignment, macro).items()))
        return float(cand.accuracy), float(cand.baseline_accuracy), key

    def __call__(self, trial: optuna.Trial) -> list[float]:
        """Optuna objective: sample the hybrid trial, evaluate it, write the trial record."""
        hw, choice = suggest_hybrid(self.space, trial, list(self.layer_names))
        record = self.evaluate_hybrid(hw, choice)
        facts = trial.user_attrs.get(ENOS_FACTS_ATTR)
        if facts:  # a trial ENOS enqueued: the record says so
            record.source, record.extra = SOURCE_ENOS, dict(facts)
        write_record(trial, record)
        return record.values


def hybrid_evaluator(cfg: StudyConfig, storage_url: str) -> HybridTrialEvaluator:
    """The trial evaluator of a hybrid (``operators:``) study on its proxy (cache in the study storage).

    Raises:
        ValueError: the study names a ``workload``: a hybrid space is costed on the proxy model's
            own layers (each layer's operator changes its accuracy).
    """
    from coexplore.accuracy import ProxyEvaluator
    from coexplore.search.storage import proxy_cache_dir

    if cfg.workload:
        raise ValueError(f"study {cfg.name}: workload: a hybrid (operators:) space is costed on the proxy model's "
                         "own layers (each layer's operator changes its accuracy); remove workload")
    proxy = ProxyEvaluator(cfg.proxy_config(), cache_dir=proxy_cache_dir(storage_url), cache_url=storage_url)
    return HybridTrialEvaluator(cfg.space, cfg.objectives, proxy, proxy.workload())
