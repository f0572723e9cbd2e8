"""Binary quantizers (XNOR-Net weights, sign activations) and the Ding et al. 2019 distribution loss."""

from __future__ import annotations

import torch

from coexplore.quant import BinaryActQuantizer, BinaryWeightQuantizer, distribution_loss


def test_binary_weights_are_plus_minus_the_channel_mean_magnitude() -> None:
    w = torch.randn(5, 3, 3, 3)
    q = BinaryWeightQuantizer(1, w)(w)
    alpha = w.abs().reshape(5, -1).mean(dim=1)
    for c in range(5):
        assert set(q[c].unique().tolist()) <= {alpha[c].item(), -alpha[c].item()}


def test_binary_weight_gradient_passes_straight_through() -> None:
    w = torch.randn(4, 6, requires_grad=True)
    BinaryWeightQuantizer(1, w)(w).sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_binary_activations_take_two_values_split_near_the_channel_mean() -> None:
    x = torch.rand(64, 4, 3, 3) * torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1, 1)
    quant = BinaryActQuantizer()
    q = quant(x)
    assert q.unique().numel() == 2
    positive = (q > 0).float().mean(dim=(0, 2, 3))
    assert ((positive > 0.3) & (positive < 0.7)).all()


def test_binary_activation_gradient_is_clipped_outside_the_unit_window() -> None:
    quant = BinaryActQuantizer()
    quant(torch.randn(256, 1))  # calibrate: shift ~0, spread ~1
    x = torch.tensor([[0.0], [0.5], [5.0], [-5.0]], requires_grad=True)
    quant(x).sum().backward()
    assert x.grad[0, 0] > 0 and x.grad[1, 0] > 0
    assert x.grad[2, 0] == 0 and x.grad[3, 0] == 0


def test_distribution_loss_vanishes_for_a_standard_normal_pre_activation() -> None:
    u = torch.randn(4096, 8, generator=torch.Generator().manual_seed(0))
    assert distribution_loss(u) < 1e-3


def test_distribution_loss_penalizes_degenerate_saturated_and_narrow_channels() -> None:
    base = torch.randn(4096, 1, generator=torch.Generator().manual_seed(0))
    ok = distribution_loss(base)
    assert distribution_loss(base * 0.1 + 3.0) > ok + 1  # one-sided and beyond the window
    assert distribution_loss(base * 0.05) > ok + 0.5  # all inside the STE window


def test_binary_activation_records_the_regularizer_only_in_training() -> None:
    quant = BinaryActQuantizer()
    quant(torch.randn(32, 3, 2, 2))
    x = torch.randn(32, 3, 2, 2) + 2.0  # shifted: the regularizer pulls the threshold along
    quant(x)
    assert quant.regularization is not None and quant.regularization > 0
    quant.regularization.backward()
    assert quant.shift.grad is not None and quant.shift.grad.abs().sum() > 0
    quant.eval()
    quant(torch.randn(32, 3, 2, 2))
    assert quant.regularization is None
