"""Power-of-two weights for LightPEs: each weight a signed sum of ``k`` powers of two.

LightNN (Ding et al., GLSVLSI 2017, "LightNN: filling the gap between conventional deep neural
networks and binarized networks") and FLightNN (Ding et al., DAC 2019) replace each multiply by
``k`` shifts: a weight is ``sum_t s_t 2^(e_t)``. Quantization is greedy: round the weight to the
nearest power of two (in the linear domain), then round the residual the same way, ``k`` times.

Exponent range from the plan's weight bits ``b``: each of the ``k`` terms gets ``b // k`` bits, one
sign bit and ``b // k - 1`` exponent bits. One exponent code is reserved for "term is zero", so a
term takes ``2^(b//k - 1) - 1`` exponents: ``e_max - E + 1 .. e_max`` where ``E`` is that count and
``e_max`` (per output channel) is the exponent of the power of two nearest to the channel's largest
weight magnitude. LightPE-1 at its native 4 bits (sign + 3-bit exponent, as in QUIDAM, Inci et al.
2022) has 7 exponents; LightPE-2 at 8 bits has two such terms. ``e_max`` folds into the per-channel
requantization scale, so the PE itself only shifts.
"""

from __future__ import annotations

import torch

from coexplore.quant._base import WeightQuantizer, per_channel_view, straight_through


def exponent_count(bits: int, terms: int) -> int:
    """Exponents one term may use with ``bits`` weight bits split over ``terms`` terms."""
    per_term = bits // terms
    return 2 ** (per_term - 1) - 1


def nearest_power_of_two(r: torch.Tensor, e_min: torch.Tensor, e_max: torch.Tensor) -> torch.Tensor:
    """Signed nearest power of two to ``r`` with exponent clamped to ``[e_min, e_max]``; 0 if closer.

    Ties between ``2^e`` and ``2^(e+1)`` (at ``1.5 * 2^e``) round up; magnitudes below ``2^(e_min-1)``
    (the midpoint between 0 and ``2^e_min``) become 0.
    """
    mag = r.abs()
    safe = mag.clamp_min(torch.finfo(r.dtype).tiny)
    e = torch.floor(torch.log2(safe))
    e = torch.where(safe >= 1.5 * torch.exp2(e), e + 1, e)
    e = torch.minimum(torch.maximum(e, e_min), e_max)
    value = torch.exp2(e)
    value = torch.where(mag < torch.exp2(e_min - 1), torch.zeros_like(value), value)
    return torch.sign(r) * value


def greedy_power_of_two(
    w: torch.Tensor, terms: int, e_min: torch.Tensor, e_max: torch.Tensor
) -> torch.Tensor:
    """Greedy sum of ``terms`` signed powers of two approximating ``w`` (no gradient)."""
    q = torch.zeros_like(w)
    residual = w
    for _ in range(terms):
        term = nearest_power_of_two(residual, e_min, e_max)
        q = q + term
        residual = residual - term
    return q


class PowerOfTwoWeightQuantizer(WeightQuantizer):
    """Weights as signed sums of ``terms`` powers of two (LightNN-k), straight-through gradients.

    Args:
        bits: total weight bits, split evenly over the terms (at least 2 per term).
        weight: the layer's weight (shape only; the exponent range follows the live weights).
        terms: ``k``, 1 for LightPE-1 and 2 for LightPE-2.

    Example:
        >>> import torch
        >>> w = torch.tensor([[0.3, -0.7, 0.05, 1.0]])
        >>> PowerOfTwoWeightQuantizer(4, w, terms=1)(w).tolist()
        [[0.25, -0.5, 0.0625, 1.0]]
    """

    scheme = "pow2"

    def __init__(self, bits: int, weight: torch.Tensor, terms: int = 1) -> None:
        super().__init__(bits, weight)
        self.check_bits(bits, terms=terms)
        self.terms = terms
        self.n_exponents = exponent_count(bits, terms)

    @classmethod
    def check_bits(cls, bits: int, terms: int = 1) -> None:
        if terms not in (1, 2):
            raise ValueError(f"power-of-two quantizer: terms must be 1 or 2, got {terms}")
        if bits < 2 * terms or bits > 16:
            raise ValueError(
                f"power-of-two quantizer with {terms} term(s) needs at least {2 * terms} bits "
                f"(a sign and an exponent bit per term): bits must be in {2 * terms}..16, "
                f"got {bits}"
            )

    def exponent_range(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel ``(e_min, e_max)`` broadcastable to ``weight``."""
        w = weight.detach()
        top = w.reshape(w.shape[0], -1).abs().amax(dim=1)
        top = top.clamp_min(torch.finfo(w.dtype).tiny)
        e_max = torch.floor(torch.log2(top))
        e_max = torch.where(top >= 1.5 * torch.exp2(e_max), e_max + 1, e_max)
        e_max = per_channel_view(e_max, w.ndim)
        return e_max - (self.n_exponents - 1), e_max

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        e_min, e_max = self.exponent_range(weight)
        q = greedy_power_of_two(weight.detach(), self.terms, e_min, e_max)
        return straight_through(q, weight)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, terms={self.terms}, exponents={self.n_exponents}"
