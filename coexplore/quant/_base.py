"""The quantizer contract and the straight-through helpers every quantizer shares.

A weight quantizer maps a layer's real-valued weight tensor to its fake-quantized copy (same shape,
values on the quantizer's grid); an activation quantizer does the same for a layer's input. Both
pass gradients straight through the rounding (Bengio et al. 2013, "Estimating or propagating
gradients through stochastic neurons"), so a quantized model fine-tunes with ordinary backprop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer forward; identity gradient backward (straight-through)."""
    return straight_through(torch.round(x), x)


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward; gradient multiplied by ``scale`` backward (LSQ's step-size gradient scale)."""
    scaled = x * scale
    return x.detach() + (scaled - scaled.detach())


def straight_through(quantized: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Exactly ``quantized`` forward; identity gradient to ``x`` backward."""
    return quantized.detach() + (x - x.detach())


def per_channel_view(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """Reshape a ``C`` vector to ``C x 1 x ... x 1`` so it broadcasts over an ``ndim`` tensor."""
    return t.reshape(-1, *([1] * (ndim - 1)))


class WeightQuantizer(nn.Module, ABC):
    """Fake-quantizes one layer's weights (``out_channels x ...``), per output channel.

    Args:
        bits: bits per weight the hardware stores.
        weight: the layer's pretrained weight, used to initialise scales.
    """

    scheme: ClassVar[str]
    """Registry name of the scheme (``uniform``, ``pow2``, ``binary``)."""

    def __init__(self, bits: int, weight: torch.Tensor) -> None:
        super().__init__()
        self.bits = int(bits)

    @classmethod
    def check_bits(cls, bits: int) -> None:
        """Raise ValueError, saying what is allowed, when the scheme cannot take ``bits``.

        Subclasses with options (a power-of-two quantizer's ``terms``) take them as keywords too.
        """

    @abstractmethod
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        """Weight values on the grid, same shape; gradients pass straight through."""

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


class ActQuantizer(nn.Module, ABC):
    """Fake-quantizes a layer's input activations (``N x C x ...``).

    Scales are calibrated on the first batch seen (LSQ initialisation), so construction needs no
    data. ``regularization`` holds the quantizer's extra training loss for the last forward pass
    (a scalar tensor, zero for most schemes); the fine-tune adds it to the cross-entropy.
    """

    scheme: ClassVar[str]

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = int(bits)
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self.regularization: torch.Tensor | None = None

    @classmethod
    def check_bits(cls, bits: int) -> None:
        """Raise ValueError, saying what is allowed, when the scheme cannot take ``bits``."""

    @abstractmethod
    def calibrate(self, x: torch.Tensor) -> None:
        """Initialise scales from one batch of real inputs (called once, without gradients)."""

    @abstractmethod
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs on the grid, same shape; gradients pass straight through."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialized):
            with torch.no_grad():
                self.calibrate(x.detach())
            self.initialized.fill_(True)
        return self.quantize(x)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
