"""Virtual pooling (the ``vip_layers`` axis): convolutions computed at stride 2, the skipped outputs
filled by linear interpolation.

ViP (Chen, Zhang, Ding, Marculescu, "ViP: Virtual Pooling for Accelerating CNN-based Image
Classification and Object Detection", WACV 2020) runs a convolution at twice its stride, which
computes every other output row and column, and fills the rest by linear interpolation; the paper
reports a 2.1x speed-up for under 1.5% accuracy loss on VGG-16 / ImageNet. Here the output of a
ViP layer keeps its full size (a later layer's input shape never changes): output ``i`` of the
stride-``2s`` convolution is output ``2i`` of the original, the odd outputs are the mean of their
two neighbours, and a last odd output without a right neighbour is extrapolated from the two
samples before it (``1.5 y[-1] - 0.5 y[-2]``), so the fill is exact wherever the original output is
linear.

Cost, as the PPA model sees it (:func:`rewrite_workload`): the convolution's layer at twice its
stride (its MACs, input footprint and output traffic fall with the skipped outputs), plus the
interpolation as two depthwise 1x1 layers on the same array, ``<conv>.vip_w`` (the missing columns
of the computed rows) and ``<conv>.vip_h`` (the missing rows, full width): one MAC per filled
output, for its one add and one multiply (by 1/2), two for an extrapolated edge output (two
multiplies, one add); each filled output read and written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from coexplore.transforms._base import ModelTransform
from coexplore.workload import Layer, Workload

if TYPE_CHECKING:
    from coexplore.accuracy import ProxyEvaluator

FILL_SUFFIXES = (".vip_w", ".vip_h")
"""Workload names of a ViP layer's interpolation passes: ``<conv>.vip_w`` and ``<conv>.vip_h``."""
MIN_MAP = 8
"""Smallest output map (rows and columns) on which ViP is allowed by default: below it, a stride-2
sample keeps 3 points or fewer per row, too few to interpolate a feature map from."""


def base_layer(name: str) -> str:
    """The layer a workload layer belongs to: the conv for its interpolation passes, else itself."""
    for suffix in FILL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _fill(y: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """``y`` (``n`` samples at even positions along ``dim``) linearly interpolated to ``size``."""
    n = y.shape[dim]
    if size == n:
        return y
    if size not in (2 * n - 1, 2 * n):
        raise ValueError(f"cannot interpolate {n} samples to {size} (expected {2 * n - 1} or {2 * n})")
    head = y.narrow(dim, 0, n - 1)
    mid = (head + y.narrow(dim, 1, n - 1)) * 0.5
    pieces = [torch.stack((head, mid), dim=dim + 1).flatten(dim, dim + 1), y.narrow(dim, n - 1, 1)]
    if size == 2 * n:  # the last odd output has no right neighbour: extrapolate (or repeat one sample)
        last = y.narrow(dim, n - 1, 1)
        pieces.append(1.5 * last - 0.5 * y.narrow(dim, n - 2, 1) if n > 1 else last)
    return torch.cat(pieces, dim=dim)


def interpolate(y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The full ``N x K x P x Q`` output from its stride-2 samples ``N x K x ceil(P/2) x ceil(Q/2)``.

    Columns first (on the computed rows), then rows (at full width), as :func:`fill_layers` costs.

    Example:
        >>> interpolate(torch.tensor([[[[0.0, 2.0], [4.0, 6.0]]]]), (3, 4)).tolist()
        [[[[0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0], [4.0, 5.0, 6.0, 7.0]]]]
    """
    return _fill(_fill(y, size[1], y.dim() - 1), size[0], y.dim() - 2)


class _Interpolate:
    """Forward hook of a ViP convolution: its strided output interpolated to the original size."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def __call__(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        return interpolate(output, self.size)


def vip_conv(conv: nn.Conv2d, size: tuple[int, int]) -> nn.Conv2d:
    """Make ``conv`` (in place; it keeps its name, class and weights) compute every other output
    and interpolate the rest back to ``size``, its original output map."""
    if getattr(conv, "vip_size", None) is not None:
        raise ValueError("layer already runs with ViP")
    conv.stride = tuple(2 * s for s in conv.stride)
    conv.vip_size = tuple(size)
    conv.register_forward_hook(_Interpolate(tuple(size)))
    return conv


def fill_layers(layer: Layer) -> list[Layer]:
    """The interpolation passes of ``layer`` under ViP, as depthwise 1x1 layers: one MAC (one
    output) per filled value, one more per extrapolated edge value (an even map's last row/column)."""
    p, q = layer.p, layer.q
    pc, qc = (p + 1) // 2, (q + 1) // 2
    common = {"kind": "conv", "c": layer.k, "k": layer.k, "groups": layer.k, "n": layer.n}
    out = []
    if q > qc:
        out.append(Layer(name=layer.name + FILL_SUFFIXES[0], h=pc, w=q - qc + (q % 2 == 0 and qc > 1), **common))
    if p > pc:
        out.append(Layer(name=layer.name + FILL_SUFFIXES[1], h=p - pc + (p % 2 == 0 and pc > 1), w=q, **common))
    return out


def rewrite_workload(workload: Workload, layers: Iterable[str]) -> Workload:
    """``workload`` with ViP on ``layers``: each at twice its stride, followed by its fill passes.

    Example:
        >>> wl = Workload("w", (Layer("c", c=1, k=4, h=8, w=8, r=3, s=3, padding=1),))
        >>> [(l.name, l.macs) for l in rewrite_workload(wl, ["c"]).layers]
        [('c', 576), ('c.vip_w', 80), ('c.vip_h', 160)]
    """
    chosen = set(layers)
    missing = chosen - set(workload.layer_names)
    if missing:
        raise ValueError(f"ViP: no layer {', '.join(sorted(missing))} in workload {workload.name}")
    out: list[Layer] = []
    for layer in workload.layers:
        if layer.name not in chosen:
            out.append(layer)
            continue
        if layer.kind != "conv":
            raise ValueError(f"ViP: layer {layer.name} is a {layer.kind} layer, not a convolution")
        out += [replace(layer, stride=2 * layer.stride), *fill_layers(layer)]
    return Workload(workload.name, tuple(out))


def eligible_layers(model: nn.Module, workload: Workload, min_map: int = MIN_MAP) -> list[str]:
    """Convolutions ViP may run on: plain ``nn.Conv2d`` (square stride and padding, no dilation)
    whose output map is at least ``min_map`` x ``min_map``, in forward order."""
    modules = dict(model.named_modules())
    out = []
    for layer in workload.layers:
        conv = modules.get(layer.name)
        if (isinstance(conv, nn.Conv2d) and layer.kind == "conv" and conv.dilation == (1, 1)
                and isinstance(conv.padding, tuple) and conv.padding[0] == conv.padding[1]
                and conv.stride[0] == conv.stride[1] and min(layer.p, layer.q) >= min_map):
            out.append(layer.name)
    return out


def parse_value(value: Any) -> tuple[str, ...]:
    """A ``vip_layers`` value as layer names: ``"a,b"`` or an iterable of names (``""``: none)."""
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    return tuple(value)


class VirtualPooling(ModelTransform):
    """Runs the chosen convolutions with ViP (value: their names, ``"features.0,features.3"``).

    Args:
        proxy: the study's accuracy proxy (its model, input shape and workload).
        allowed: the layers a trial may choose; each must be eligible (:func:`eligible_layers`).
        min_map: smallest output map ViP is allowed on.

    Example:
        >>> vip = VirtualPooling(proxy, ["features.0", "features.3"])  # doctest: +SKIP
        >>> vip.workload("features.0").macs < proxy.workload().macs  # doctest: +SKIP
        True
    """

    name = "vip_layers"
    stage = "virtual_pooling"

    def __init__(self, proxy: ProxyEvaluator, allowed: Iterable[str], min_map: int = MIN_MAP) -> None:
        from coexplore.accuracy import build_model

        self.proxy = proxy
        self.base = proxy.workload()
        with torch.random.fork_rng(devices=[]):
            skeleton = build_model(proxy.model_name, proxy.data.num_classes, proxy.input_shape[1])
        self.eligible = eligible_layers(skeleton, self.base, min_map)
        self.allowed = tuple(allowed)
        bad = [n for n in self.allowed if n not in self.eligible]
        if bad:
            raise ValueError(f"ViP cannot run on {', '.join(bad)} (eligible: convolutions with an output map of "
                             f"at least {min_map}x{min_map}: {', '.join(self.eligible) or 'none'})")
        self._sizes = {l.name: (l.p, l.q) for l in self.base.layers}

    def layers(self, value: Any) -> tuple[str, ...]:
        """The chosen layers in forward order; refuses layers outside :attr:`allowed`."""
        chosen = set(parse_value(value))
        bad = chosen - set(self.allowed)
        if bad:
            raise ValueError(f"ViP is not allowed on {', '.join(sorted(bad))}; allowed: {', '.join(self.allowed)}")
        return tuple(n for n in self.base.layer_names if n in chosen)

    def is_identity(self, value: Any) -> bool:
        return not parse_value(value)

    def key(self, value: Any) -> dict:
        return {"vip": list(self.layers(value)), "fill": "linear, edge extrapolated"}

    def apply(self, model: nn.Module, value: Any) -> nn.Module:
        modules = dict(model.named_modules())
        for name in self.layers(value):
            vip_conv(modules[name], self._sizes[name])
        return model

    def workload(self, value: Any) -> Workload:
        return self.rewrite(self.base, value)

    def rewrite(self, workload: Workload, value: Any) -> Workload:
        """``workload`` (this network's, possibly pruned) with ViP on the chosen layers."""
        return rewrite_workload(workload, self.layers(value))
