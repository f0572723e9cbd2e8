"""Which output channels of a network can be removed together: channel groups traced with torch.fx.

A *channel group* is a set of tensor channels that must keep the same count: the output channels
of one convolution or linear layer (its *producers*), every layer that reads them (*consumers*:
their input channels shrink), and what carries them through unchanged (*followers*: BatchNorm,
depthwise convolutions). An addition ties the groups of its operands into one (a ResNet's identity
and projection shortcuts), so tied channels are pruned together, as LeGR does for ResNets (Chin et
al., CVPR 2020, Sec. 4). Groups that touch the network's input or output, a concatenation, a
grouped convolution, a flatten of more than one position per channel, or an operation this module
does not know are *fixed*: never pruned. With ``keep_ends`` the first layer's output channels and
the last layer's input channels are fixed too (the space's first/last pinning).

The MACs of a pruned network follow from the unpruned workload without tracing it again: a layer
reading group ``a`` and writing group ``b`` costs ``macs x keep[a]/size[a] x keep[b]/size[b]``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import fx, nn

from coexplore.workload import Workload, from_module

_PASS_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardswish, nn.Hardtanh, nn.SiLU, nn.GELU, nn.Sigmoid,
                 nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Identity, nn.Flatten)
_PASS_FUNCTIONS = {torch.relu, torch.nn.functional.relu, torch.nn.functional.relu6, torch.flatten,
                   torch.nn.functional.adaptive_avg_pool2d, torch.nn.functional.max_pool2d,
                   torch.nn.functional.avg_pool2d, torch.nn.functional.dropout, torch.sigmoid}
_PASS_METHODS = {"relu", "relu_", "flatten", "contiguous", "clone"}
_ADD = {operator.add, operator.iadd, torch.add}


class PruningError(ValueError):
    """A network cannot be pruned (not traceable, inconsistent channels); the message says where."""


@dataclass(frozen=True)
class ChannelGroup:
    """Channels that are pruned together; ``fixed`` names why a group is never pruned ("" if prunable)."""

    size: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    followers: tuple[str, ...]
    fixed: str = ""

    @property
    def prunable(self) -> bool:
        return not self.fixed and self.size > 1 and bool(self.producers)


@dataclass(frozen=True)
class ChannelGraph:
    """The channel groups of a network and the MACs of each layer of its workload.

    ``layer_in``/``layer_out`` (shape L) give the group index a workload layer reads/writes, -1
    where that side does not scale (a depthwise conv reads its own output group; a fixed group
    never changes size).
    """

    groups: tuple[ChannelGroup, ...]
    workload: Workload
    layer_in: np.ndarray
    layer_out: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        return np.array([g.size for g in self.groups], dtype=np.int64)

    @property
    def prunable(self) -> list[int]:
        """Indices of the prunable groups."""
        return [i for i, g in enumerate(self.groups) if g.prunable]

    @property
    def total_macs(self) -> int:
        return int(self.workload.macs)

    def macs(self, keep: np.ndarray) -> float:
        """MACs per sample with ``keep[g]`` channels kept in group ``g`` (shape G)."""
        frac = np.append(np.asarray(keep, dtype=float) / np.maximum(self.sizes, 1), 1.0)  # index -1: no scaling
        base = np.array([layer.macs for layer in self.workload.layers], dtype=float)
        return float(np.sum(base * frac[self.layer_in] * frac[self.layer_out]))

    def layer_channels(self, keep: np.ndarray) -> dict[str, int]:
        """Output channels of every producer layer with ``keep`` channels per group."""
        return {name: int(keep[i]) for i, g in enumerate(self.groups) for name in g.producers}


class _Groups:
    """Union-find over channel groups with what the trace learns about each."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.roles: list[dict[str, list[str]]] = []
        self.fixed: list[str] = []

    def new(self, size: int, fixed: str = "") -> int:
        self.parent.append(len(self.parent))
        self.size.append(int(size))
        self.roles.append({"producers": [], "consumers": [], "followers": []})
        self.fixed.append(fixed)
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int, where: str) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        if self.size[a] != self.size[b]:
            raise PruningError(f"{where}: adds tensors of {self.size[a]} and {self.size[b]} channels")
        self.parent[b] = a
        for role in self.roles[a]:
            self.roles[a][role] += self.roles[b][role]
        self.fixed[a] = self.fixed[a] or self.fixed[b]
        return a

    def add(self, g: int, role: str, name: str) -> None:
        self.roles[self.find(g)][role].append(name)

    def fix(self, g: int, why: str) -> None:
        g = self.find(g)
        self.fixed[g] = self.fixed[g] or why


def channel_graph(model: nn.Module, input_shape: tuple[int, ...], *, keep_ends: bool = False,
                  name: str | None = None) -> ChannelGraph:
    """Trace ``model`` (torch.fx) into channel groups and cost its workload (batch of 1).

    Args:
        model: the network; not modified.
        input_shape: the sample input's shape, batch included (``(1, 1, 8, 8)``).
        keep_ends: fix the first layer's output and the last layer's input channels.
        name: the workload's name (default: the model's class name in lower case).

    Raises:
        PruningError: the network cannot be traced symbolically, or an addition mixes channel counts.

    Example:
        >>> from coexplore.accuracy import DigitsCNN
        >>> g = channel_graph(DigitsCNN(), (1, 1, 8, 8))
        >>> [(grp.producers, grp.size) for grp in g.groups if grp.prunable]
        [(('features.0',), 16), (('features.3',), 16), (('features.7',), 32)]
    """
    try:
        traced = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - fx raises many kinds
        raise PruningError(f"{type(model).__name__}: cannot be traced by torch.fx for pruning: {exc}") from None
    modules = dict(traced.named_modules())
    uf, of = _Groups(), {}

    def group_of(arg: Any) -> int | None:
        return of.get(arg.name) if isinstance(arg, fx.Node) else None

    for node in traced.graph.nodes:
        args = [group_of(a) for a in node.args if isinstance(a, fx.Node)]
        first = args[0] if args else None
        if node.op == "placeholder":
            of[node.name] = uf.new(input_shape[1], "network input")
        elif node.op == "call_module":
            of[node.name] = _module(uf, node.target, modules[node.target], first)
        elif node.op in ("call_function", "call_method"):
            if node.target in _ADD and len(args) == 2 and None not in args:
                of[node.name] = uf.union(args[0], args[1], f"addition {node.name}")
            elif (node.target in _PASS_FUNCTIONS or node.target in _PASS_METHODS) and first is not None:
                of[node.name] = first
            else:
                for g in args:
                    if g is not None:
                        uf.fix(g, f"read by {node.target if isinstance(node.target, str) else node.target.__name__}")
                of[node.name] = uf.new(0, "produced by an operation pruning does not follow")
        elif node.op == "output":
            for g in args:
                if g is not None:
                    uf.fix(g, "network output")
    workload = from_module(model, input_shape, name or type(model).__name__.lower())
    roots = sorted({uf.find(g) for g in range(len(uf.parent))})
    if keep_ends and workload.layers:
        for g in roots:
            roles = uf.roles[g]
            if workload.layers[0].name in roles["producers"]:
                uf.fix(g, "first layer's output (pinned)")
            if workload.layers[-1].name in roles["consumers"]:
                uf.fix(g, "last layer's input (pinned)")
    groups = tuple(ChannelGroup(uf.size[g], *(tuple(uf.roles[g][r]) for r in ("producers", "consumers", "followers")),
                                fixed=uf.fixed[g]) for g in roots)
    lin, lout = [], []
    for layer in workload.layers:
        lin.append(next((i for i, g in enumerate(groups) if layer.name in g.consumers), -1))
        lout.append(next((i for i, g in enumerate(groups) if layer.name in g.producers or layer.name in g.followers), -1))
    return ChannelGraph(groups, workload, np.array(lin, dtype=np.int64), np.array(lout, dtype=np.int64))


def _module(uf: _Groups, name: str, m: nn.Module, g_in: int | None) -> int:
    """The output group of module ``name`` reading group ``g_in``; records its role."""
    if isinstance(m, nn.Conv2d) and g_in is not None:
        if m.groups == 1:
            uf.add(g_in, "consumers", name)
            out = uf.new(m.out_channels)
            uf.add(out, "producers", name)
            return out
        if m.groups == m.in_channels == m.out_channels:  # depthwise: carries its input's channels
            uf.add(g_in, "followers", name)
            return g_in
        uf.fix(g_in, f"read by grouped convolution {name}")
        return uf.new(m.out_channels, f"written by grouped convolution {name}")
    if isinstance(m, nn.Linear) and g_in is not None:
        if uf.size[uf.find(g_in)] != m.in_features:
            uf.fix(g_in, f"flattened into {name}")
        uf.add(g_in, "consumers", name)
        out = uf.new(m.out_features)
        uf.add(out, "producers", name)
        return out
    if isinstance(m, nn.modules.batchnorm._BatchNorm) and g_in is not None:
        uf.add(g_in, "followers", name)
        return g_in
    if isinstance(m, _PASS_MODULES) and g_in is not None:
        return g_in
    if g_in is not None:
        uf.fix(g_in, f"read by {type(m).__name__} {name}")
    return uf.new(0, f"written by {type(m).__name__} {name}")


def producer_norms(model: nn.Module, group: ChannelGroup) -> dict[str, torch.Tensor]:
    """Squared L2 norm of each output filter of the group's producers (shape ``size``), by layer."""
    modules = dict(model.named_modules())
    return {name: modules[name].weight.detach().flatten(1).pow(2).sum(1).cpu() for name in group.producers}


def prune_model(model: nn.Module, graph: ChannelGraph, keep: dict[int, torch.Tensor]) -> nn.Module:
    """Remove channels in place: ``keep[g]`` holds the channel indices of group ``g`` that stay.

    Producers lose output filters, consumers input channels, BatchNorms and depthwise convs both;
    module names are unchanged, so per-layer bits and the workload still address the same layers.
    """
    modules = dict(model.named_modules())
    for g, idx in keep.items():
        group = graph.groups[g]
        if len(idx) == group.size:
            continue
        idx = torch.as_tensor(idx, dtype=torch.long)
        for name in group.producers:
            _slice(modules[name], idx, dim=0)
        for name in group.consumers:
            _slice(modules[name], idx, dim=1)
        for name in group.followers:
            _slice(modules[name], idx, dim=0)
    return model


def _slice(m: nn.Module, idx: torch.Tensor, dim: int) -> None:
    with torch.no_grad():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for attr in ("weight", "bias", "running_mean", "running_var"):
                t = getattr(m, attr, None)
                if t is not None:
                    t.data = t.data.index_select(0, idx.to(t.device)).clone()
            m.num_features = len(idx)
            return
        m.weight.data = m.weight.data.index_select(dim, idx.to(m.weight.device)).clone()
        if dim == 0 and m.bias is not None:
            m.bias.data = m.bias.data.index_select(0, idx.to(m.bias.device)).clone()
    n = len(idx)
    if isinstance(m, nn.Conv2d):
        if m.groups > 1:  # depthwise
            m.in_channels = m.out_channels = m.groups = n
        elif dim == 0:
            m.out_channels = n
        else:
            m.in_channels = n
    elif isinstance(m, nn.Linear):
        if dim == 0:
            m.out_features = n
        else:
            m.in_features = n
