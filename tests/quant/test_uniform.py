"""Uniform INT-n quantizers (LSQ): grid, ranges and straight-through gradients."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.quant import UniformActQuantizer, UniformWeightQuantizer


@settings(max_examples=25, deadline=None)
@given(bits=st.integers(2, 8), channels=st.integers(1, 6), seed=st.integers(0, 1000))
def test_weights_take_at_most_2_to_the_n_levels_per_channel(
    bits: int, channels: int, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(channels, 4, 3, 3, generator=g) * 3
    q = UniformWeightQuantizer(bits, w)(w)
    for c in range(channels):
        assert q[c].unique().numel() <= 2**bits


@settings(max_examples=25, deadline=None)
@given(bits=st.integers(2, 16), seed=st.integers(0, 1000))
def test_weights_are_integer_multiples_of_the_channel_step_within_range(
    bits: int, seed: int
) -> None:
    w = torch.randn(3, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    quant = UniformWeightQuantizer(bits, w).double()
    codes = quant(w) / quant.step.detach().reshape(-1, 1)
    assert torch.allclose(codes, codes.round(), atol=1e-6)
    codes = codes.round()
    assert codes.min() >= -(2 ** (bits - 1)) and codes.max() <= 2 ** (bits - 1) - 1


def test_sixteen_bit_weights_are_nearly_lossless() -> None:
    w = torch.randn(8, 16)
    q = UniformWeightQuantizer(16, w)(w)
    assert (q - w).abs().max() < 1e-3 * w.abs().max()


def test_gradients_flow_to_weights_and_step_sizes() -> None:
    w = torch.randn(4, 9, requires_grad=True)
    quant = UniformWeightQuantizer(3, w)
    quant(w).pow(2).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0
    assert quant.step.grad is not None and quant.step.grad.abs().sum() > 0


def test_non_negative_activations_use_the_unsigned_range() -> None:
    x = torch.rand(16, 4, 5, 5)
    quant = UniformActQuantizer(4)
    q = quant(x)
    assert not bool(quant.signed)
    codes = q / quant.step.detach()
    assert codes.min() >= 0 and codes.max() <= 15 and q.unique().numel() <= 16


def test_signed_activations_use_the_signed_range() -> None:
    x = torch.randn(16, 4, 5, 5)
    quant = UniformActQuantizer(2)
    q = quant(x)
    assert bool(quant.signed)
    assert q.unique().numel() <= 4 and q.min() < 0


def test_activation_gradient_passes_straight_through_inside_the_range() -> None:
    x = torch.rand(8, 3, requires_grad=True)
    quant = UniformActQuantizer(8)
    quant(x).sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))
    assert quant.step.grad is not None


def test_bits_outside_2_to_16_are_rejected() -> None:
    import pytest

    with pytest.raises(ValueError, match="2..16"):
        UniformWeightQuantizer(1, torch.randn(2, 2))
    with pytest.raises(ValueError, match="2..16"):
        UniformActQuantizer(17)
