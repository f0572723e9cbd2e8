"""Uniform INT-n quantizers with a learned step size (LSQ, Esser et al., ICLR 2020).

Weights: symmetric (zero point 0), one learned step per output channel, integer codes in
``[-2^(n-1), 2^(n-1) - 1]`` (so at most ``2^n`` levels per channel). Activations: one learned step
per layer; unsigned codes ``[0, 2^n - 1]`` when the calibration batch is non-negative (inputs after
a ReLU), signed codes otherwise. The step's gradient is scaled by ``1 / sqrt(numel * Q_p)`` as in
LSQ Sec. 2.2, and rounding passes gradients straight through.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from coexplore.quant._base import (
    ActQuantizer,
    WeightQuantizer,
    per_channel_view,
    round_ste,
    scale_grad,
)

MIN_BITS, MAX_BITS = 2, 16


def _check_bits(bits: int, what: str) -> None:
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(
            f"uniform {what} quantizer: bits must be in {MIN_BITS}..{MAX_BITS}, got {bits}"
        )


def _lsq_step(abs_mean: torch.Tensor, abs_max: torch.Tensor, q_p: int) -> torch.Tensor:
    """LSQ's initial step ``2 mean|x| / sqrt(Q_p)``, but never coarser than ``max|x| / Q_p``.

    At high precision LSQ's rule leaves most codes unused; the max-based step then fits better, so
    a brief fine-tune starts close to the FP32 model.
    """
    step = torch.minimum(2 * abs_mean / math.sqrt(q_p), abs_max / q_p)
    return step.clamp_min(1e-8)


class UniformWeightQuantizer(WeightQuantizer):
    """Symmetric per-channel INT-n weights with LSQ step sizes.

    Example:
        >>> import torch
        >>> w = torch.randn(4, 3, 3, 3)
        >>> q = UniformWeightQuantizer(4, w)(w)
        >>> bool((q[0].unique().numel()) <= 16)
        True
    """

    scheme = "uniform"

    def __init__(self, bits: int, weight: torch.Tensor) -> None:
        super().__init__(bits, weight)
        self.check_bits(bits)
        self.q_n = 2 ** (bits - 1)
        self.q_p = 2 ** (bits - 1) - 1
        flat = weight.detach().reshape(weight.shape[0], -1).abs()
        step = _lsq_step(flat.mean(dim=1), flat.amax(dim=1), self.q_p)
        self.step = nn.Parameter(step)
        self._grad_scale = 1.0 / math.sqrt(flat.shape[1] * self.q_p)

    @classmethod
    def check_bits(cls, bits: int) -> None:
        _check_bits(bits, "weight")

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        step = per_channel_view(scale_grad(self.step, self._grad_scale), weight.ndim)
        return round_ste(torch.clamp(weight / step, -self.q_n, self.q_p)) * step


class UniformActQuantizer(ActQuantizer):
    """INT-n activations, one LSQ step per layer; unsigned when the inputs are non-negative.

    Example:
        >>> import torch
        >>> x = torch.rand(8, 3, 4, 4)
        >>> bool(UniformActQuantizer(2)(x).unique().numel() <= 4)
        True
    """

    scheme = "uniform"

    def __init__(self, bits: int) -> None:
        super().__init__(bits)
        self.check_bits(bits)
        self.step = nn.Parameter(torch.ones(()))
        self.register_buffer("signed", torch.zeros((), dtype=torch.bool))

    @classmethod
    def check_bits(cls, bits: int) -> None:
        _check_bits(bits, "activation")

    def _range(self) -> tuple[int, int]:
        if bool(self.signed):
            return 2 ** (self.bits - 1), 2 ** (self.bits - 1) - 1
        return 0, 2**self.bits - 1

    def calibrate(self, x: torch.Tensor) -> None:
        self.signed.fill_(bool(x.min() < 0))
        _, q_p = self._range()
        self.step.data.copy_(_lsq_step(x.abs().mean(), x.abs().max(), q_p))

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        q_n, q_p = self._range()
        g = 1.0 / math.sqrt(x[0].numel() * q_p)
        step = scale_grad(self.step, g)
        return round_ste(torch.clamp(x / step, -q_n, q_p)) * step
