"""Binary weights and activations, with the distribution loss of Ding et al. (CVPR 2019).

Weights: ``sign(w) * alpha_c`` with ``alpha_c = mean |w_c|`` per output channel (XNOR-Net,
Rastegari et al., ECCV 2016), straight-through gradient. Activations: ``sign(u) * a`` on the
standardized pre-activation ``u = (x - b_c) / s_c``: the shift ``b_c`` is learned per channel (the
threshold a BN before the sign would supply, as in ReActNet's RSign, Liu et al. 2020), ``s_c`` is
the channel's standard deviation at calibration and ``a`` one per-layer magnitude (both fold into
the next layer's requantization, so the datapath stays XNOR-popcount). The gradient passes where
``|u| <= 1`` (the clipped straight-through estimator of Hubara et al. 2016).

Distribution loss ("Regularizing activation distribution for training binarized deep networks",
Ding, Chin, Liu, Marculescu, CVPR 2019, Sec. 3): per channel, with ``mu`` and ``sigma`` the mean
and standard deviation of ``u`` over the batch and positions, three penalties keep the
pre-activation distribution away from shapes that stall BNN training:

- degeneration (almost all of the channel on one side of the threshold): ``ReLU(|mu| - k sigma)^2``
- saturation (almost all of it beyond ``[-1, 1]``, where the STE passes no gradient):
  ``ReLU(|mu| - k sigma - 1)^2``
- gradient mismatch (almost all of it inside ``[-1, 1]``): ``ReLU(1 - |mu| - k sigma)^2``, the
  form quoted for this term on the authors' repository (github.com/ruizhoud/DistributionLoss,
  issue 1).

The degeneration and saturation terms are written from the paper's definitions of those failure
modes with the same ``ReLU(.)^2`` shape; the paper's exact constants were not at hand. ``k = 1``
here (``K_SIGMA``); the penalties are averaged over channels and summed over layers, and the
fine-tune adds them to the cross-entropy with the weight ``distribution_loss_weight``.
"""

from __future__ import annotations

import torch
from torch import nn

from coexplore.quant._base import ActQuantizer, WeightQuantizer, per_channel_view, straight_through

K_SIGMA = 1.0


class _SignSTE(torch.autograd.Function):
    """``sign`` forward (0 maps to +1); gradient passed where ``|u| <= 1``."""

    @staticmethod
    def forward(ctx, u: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(u)
        return torch.where(u >= 0, torch.ones_like(u), -torch.ones_like(u))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (u,) = ctx.saved_tensors
        return grad * (u.abs() <= 1).to(grad.dtype)


def distribution_loss(u: torch.Tensor, k_sigma: float = K_SIGMA) -> torch.Tensor:
    """Ding et al. 2019 distribution loss of pre-activations ``u`` (``N x C x ...``), channel mean.

    Example:
        >>> import torch
        >>> round(float(distribution_loss(torch.full((4, 2), 3.0))), 3)  # degenerate, saturated
        13.0
    """
    dims = [d for d in range(u.ndim) if d != 1]
    mu = u.mean(dim=dims)
    sigma = (u.var(dim=dims, unbiased=False) + 1e-10).sqrt()
    spread = k_sigma * sigma
    degeneration = torch.relu(mu.abs() - spread) ** 2
    saturation = torch.relu(mu.abs() - spread - 1) ** 2
    mismatch = torch.relu(1 - mu.abs() - spread) ** 2
    return (degeneration + saturation + mismatch).mean()


class BinaryWeightQuantizer(WeightQuantizer):
    """``sign(w)`` times the channel's mean magnitude (XNOR-Net), straight-through gradient.

    Example:
        >>> import torch
        >>> w = torch.tensor([[0.5, -1.5]])
        >>> BinaryWeightQuantizer(1, w)(w).tolist()
        [[1.0, -1.0]]
    """

    scheme = "binary"

    def __init__(self, bits: int, weight: torch.Tensor) -> None:
        super().__init__(bits, weight)
        self.check_bits(bits)

    @classmethod
    def check_bits(cls, bits: int) -> None:
        if bits != 1:
            raise ValueError(f"binary weight quantizer: bits must be 1, got {bits}")

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        alpha = weight.detach().reshape(weight.shape[0], -1).abs().mean(dim=1)
        alpha = per_channel_view(alpha, weight.ndim)
        q = torch.where(weight >= 0, alpha, -alpha)
        return straight_through(q, weight)


class BinaryActQuantizer(ActQuantizer):
    """Binary activations ``sign((x - b_c) / s_c) * a`` with the distribution loss as regularizer."""

    scheme = "binary"

    def __init__(self, bits: int = 1) -> None:
        super().__init__(bits)
        self.check_bits(bits)
        self.shift = nn.Parameter(torch.zeros(1))
        self.register_buffer("spread", torch.ones(1))
        self.register_buffer("magnitude", torch.ones(()))

    @classmethod
    def check_bits(cls, bits: int) -> None:
        if bits != 1:
            raise ValueError(f"binary activation quantizer: bits must be 1, got {bits}")

    def calibrate(self, x: torch.Tensor) -> None:
        dims = [d for d in range(x.ndim) if d != 1]
        mean = x.mean(dim=dims)
        std = x.std(dim=dims, unbiased=False)
        # A channel that is (almost) constant in the calibration batch, e.g. a dead ReLU, would
        # blow up u; floor its spread at a tenth of the layer's mean spread.
        std = std.clamp_min(0.1 * float(std.mean()) + 1e-8)
        self.shift.data = mean.clone()
        self.spread = std.clone()
        centered = x - mean.reshape(1, -1, *([1] * (x.ndim - 2)))
        self.magnitude.fill_(float(centered.abs().mean()))

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, *([1] * (x.ndim - 2)))
        u = (x - self.shift.reshape(shape)) / self.spread.reshape(shape)
        self.regularization = distribution_loss(u) if self.training else None
        return _SignSTE.apply(u) * self.magnitude
