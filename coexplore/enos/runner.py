"""ENOS end to end on the accuracy proxy's model and data and one hybrid design: search, fine-tune, cost.

:class:`EnosRunner` holds what every run shares: the proxy (its pretrained FP32 model, data,
fine-tune recipe and result cache), the workload under the model's layer names, the hybrid design
and the operator cost table. :meth:`~EnosRunner.search` builds a fresh supernet from the FP32
model and runs :func:`~coexplore.enos.search.enos_search`; the assignment it ends with, like any
fixed assignment (:meth:`~EnosRunner.evaluate_assignment`), is fine-tuned and validated by the
proxy's own :meth:`~coexplore.accuracy.ProxyEvaluator.evaluate_variant` (one recipe, one cache,
one cache-key version for every model-side choice); its cost comes from
:func:`coexplore.cim.hybrid_cost`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from coexplore.accuracy import torch_settings
from coexplore.cim.choices import DEFAULT_CHOICES
from coexplore.cim.hybrid import HybridCost, OperatorCostTable, hybrid_cost, operator_cost_table
from coexplore.cim.macro import CimMacro
from coexplore.cim.technology import CimTechnology
from coexplore.enos.search import EnosConfig, EnosSearchResult, enos_search
from coexplore.enos.supernet import EnosSupernet
from coexplore.hardware.design import DesignPoint
from coexplore.record.front import non_dominated_mask
from coexplore.workload.layer import Workload

if TYPE_CHECKING:
    from coexplore.accuracy import ProxyEvaluator


@dataclass
class EnosCandidate:
    """One evaluated discrete assignment: accuracy after the proxy's fine-tune and its hybrid cost.

    ``energy_weight`` is the search's lambda (None for a fixed assignment or a baseline).
    """

    assignment: list[str]
    accuracy: float
    baseline_accuracy: float
    cost: HybridCost
    label: str
    energy_weight: float | None = None
    search: EnosSearchResult | None = None
    seconds: float = 0.0
    cache_hit: bool = False
    proxy_seconds: float = 0.0
    macs: float = 0.0


class EnosRunner:
    """ENOS searches and fixed assignments on the proxy's model and data and one hybrid design.

    Args:
        proxy: the accuracy proxy (FP32 model, data, recipe, cache).
        design: the digital side of the hybrid.
        cim_macro: the CIM side.
        choices: operator choice names searched per layer.
        bits: the plan's bits (one for all searched layers, or one per layer).
        tech, cim_tech: technology tables (defaults: packaged).

    Example:
        >>> runner = EnosRunner(proxy, DesignPoint(), CimMacro())  # doctest: +SKIP
        >>> cands = [runner.search(EnosConfig(energy_weight=lam)) for lam in (0.0, 0.5, 2.0)]  # doctest: +SKIP
    """

    def __init__(self, proxy: ProxyEvaluator, design: DesignPoint, cim_macro: CimMacro, *,
                 choices: Sequence[str] = DEFAULT_CHOICES, bits: int | Sequence[int] = 8,
                 tech: object | None = None, cim_tech: CimTechnology | None = None) -> None:
        self.proxy = proxy
        self.data = proxy.data
        self.design, self.cim_macro = design, cim_macro
        self.choices = tuple(choices)
        self.layer_names = list(proxy.layer_names)
        workload = proxy.workload()
        self.workload = Workload(workload.name, tuple(l for l in workload.layers if l.name in self.layer_names))
        self.bits: int | list[int] = bits if isinstance(bits, int) else list(bits)
        cfg = proxy.config
        self.lr, self.batch_size, self.seed = cfg.lr, cfg.batch_size, cfg.seed
        self.regularization_weight = cfg.distribution_loss_weight
        self.tech, self.cim_tech = tech, cim_tech
        self.table: OperatorCostTable = operator_cost_table(design, cim_macro, self.workload, choices=self.choices,
                                                            bits=self.bits, tech=tech, cim_tech=cim_tech)

    @property
    def macs(self) -> float:
        """MACs of one inference of the searched layers."""
        return float(np.asarray(self.workload.arrays()["macs"]).sum())

    @property
    def baseline_accuracy(self) -> float:
        """The FP32 model's validation accuracy (the proxy's)."""
        return self.proxy.baseline_accuracy

    def supernet(self, model: nn.Module | None = None, choices: Sequence[str] | None = None,
                 assignment: Sequence[str] | None = None, cim_macro: CimMacro | None = None,
                 calibration: torch.Tensor | None = None) -> EnosSupernet:
        """A fresh supernet over ``model`` (default: the FP32 model), fixed to ``assignment`` if
        given, calibrated on a batch."""
        macro = cim_macro or self.cim_macro
        sn = EnosSupernet(model if model is not None else self.proxy.fp32_model(), choices or self.choices,
                          self.bits, rows=macro.rows, adc_bits=macro.adc_bits, layers=self.layer_names)
        if assignment is not None:
            sn.discretize(list(assignment))
        batch = calibration if calibration is not None else self.data.train_x[: max(self.batch_size, 256)]
        sn.calibrate(batch.to(next(sn.parameters()).device))
        return sn

    def search(self, config: EnosConfig, progress: Callable[[str, int, int], None] | None = None) -> EnosCandidate:
        """One ENOS search at ``config.energy_weight``; the assignment found is then evaluated as a
        fixed assignment (the proxy's fine-tune and the hybrid cost)."""
        start = time.perf_counter()
        with torch_settings(int(getattr(self.proxy, "threads", 1) or 1)):
            result = enos_search(self.supernet(), self.data.train_x, self.data.train_y, self.table.energy_j, config,
                                 num_classes=self.data.num_classes, progress=progress)
        cand = self.evaluate_assignment(result.assignment, f"enos-{config.mode} lambda={config.energy_weight:g}")
        cand.energy_weight, cand.search = config.energy_weight, result
        cand.seconds = time.perf_counter() - start
        return cand

    def variant_choices(self, assignment: Sequence[str], cim_macro: CimMacro | None = None) -> dict:
        """What a fixed assignment's accuracy depends on (its proxy cache key's choices), nothing else:
        per-layer choices, the bits, and the macro's rows and ADC bits when a layer runs in CIM."""
        macro = cim_macro or self.cim_macro
        uses_cim = any(a.endswith("@cim") for a in assignment)
        return {"kind": "enos-assignment", "layers": [list(x) for x in zip(self.layer_names, assignment)],
                "bits": self.bits, "cim": [macro.rows, macro.adc_bits] if uses_cim else None}

    def evaluate_assignment(self, assignment: Sequence[str], label: str = "", *,
                            design: DesignPoint | None = None, cim_macro: CimMacro | None = None,
                            fidelity: str = "brief") -> EnosCandidate:
        """Accuracy (the proxy's fine-tune, cached) and hybrid cost of a fixed per-layer assignment.

        Choices outside the runner's set are allowed (each layer builds only its own operator).
        ``design``/``cim_macro`` override the runner's hybrid (a study trial's hardware);
        ``fidelity="high"`` uses the proxy's long fine-tune (re-checking a front).
        """
        start = time.perf_counter()
        design, macro = design or self.design, cim_macro or self.cim_macro
        assignment = list(assignment)

        def build(fp32: nn.Module, calibration: torch.Tensor) -> nn.Module:
            return self.supernet(fp32, list(dict.fromkeys(assignment)), assignment, macro, calibration)

        result = self.proxy.evaluate_variant(self.variant_choices(assignment, macro), build,
                                             detail={"assignment": assignment}, fidelity=fidelity)
        cost = hybrid_cost(design, macro, self.workload, assignment, self.bits, tech=self.tech, cim_tech=self.cim_tech)
        return EnosCandidate(assignment, result.accuracy, result.baseline_accuracy, cost, label or "fixed assignment",
                             seconds=time.perf_counter() - start, cache_hit=result.cache_hit,
                             proxy_seconds=result.seconds, macs=self.macs)

    def baseline(self, choice: str) -> EnosCandidate:
        """Every layer on one operator choice, evaluated as a fixed assignment."""
        return self.evaluate_assignment([choice] * len(self.layer_names), f"only {choice}")


def front(candidates: Sequence[EnosCandidate]) -> list[EnosCandidate]:
    """The candidates no other beats on both accuracy (higher) and energy (lower), by energy."""
    if not candidates:
        return []
    values = np.array([[c.accuracy, c.cost.energy_j] for c in candidates])
    mask = non_dominated_mask(values, ["maximize", "minimize"])
    return sorted((c for c, m in zip(candidates, mask) if m), key=lambda c: c.cost.energy_j)
