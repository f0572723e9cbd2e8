"""Differentiable, hardware-aware Single-Path NAS: learned thresholds on the superkernels' norms.

Single-Path NAS (Stamoulis et al., ECML-PKDD 2019, section 3.1) decides each block's choices by
comparing weight norms with learned thresholds, all inside one path of shared weights:

- kernel: 5x5 iff the squared norm of the superkernel's outer ring exceeds ``t_k``;
- expansion: ratio 6 iff the squared norm of the second half of the hidden channels' 3x3 centres
  exceeds ``t_e``;
- skip (blocks that may skip): kept iff the squared norm of the first half's 3x3 centres exceeds ``t_s``.

The forward pass uses the hard decisions ``1(x > t)``; gradients flow through the sigmoid
``sigma((x - t) / T)`` (straight-through, as the paper relaxes the indicator), to the thresholds
and to the weights alike. Norms are compared in log space (mean squared weight), so one
temperature suits every block. The loss is ``cross-entropy + lambda x R / R_max``, where ``R`` is
the network's cost from a per-block, per-choice table (:mod:`coexplore.nas.lut`, the paper's
runtime model) under the relaxed decisions, and ``R_max`` the full path's cost: lambda 0 searches
for accuracy alone, larger lambdas for cheaper networks. Blocks of one unit (a named group, or the
whole network) share their decisions: the unit's statistic is the mean over its blocks.

Example:
    >>> result = threshold_search(supernet, x, y, table, ThresholdConfig(cost_weight=1.0))  # doctest: +SKIP
    >>> result.architecture  # doctest: +SKIP
    'k5e6,k3e3,skip,k3e3,k3e6'
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from coexplore.nas.lut import CostTable
from coexplore.nas.settings import EXPANDS, KERNELS, BlockChoice, encode
from coexplore.nas.supernet import MBConvBlock, SinglePathSupernet

EPS = 1e-12


@dataclass(frozen=True)
class ThresholdConfig:
    """One search's settings.

    Args:
        cost_weight: lambda, the weight of the relative cost ``R / R_max`` in the loss.
        steps: Adam steps (batches) of the joint weight and threshold training.
        lr: the weights' learning rate; ``threshold_lr``: the thresholds' (log-norm units per step, Adam).
        margin: thresholds start this far (log units) below each unit's statistic: every choice starts on.
        temperature: of the sigmoid that carries the indicators' gradients.
        batch_size, seed: mini-batches and their order (deterministic per seed).
        search_kernel, search_expand: which decisions are searched; ``fixed_kernel``/``fixed_expand``
            hold the others (and blocks in no unit).
        units: unit name -> block indices sharing one decision (default: each block its own).
        skippable: block indices whose skip is searched.
    """

    cost_weight: float = 0.0
    steps: int = 200
    lr: float = 1e-3
    threshold_lr: float = 0.05
    margin: float = 1.0
    temperature: float = 1.0
    batch_size: int = 64
    seed: int = 0
    search_kernel: bool = True
    search_expand: bool = True
    fixed_kernel: int = 5
    fixed_expand: int = 6
    units: dict[str, list[int]] | None = None
    skippable: tuple[int, ...] = ()


@dataclass
class ThresholdResult:
    """What one search ends with: the per-block choices, their cost and the search's facts."""

    choices: list[BlockChoice]
    cost: float
    relative_cost: float
    thresholds: dict[str, float] = field(default_factory=dict)
    final_loss: float = math.nan
    seconds: float = 0.0

    @property
    def architecture(self) -> str:
        """The architecture string (:func:`coexplore.nas.encode`)."""
        return encode(self.choices)


def _statistics(block: MBConvBlock) -> dict[str, torch.Tensor]:
    """Log mean squared weight of the outer ring (first half), second-half centres, first-half centres."""
    inner, _ = block.masks()
    w, half = block.dw.weight, block.dw.out_channels // 2

    def log_ms(t: torch.Tensor, n: float) -> torch.Tensor:
        return torch.log((t ** 2).sum() / n + EPS)

    ring = (w[:half] * (1 - inner))
    return {"kernel": log_ms(ring, half * 16), "expand": log_ms(w[half:] * inner, half * 9),
            "skip": log_ms(w[:half] * inner, half * 9)}


def _indicator(x: torch.Tensor, t: torch.Tensor, temperature: float) -> torch.Tensor:
    """``1(x > t)`` forward, ``sigma((x - t) / T)``'s gradient backward."""
    soft = torch.sigmoid((x - t) / temperature)
    return (x > t).float() + soft - soft.detach()


def _expected_cost(table: CostTable, gk: list, ge: list, gs: list) -> torch.Tensor:
    """The network's cost under the indicators (bilinear in each block's kernel and expand decisions)."""
    total = torch.tensor(table.base)
    k3, k5 = KERNELS.index(3), KERNELS.index(5)
    e3, e6 = EXPANDS.index(3), EXPANDS.index(6)
    for i in range(len(table.blocks)):
        c = torch.as_tensor(table.cost[i], dtype=torch.float32)
        small = (1 - ge[i]) * c[k3, e3] + ge[i] * c[k3, e6]
        large = (1 - ge[i]) * c[k5, e3] + ge[i] * c[k5, e6]
        total = total + gs[i] * ((1 - gk[i]) * small + gk[i] * large)
    return total


def threshold_search(supernet: SinglePathSupernet, x: torch.Tensor, y: torch.Tensor, table: CostTable,
                     config: ThresholdConfig,
                     progress: Callable[[str, int, int], None] | None = None) -> ThresholdResult:
    """Train thresholds (and a copy of the weights) of ``supernet`` on ``x``/``y``; return the choices.

    Args:
        supernet: the trained supernet (left untouched: the search trains a copy).
        x, y: training images (``N x C x H x W``) and labels (``N``), on the supernet's device.
        table: the per-block, per-choice cost table.
        config: lambda and the search's budget.
        progress: ``(phase, done, total)`` after each step.
    """
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    model = copy.deepcopy(supernet)
    model.sample_paths = False
    model.train()
    blocks = list(model.blocks)
    units = config.units or {str(i): [i] for i in range(len(blocks))}
    searched = {"kernel": config.search_kernel, "expand": config.search_expand, "skip": bool(config.skippable)}
    with torch.no_grad():
        stats0 = [_statistics(b) for b in blocks]
    thresholds: dict[tuple[str, str], torch.nn.Parameter] = {}
    for kind, on in searched.items():
        if not on:
            continue
        for unit, members in units.items():
            members = [i for i in members if kind != "skip" or i in config.skippable]
            if members:
                start_t = float(torch.stack([stats0[i][kind] for i in members]).mean()) - config.margin
                thresholds[(kind, unit)] = torch.nn.Parameter(torch.tensor(start_t))
    optimizer = torch.optim.Adam([{"params": list(model.parameters()), "lr": config.lr},
                                  {"params": list(thresholds.values()), "lr": config.threshold_lr}])
    generator = torch.Generator().manual_seed(config.seed)
    n, bs = len(y), min(config.batch_size, len(y))
    perm, cursor, loss_value = torch.randperm(n, generator=generator), 0, math.nan

    def indicators() -> tuple[list, list, list]:
        stats = [_statistics(b) for b in blocks]
        fixed = {"kernel": float(config.fixed_kernel == 5), "expand": float(config.fixed_expand == 6), "skip": 1.0}
        g = {kind: [torch.tensor(fixed[kind])] * len(blocks) for kind in searched}
        for (kind, unit), t in thresholds.items():
            members = [i for i in units[unit] if kind != "skip" or i in config.skippable]
            value = _indicator(torch.stack([stats[i][kind] for i in members]).mean(), t, config.temperature)
            for i in members:
                g[kind][i] = value
        return g["kernel"], g["expand"], g["skip"]

    largest = table.largest
    for step in range(config.steps):
        if cursor + bs > n:
            perm, cursor = torch.randperm(n, generator=generator), 0
        idx = perm[cursor: cursor + bs].to(x.device)
        cursor += bs
        gk, ge, gs = indicators()
        h = model._stem(x[idx])
        for b, k, e, s in zip(blocks, gk, ge, gs):
            h = b.masked(h, k, e, s)
        out = model.classifier(F.adaptive_avg_pool2d(h, 1).flatten(1))
        loss = F.cross_entropy(out, y[idx]) + config.cost_weight * _expected_cost(table, gk, ge, gs) / largest
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value = float(loss.detach())
        if progress is not None:
            progress("nas search", step + 1, config.steps)
    with torch.no_grad():
        gk, ge, gs = indicators()
    choices = [BlockChoice(5 if float(k) > 0.5 else 3, 6 if float(e) > 0.5 else 3, float(s) < 0.5)
               for k, e, s in zip(gk, ge, gs)]
    cost = table.total(choices)
    return ThresholdResult(choices, cost, cost / largest,
                           {f"{kind}.{unit}": float(t.detach()) for (kind, unit), t in thresholds.items()},
                           loss_value, time.perf_counter() - start)


def unit_indices(units: dict[str, list[str]], blocks: Sequence[str]) -> dict[str, list[int]]:
    """Unit name -> block indices, from unit name -> block names."""
    index = {b: i for i, b in enumerate(blocks)}
    return {u: [index[b] for b in members] for u, members in units.items()}
