"""ENOS end to end on one model, data set and hybrid design: search, fine-tune, cost, baselines.

:class:`EnosRunner` holds what every run shares (the pretrained FP32 model, the data splits, the
workload under the model's layer names, the hybrid design and the operator cost table). Each
:meth:`~EnosRunner.search` builds a fresh supernet from the FP32 model, runs
:func:`~coexplore.enos.search.enos_search`, fixes the argmax assignment, fine-tunes the discrete
network briefly (the proxy's recipe) and measures validation accuracy; the assignment's cost comes
from :func:`coexplore.cim.hybrid_cost`. :meth:`~EnosRunner.baseline` does the same for one operator
on every layer with the same total training steps, for comparisons at equal energy.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from coexplore.accuracy.cache import ResultCache, stable_hash
from coexplore.accuracy.training import accuracy, train
from coexplore.cim.choices import DEFAULT_CHOICES
from coexplore.cim.hybrid import HybridCost, OperatorCostTable, hybrid_cost, operator_cost_table
from coexplore.cim.macro import CimMacro
from coexplore.cim.technology import CimTechnology
from coexplore.enos.search import EnosConfig, EnosSearchResult, enos_search
from coexplore.enos.supernet import EnosSupernet
from coexplore.hardware.design import DesignPoint
from coexplore.quant import quantizable_layers
from coexplore.workload.layer import Workload

if TYPE_CHECKING:
    from coexplore.accuracy import ProxyEvaluator, Splits


@dataclass
class EnosCandidate:
    """One evaluated discrete assignment: accuracy after the fine-tune and its hybrid cost.

    ``energy_weight`` is the search's lambda (None for a single-operator baseline).
    """

    assignment: list[str]
    accuracy: float
    baseline_accuracy: float
    cost: HybridCost
    label: str
    energy_weight: float | None = None
    search: EnosSearchResult | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Every metric of the candidate: the hybrid cost's plus ``accuracy`` and ``accuracy_drop``."""
        out = dict(self.cost.metrics())
        out["accuracy"] = self.accuracy
        out["accuracy_drop"] = self.baseline_accuracy - self.accuracy
        if self.search is not None:
            out["expected_energy_j"] = self.search.expected_energy_j
        return out


class EnosRunner:
    """ENOS searches and single-operator baselines on one model, data set and hybrid design.

    Args:
        model: the pretrained FP32 model (not modified).
        data: train / validation splits (inputs ``N x C x H x W``).
        workload: the model's layers (names as ``model.named_modules()``), for the cost model.
        design: the digital side of the hybrid.
        cim_macro: the CIM side.
        choices: operator choice names searched per layer.
        bits: the plan's bits (one for all searched layers, or one per layer).
        finetune_steps, lr, batch_size, seed, regularization_weight: the discrete fine-tune's
            recipe (as the proxy's).
        tech, cim_tech: technology tables (defaults: packaged).
        cache, cache_salt: where fixed-assignment accuracies are cached (the proxy's result cache)
            and what identifies the FP32 checkpoint in their keys. An assignment's accuracy depends
            on the choices, the bits, the macro's ``rows`` and ``adc_bits`` and the recipe only,
            so trials that change other hardware reuse it.

    Example:
        >>> runner = EnosRunner.from_proxy(evaluator, DesignPoint(), CimMacro())  # doctest: +SKIP
        >>> front = runner.sweep([0.0, 0.5, 2.0], EnosConfig(steps=100))  # doctest: +SKIP
    """

    def __init__(self, model: nn.Module, data: Splits, workload: Workload, design: DesignPoint,
                 cim_macro: CimMacro, *, choices: Sequence[str] = DEFAULT_CHOICES, bits: int | Sequence[int] = 8,
                 finetune_steps: int = 120, lr: float = 1e-3, batch_size: int = 64, seed: int = 0,
                 regularization_weight: float = 1.0, baseline_accuracy: float | None = None,
                 tech: object | None = None, cim_tech: CimTechnology | None = None,
                 cache: ResultCache | None = None, cache_salt: str = "") -> None:
        self.model = model
        self.data = data
        self.design, self.cim_macro = design, cim_macro
        self.choices = tuple(choices)
        self.layer_names = quantizable_layers(model, data.train_x[:2])
        missing = [n for n in self.layer_names if n not in workload.layer_names]
        if missing:
            raise ValueError(f"workload {workload.name}: has no layers {missing} of the model")
        self.workload = Workload(workload.name, tuple(l for l in workload.layers if l.name in self.layer_names))
        self.bits: int | list[int] = bits if isinstance(bits, int) else list(bits)
        self.finetune_steps, self.lr, self.batch_size, self.seed = finetune_steps, lr, batch_size, seed
        self.regularization_weight = regularization_weight
        self.tech, self.cim_tech = tech, cim_tech
        self.cache, self.cache_salt = cache, cache_salt
        self.table: OperatorCostTable = operator_cost_table(design, cim_macro, self.workload, choices=self.choices,
                                                            bits=self.bits, tech=tech, cim_tech=cim_tech)
        self.baseline_accuracy = baseline_accuracy if baseline_accuracy is not None else \
            accuracy(copy.deepcopy(model), data.val_x, data.val_y)

    @classmethod
    def from_proxy(cls, evaluator: ProxyEvaluator, design: DesignPoint, cim_macro: CimMacro,
                   **kwargs) -> EnosRunner:
        """A runner on the proxy's pretrained model, data and fine-tune recipe."""
        cfg = evaluator.config
        defaults = {"finetune_steps": cfg.finetune_steps, "lr": cfg.lr, "batch_size": cfg.batch_size, "seed": cfg.seed,
                        "regularization_weight": cfg.distribution_loss_weight,
                        "baseline_accuracy": evaluator.baseline_accuracy, "cache": evaluator.cache,
                        "cache_salt": evaluator.pretrain_key}
        return cls(evaluator.fp32_model(), evaluator.data, evaluator.workload(), design, cim_macro,
                   **{**defaults, **kwargs})

    def supernet(self, choices: Sequence[str] | None = None, assignment: Sequence[str] | None = None,
                 cim_macro: CimMacro | None = None) -> EnosSupernet:
        """A fresh supernet over the FP32 model (fixed to ``assignment`` if given), calibrated on a batch."""
        macro = cim_macro or self.cim_macro
        sn = EnosSupernet(self.model, choices or self.choices, self.bits, rows=macro.rows, adc_bits=macro.adc_bits,
                          layers=self.layer_names)
        if assignment is not None:
            sn.discretize(list(assignment))
        sn.calibrate(self.data.train_x[: max(self.batch_size, 256)])
        return sn

    def _finetune(self, net: nn.Module, steps: int) -> float:
        torch.manual_seed(self.seed)
        train(net, self.data.train_x, self.data.train_y, steps=steps, lr=self.lr, batch_size=self.batch_size,
              seed=self.seed + 1, num_classes=self.data.num_classes,
              regularization_weight=self.regularization_weight, phase="enos fine-tune")
        return accuracy(net, self.data.val_x, self.data.val_y)

    def search(self, config: EnosConfig, progress: Callable[[str, int, int], None] | None = None) -> EnosCandidate:
        """One ENOS search at ``config.energy_weight``, then the discrete fine-tune and its cost."""
        start = time.perf_counter()
        sn = self.supernet()
        result = enos_search(sn, self.data.train_x, self.data.train_y, self.table.energy_j, config,
                             num_classes=self.data.num_classes, progress=progress)
        sn.discretize(result.assignment)
        acc = self._finetune(sn, self.finetune_steps)
        cost = hybrid_cost(self.design, self.cim_macro, self.workload, result.assignment, self.bits,
                           tech=self.tech, cim_tech=self.cim_tech)
        return EnosCandidate(result.assignment, acc, self.baseline_accuracy, cost,
                             f"enos-{config.mode} lambda={config.energy_weight:g}", config.energy_weight, result,
                             time.perf_counter() - start)

    def assignment_key(self, assignment: Sequence[str], steps: int, cim_macro: CimMacro | None = None) -> str:
        """Cache key of a fixed assignment's accuracy: what the accuracy depends on, and nothing else."""
        macro = cim_macro or self.cim_macro
        uses_cim = any(a.endswith("@cim") for a in assignment)
        return stable_hash({
            "v": 1, "kind": "enos-assignment", "checkpoint": self.cache_salt,
            "layers": [list(x) for x in zip(self.layer_names, assignment)],
            "bits": self.bits,
            "cim": [macro.rows, macro.adc_bits] if uses_cim else None,
            "recipe": [steps, self.lr, self.batch_size, self.seed, self.regularization_weight],
        })

    def evaluate_assignment(self, assignment: Sequence[str], steps: int, label: str = "", *,
                            design: DesignPoint | None = None, cim_macro: CimMacro | None = None) -> EnosCandidate:
        """Fine-tune the network with a fixed per-layer assignment for ``steps`` steps; accuracy and cost.

        Choices outside the runner's set are allowed (each layer builds only its own operator).
        ``design``/``cim_macro`` override the runner's hybrid (a study trial's hardware); the
        accuracy comes from the cache when one is set and holds the key
        (``candidate.extra["cache_hit"]``).
        """
        start = time.perf_counter()
        design, macro = design or self.design, cim_macro or self.cim_macro
        assignment = list(assignment)
        key = self.assignment_key(assignment, steps, macro)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            acc = hit.accuracy
        else:
            sn = self.supernet(list(dict.fromkeys(assignment)), assignment, macro)
            acc = self._finetune(sn, steps)
            if self.cache is not None:
                self.cache.put(key, acc, self.baseline_accuracy, time.perf_counter() - start,
                               {"assignment": assignment, "layers": list(self.layer_names), "steps": steps})
        cost = hybrid_cost(design, macro, self.workload, assignment, self.bits, tech=self.tech, cim_tech=self.cim_tech)
        return EnosCandidate(assignment, acc, self.baseline_accuracy, cost, label or "fixed assignment",
                             None, None, time.perf_counter() - start, {"cache_hit": hit is not None})

    def baseline(self, choice: str, steps: int) -> EnosCandidate:
        """Every layer on one operator choice, fine-tuned ``steps`` steps (match the search's budget)."""
        return self.evaluate_assignment([choice] * len(self.layer_names), steps, f"only {choice}")

    def sweep(self, energy_weights: Sequence[float], config: EnosConfig) -> list[EnosCandidate]:
        """One search per lambda in ``energy_weights`` (other settings from ``config``)."""
        return [self.search(config.model_copy(update={"energy_weight": float(lam)})) for lam in energy_weights]


def front(candidates: Sequence[EnosCandidate]) -> list[EnosCandidate]:
    """The candidates no other beats on both accuracy (higher) and energy (lower), by energy."""
    from coexplore.search.pareto import non_dominated_mask

    if not candidates:
        return []
    values = np.array([[c.accuracy, c.cost.energy_j] for c in candidates])
    mask = non_dominated_mask(values, ["maximize", "minimize"])
    return sorted((c for c, m in zip(candidates, mask) if m), key=lambda c: c.cost.energy_j)
