"""Specification of the per-layer operators: shapes, gradients, ADC quantization, the l1 operator."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from coexplore.cim.choices import CHOICES
from coexplore.enos import ChoiceOp, EnosSupernet

torch.set_num_threads(1)


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_choice_keeps_the_conv_output_shape_and_passes_gradients(name):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, stride=2)
    op = ChoiceOp(CHOICES[name], conv, plan_bits=8, rows=16, adc_bits=5)
    x = torch.randn(3, 4, 7, 7, requires_grad=True)
    w = conv.weight.detach().clone().requires_grad_(True)
    y = op(x, w, None)
    assert y.shape == conv(x).shape
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert w.grad is not None and w.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_choice_computes_linear_layers(name):
    lin = nn.Linear(20, 5)
    op = ChoiceOp(CHOICES[name], lin, plan_bits=8, rows=8, adc_bits=6)
    assert op(torch.randn(4, 20), lin.weight, lin.bias).shape == (4, 5)


def test_cim_mac_with_a_fine_adc_matches_the_digital_mac():
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 4, 3, padding=1, bias=False)
    x = torch.rand(2, 8, 6, 6)
    digital = ChoiceOp(CHOICES["mac@digital"], conv, plan_bits=8)
    cim = ChoiceOp(CHOICES["mac@cim"], conv, plan_bits=8, rows=16, adc_bits=16)
    cim.load_state_dict(digital.state_dict(), strict=False)
    torch.testing.assert_close(cim(x, conv.weight), digital(x, conv.weight), atol=2e-3, rtol=1e-3)


def test_cim_partial_sums_take_at_most_two_to_the_adc_bits_levels():
    torch.manual_seed(0)
    lin = nn.Linear(16, 8, bias=False)
    op = ChoiceOp(CHOICES["mac@cim"], lin, plan_bits=8, rows=16, adc_bits=3)  # one chunk: y is one psum
    y = op(torch.rand(64, 16), lin.weight)
    assert y.unique().numel() <= 2**3


def test_coarser_adc_moves_the_cim_output_further_from_exact():
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 8, 3, padding=1, bias=False)
    x = torch.rand(4, 16, 6, 6)
    exact = F.conv2d(x, conv.weight, padding=1)
    err = {}
    for bits in (3, 8):
        op = ChoiceOp(CHOICES["mac@cim"], conv, plan_bits=8, rows=32, adc_bits=bits)
        with torch.no_grad():
            err[bits] = float((op(x, conv.weight) - exact).abs().mean())
    assert err[3] > err[8]


def test_adc_quantizer_passes_gradients_straight_through():
    lin = nn.Linear(16, 4, bias=False)
    op = ChoiceOp(CHOICES["mac@cim"], lin, plan_bits=8, rows=16, adc_bits=4)
    x = torch.rand(8, 16, requires_grad=True)
    op(x, lin.weight).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_l1_operator_is_minus_the_sum_of_absolute_differences():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    op = ChoiceOp(CHOICES["l1@cim"], conv, plan_bits=16, rows=27, adc_bits=16)
    x = torch.rand(2, 3, 5, 5)
    with torch.no_grad():
        xq, wq = op.input_quantizer(x), op.weight_quantizer(conv.weight)
        cols = F.unfold(xq, 3, padding=1)                                   # N x 27 x 25
        ref = -(cols.unsqueeze(1) - wq.reshape(1, 5, 27, 1)).abs().sum(2)   # N x 5 x 25
        got = op._cim(xq, wq, None)
    torch.testing.assert_close(got, ref.reshape(2, 5, 5, 5), atol=1e-2, rtol=1e-3)


def test_supernet_expected_cost_is_the_probability_weighted_sum():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 36, 3))
    sn = EnosSupernet(net, ["mac@digital", "binary@digital", "mac@cim"])
    with torch.no_grad():
        sn.arch_parameters()[0].copy_(torch.tensor([0.0, 1.0, 2.0]))
    cost = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    # Layer 0: softmax([0, 1, 2]) weights costs 1, 2, 3; layer 1 keeps alpha = 0 (uniform: mean 5).
    expected = float(torch.softmax(torch.tensor([0.0, 1.0, 2.0]), dim=0) @ cost[0]) + 5.0
    with torch.no_grad():
        assert float(sn.expected_cost(cost)) == pytest.approx(expected)
    assert sn.assignment() == ["mac@cim", "mac@digital"]


def test_discretized_layer_runs_only_its_chosen_operator():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3))
    sn = EnosSupernet(net, ["mac@digital", "binary@digital"])
    x = torch.randn(5, 6)
    layer = sn.mixed_layers()[0]
    sn.discretize(["binary@digital"])
    torch.testing.assert_close(sn(x), layer.ops[1](x, layer.weight, layer.bias))


def test_supernet_rejects_an_assignment_outside_its_choices():
    sn = EnosSupernet(nn.Sequential(nn.Linear(6, 3)), ["mac@digital"])
    with pytest.raises(ValueError, match="not among this supernet's choices"):
        sn.discretize(["l1@cim"])
