"""Layer shapes and workloads: what the PPA model evaluates and the proxy quantizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

LayerKind = Literal["conv", "linear", "matmul"]


@dataclass(frozen=True)
class Layer:
    """One compute layer in conv notation.

    ``n`` batch, ``c`` input channels, ``k`` output channels, ``h`` x ``w`` the input feature map
    (unpadded), ``r`` x ``s`` the filter, ``groups`` for grouped/depthwise conv (depthwise:
    ``groups == c == k``). A linear layer is a 1x1 conv on a 1x1 map (``n`` = batch x tokens); a
    matmul ``(M x Kd) @ (Kd x N)`` is a 1x1 conv with ``h = M``, ``w = 1``, ``c = Kd``, ``k = N``.
    ``name`` matches the ``torch.nn.Module`` qualified name when the layer came from a model, so the
    quantization plan and the PPA model describe the same layers.
    """

    name: str
    kind: LayerKind = "conv"
    c: int = 1
    k: int = 1
    h: int = 1
    w: int = 1
    r: int = 1
    s: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    n: int = 1

    def __post_init__(self) -> None:
        for f in ("c", "k", "h", "w", "r", "s", "stride", "groups", "n"):
            if getattr(self, f) < 1:
                raise ValueError(f"layer {self.name}: {f} must be >= 1, got {getattr(self, f)}")
        if self.padding < 0:
            raise ValueError(f"layer {self.name}: padding must be >= 0")
        if self.c % self.groups or self.k % self.groups:
            raise ValueError(f"layer {self.name}: groups={self.groups} must divide c={self.c} and k={self.k}")
        if self.p < 1 or self.q < 1:
            raise ValueError(f"layer {self.name}: filter {self.r}x{self.s} larger than padded input")

    @property
    def p(self) -> int:
        """Output height."""
        return (self.h + 2 * self.padding - self.r) // self.stride + 1

    @property
    def q(self) -> int:
        """Output width."""
        return (self.w + 2 * self.padding - self.s) // self.stride + 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer."""
        return self.n * self.k * self.p * self.q * (self.c // self.groups) * self.r * self.s

    @property
    def weight_count(self) -> int:
        """Number of weights."""
        return self.k * (self.c // self.groups) * self.r * self.s

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Workload:
    """An ordered list of layers (a network) under a name."""

    name: str
    layers: tuple[Layer, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"workload {self.name}: layer names must be unique")

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def arrays(self) -> dict[str, np.ndarray]:
        """Layer fields as int64 arrays of shape ``L`` (plus derived ``p``, ``q``, ``macs``)."""
        keys = ("n", "c", "k", "h", "w", "r", "s", "stride", "padding", "groups", "p", "q", "macs")
        return {key: np.array([getattr(l, key) for l in self.layers], dtype=np.int64) for key in keys}
