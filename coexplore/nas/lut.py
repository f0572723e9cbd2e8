"""The hardware cost of every block choice, as a lookup table from coexplore's PPA model.

Single-Path NAS makes its search hardware-aware with a per-layer runtime model: the cost of each
MBConv layer for each candidate, summed over the network with the (relaxed) choice indicators
(Stamoulis et al. 2019, section 3.2). Here the table comes from the analytical PPA model at one
design point (the study's reference hardware): energy per inference, or latency, of each block's
layers (expand, depthwise, project) for each kernel size x expansion ratio; a skipped block costs
nothing, and the layers outside the blocks (stem, classifier) are a constant.

A block's layer shapes depend on its own choice only (its input and output channels are fixed), so
four traced networks (every block on one choice) fill the whole table.

Example:
    >>> table = cost_table(supernet_digits(), (1, 1, 8, 8), DesignPoint(pe_type="int8"))  # doctest: +SKIP
    >>> table.total(supernet_digits().largest()) == table.largest  # doctest: +SKIP
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from coexplore.hardware.design import DesignBatch, DesignPoint
from coexplore.nas.cut import subnetwork
from coexplore.nas.settings import EXPANDS, KERNELS, BlockChoice
from coexplore.nas.supernet import SinglePathSupernet
from coexplore.ppa import evaluate
from coexplore.workload import from_module

METRICS = {"energy": "energy_j", "latency": "latency_s"}
"""Cost metrics a table can hold: energy per inference (J) or latency (s)."""


@dataclass(frozen=True)
class CostTable:
    """Cost of each block for each (kernel, expand) choice at one design point.

    Attributes:
        blocks: the block names, in forward order.
        cost: ``blocks x len(KERNELS) x len(EXPANDS)``, in the metric's unit.
        base: cost of the layers outside the blocks (stem, classifier).
        metric: ``energy_j`` or ``latency_s``.
        macs: ``blocks x len(KERNELS) x len(EXPANDS)`` multiply-accumulates, for reference.
    """

    blocks: tuple[str, ...]
    cost: np.ndarray
    base: float
    metric: str
    macs: np.ndarray

    def block(self, i: int, choice: BlockChoice) -> float:
        """Cost of block ``i`` under ``choice`` (0 when skipped)."""
        if choice.skip:
            return 0.0
        return float(self.cost[i, KERNELS.index(choice.kernel), EXPANDS.index(choice.expand)])

    def total(self, choices: Sequence[BlockChoice]) -> float:
        """Cost of the whole network under ``choices``."""
        return self.base + sum(self.block(i, c) for i, c in enumerate(choices))

    @property
    def largest(self) -> float:
        """Cost of the full path (every block 5x5, ratio 6)."""
        return self.base + float(self.cost[:, -1, -1].sum())


def cost_table(supernet: SinglePathSupernet, input_shape: tuple[int, ...], design: DesignPoint, *,
               weight_bits: Mapping[str, int] | None = None, act_bits: Mapping[str, int] | None = None,
               metric: str = "energy", tech: object | None = None) -> CostTable:
    """The cost table of ``supernet`` on ``design`` (batch of 1).

    Args:
        supernet: an uncut supernet (only its shapes matter).
        input_shape: the input's shape, ``1 x C x H x W``.
        design: the hardware design point.
        weight_bits, act_bits: per-layer bits (layer name -> bits); default: the design's own.
        metric: ``energy`` or ``latency``.
        tech: the technology table (default: the packaged one).

    Raises:
        ValueError: an unknown metric, or the design cannot run the full network (infeasible).
    """
    if metric not in METRICS:
        raise ValueError(f"cost metric {metric!r}: allowed: {', '.join(METRICS)}")
    blocks = tuple(supernet.block_names())
    cost = np.zeros((len(blocks), len(KERNELS), len(EXPANDS)))
    macs = np.zeros_like(cost)
    base = 0.0
    batch = DesignBatch.from_points([design])
    for (ki, k), (ei, e) in itertools.product(enumerate(KERNELS), enumerate(EXPANDS)):
        workload = from_module(subnetwork(supernet, [BlockChoice(k, e)] * len(blocks)), input_shape, "supernet")
        names = workload.layer_names
        wb = np.array([(weight_bits or {}).get(n, design.weight_bits) for n in names], dtype=np.int64)
        ab = np.array([(act_bits or {}).get(n, design.act_bits) for n in names], dtype=np.int64)
        res = evaluate(batch, workload, tech=tech, weight_bits=wb, act_bits=ab)
        if not bool(np.asarray(res.feasible)[0]):
            raise ValueError(f"the reference design cannot run the supernet: {np.asarray(res.infeasible_reason)[0]}")
        if metric == "energy":
            per_layer = np.asarray(res.layer_energy_j)[0]
        else:
            per_layer = np.asarray(res.layer_cycles)[0] / (design.clock_mhz * 1e6)
        layer_macs = np.asarray(res.layer_macs)[0]
        outside = 0.0
        for name, c, m in zip(names, per_layer, layer_macs):
            owner = next((i for i, b in enumerate(blocks) if name.startswith(f"{b}.")), None)
            if owner is None:
                outside += float(c)
            else:
                cost[owner, ki, ei] += float(c)
                macs[owner, ki, ei] += float(m)
        base = outside
    return CostTable(blocks, cost, base, METRICS[metric], macs)
