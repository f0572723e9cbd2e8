"""Filter ranking and the MAC budget: how many channels of each group a pruning level keeps.

Three rankings (``method``):

* ``legr``: LeGR's learned global ranking (Chin et al., CVPR 2020, Eq. 3): filter ``j`` of layer
  ``l`` scores ``alpha_l x ||w_lj||^2 + kappa_l``; ``alpha`` and ``kappa`` are learned
  (:mod:`coexplore.transforms.legr`).
* ``l2``: the same global ranking unlearned (``alpha = 1``, ``kappa = 0``).
* ``uniform``: every prunable group keeps the same fraction of its channels (the largest that
  meets the budget, then one more channel for the groups furthest below their share while the
  budget holds); within a group the filters of lowest norm go.

Tied channels (a residual group) score the sum over their producers, as in LeGR's ResNet pruner.
A level ``p`` is the fraction of the network's MACs removed: the lowest-ranked channels go until
the MACs are at most ``(1 - p)`` of the unpruned ones, then removed channels are restored, highest
score first, while the budget still holds, and a last local search trades one restored channel for
one or two removed ones where that closes the gap a coarse channel leaves, so the result lands just
under the budget (within 1-2% on the proxy models). Every group keeps at least one channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from coexplore.accuracy import stable_hash
from coexplore.transforms.channels import ChannelGraph, producer_norms


@dataclass(frozen=True)
class Affine:
    """LeGR's per-layer affine transform of the squared filter norm, by producer layer name.

    Example:
        >>> Affine.identity(["a", "b"]).alpha
        (1.0, 1.0)
    """

    layers: tuple[str, ...]
    alpha: tuple[float, ...]
    kappa: tuple[float, ...]

    @classmethod
    def identity(cls, layers: list[str] | tuple[str, ...]) -> Affine:
        """``alpha = 1``, ``kappa = 0``: the unlearned L2-norm ranking."""
        return cls(tuple(layers), (1.0,) * len(layers), (0.0,) * len(layers))

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "alpha": list(self.alpha), "kappa": list(self.kappa)}

    @classmethod
    def from_dict(cls, d: dict) -> Affine:
        return cls(tuple(d["layers"]), tuple(map(float, d["alpha"])), tuple(map(float, d["kappa"])))

    def key(self) -> str:
        """A stable hash of the transform (part of every pruned variant's cache key)."""
        return stable_hash({k: [round(float(x), 10) if isinstance(x, float) else x for x in v]
                            for k, v in self.to_dict().items()})


def producer_layers(graph: ChannelGraph) -> list[str]:
    """The layers whose filters LeGR ranks: producers of prunable groups, in workload order."""
    names = {n for g in graph.prunable for n in graph.groups[g].producers}
    return [layer.name for layer in graph.workload.layers if layer.name in names]


def channel_scores(model: nn.Module, graph: ChannelGraph, affine: Affine | None = None) -> dict[int, np.ndarray]:
    """Score of every channel of every prunable group (shape ``size`` each): higher stays longer.

    Args:
        model: the network whose filter norms are ranked (unpruned, same architecture as ``graph``).
        graph: its channel groups.
        affine: per-layer ``alpha``/``kappa``; None: the identity (L2 ranking).
    """
    coef = {} if affine is None else dict(zip(affine.layers, zip(affine.alpha, affine.kappa)))
    scores = {}
    for g in graph.prunable:
        total = torch.zeros(graph.groups[g].size, dtype=torch.float64)
        for name, norm in producer_norms(model, graph.groups[g]).items():
            a, k = coef.get(name, (1.0, 0.0))
            total += a * norm.double() + k
        scores[g] = total.numpy()
    return scores


def keep_counts(graph: ChannelGraph, scores: dict[int, np.ndarray], level: float, *,
                uniform: bool = False) -> np.ndarray:
    """Channels kept per group (shape G) so that the MACs are at most ``(1 - level)`` of the total.

    Args:
        graph: the channel groups.
        scores: :func:`channel_scores` (global ranking; within groups for ``uniform``).
        level: fraction of MACs to remove, in [0, 1).
        uniform: keep the same fraction of every prunable group (the uniform baseline).
    """
    keep = graph.sizes.copy()
    target = (1.0 - level) * graph.total_macs
    if level <= 0 or graph.macs(keep) <= target:
        return keep
    prunable = list(scores)
    order = [(g, int(j)) for g in prunable for j in range(len(scores[g]))]
    if uniform:
        return _uniform(graph, prunable, target)
    order.sort(key=lambda gj: scores[gj[0]][gj[1]])
    removed = []
    for g, j in order:
        if keep[g] <= 1:
            continue
        keep[g] -= 1
        removed.append((g, int(j)))
        if graph.macs(keep) <= target:
            break
    for g, j in sorted(removed, key=lambda gj: -scores[gj[0]][gj[1]]):  # back-fill under the budget
        keep[g] += 1
        if graph.macs(keep) > target:
            keep[g] -= 1
    return _trade_up(graph, scores, keep, target)


def _trade_up(graph: ChannelGraph, scores: dict[int, np.ndarray], keep: np.ndarray, target: float,
              rounds: int = 64) -> np.ndarray:
    """Close the gap to the budget that coarse channels leave (one channel of an early layer can
    weigh several percent of a small network's MACs): restore the best removed channel of a group,
    then remove kept channels of the other groups, the finest first, until the MACs are back under
    ``target``; keep the trade when the MACs rose. Each group keeps its highest-ranked channels."""
    groups = list(scores)
    current = graph.macs(keep)
    for _ in range(rounds):
        restorable = sorted((g for g in groups if keep[g] < len(scores[g])),
                            key=lambda g: -np.sort(scores[g])[::-1][keep[g]])
        for g in restorable:
            trial = keep.copy()
            trial[g] += 1
            macs = graph.macs(trial)
            while macs > target:
                options = []
                for h in groups:
                    if h != g and trial[h] > 1:
                        trial[h] -= 1
                        options.append((graph.macs(trial), h))
                        trial[h] += 1
                if not options:
                    break
                under = [o for o in options if o[0] <= target]
                macs, h = max(under) if under else max(options)  # land closest below, else step finest
                trial[h] -= 1
            if current < macs <= target:
                keep, current = trial, macs
                break
        else:
            return keep
    return keep


def _uniform(graph: ChannelGraph, prunable: list[int], target: float) -> np.ndarray:
    """The largest common kept fraction (bisection) whose MACs meet ``target``."""
    sizes = graph.sizes

    def at(r: float) -> np.ndarray:
        keep = sizes.copy()
        for g in prunable:
            keep[g] = max(1, int(np.floor(r * sizes[g] + 1e-9)))
        return keep

    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if graph.macs(at(mid)) <= target else (lo, mid)
    keep = at(lo)
    while True:  # back-fill, the group furthest below its share first, while the budget holds
        for g in sorted(prunable, key=lambda g: keep[g] / sizes[g]):
            if keep[g] < sizes[g]:
                keep[g] += 1
                if graph.macs(keep) <= target:
                    break
                keep[g] -= 1
        else:
            return keep


def keep_indices(scores: dict[int, np.ndarray], counts: np.ndarray) -> dict[int, torch.Tensor]:
    """The ``counts[g]`` highest-scoring channels of each group, in their original order."""
    out = {}
    for g, s in scores.items():
        top = np.argsort(-s, kind="stable")[: int(counts[g])]
        out[g] = torch.as_tensor(np.sort(top), dtype=torch.long)
    return out
