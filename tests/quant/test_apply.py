"""Applying a plan to a model: wrappers keyed by qualified names, calibration, regularizers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coexplore.hardware.pe import pe_type_names
from coexplore.quant import (
    QuantConv2d,
    QuantLinear,
    QuantPlan,
    QuantPlanError,
    calibrate_quantizers,
    quantizable_layers,
    quantize_model,
    regularization_loss,
)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


def test_every_conv_and_linear_is_wrapped_under_its_qualified_name() -> None:
    q = quantize_model(_net(), QuantPlan(pe_type="int4"))
    assert quantizable_layers(q) == ["0", "3.0", "6"]
    assert (
        isinstance(q[0], QuantConv2d)
        and isinstance(q[3][0], QuantConv2d)
        and isinstance(q[6], QuantLinear)
    )
    assert q[3][0].weight_quantizer.bits == 4


def test_the_fp32_model_is_left_untouched_and_weights_are_shared_by_value() -> None:
    net = _net()
    q = quantize_model(net, QuantPlan(pe_type="int8"))
    assert type(net[0]) is nn.Conv2d
    assert torch.equal(net[0].weight, q[0].weight)
    assert "0.weight" in q.state_dict() and "0.weight_quantizer.step" in q.state_dict()


def test_per_layer_bits_reach_the_named_layer() -> None:
    q = quantize_model(
        _net(), QuantPlan(pe_type="int8", layer_weight_bits={"3.0": 2}, layer_act_bits={"6": 3})
    )
    assert (q[0].weight_quantizer.bits, q[3][0].weight_quantizer.bits) == (8, 2)
    assert q[6].input_quantizer.bits == 3


def test_a_plan_naming_an_unknown_layer_is_an_error_naming_it() -> None:
    with pytest.raises(QuantPlanError, match="features.9"):
        quantize_model(_net(), QuantPlan(pe_type="int8", layer_weight_bits={"features.9": 4}))


@pytest.mark.parametrize("pe_type", pe_type_names())
def test_every_pe_type_runs_forward_and_backward(pe_type: str) -> None:
    q = quantize_model(_net(), QuantPlan(pe_type=pe_type))
    x = torch.randn(16, 1, 6, 6)
    calibrate_quantizers(q, x)
    q.train()
    out = q(x)
    loss = out.logsumexp(dim=1).mean()
    reg = regularization_loss(q)
    if pe_type == "binary":
        assert reg is not None
        loss = loss + reg
    else:
        assert reg is None
    loss.backward()
    assert q[3][0].weight.grad is not None and q[3][0].weight.grad.abs().sum() > 0


def test_calibration_keeps_batch_norm_running_statistics() -> None:
    q = quantize_model(_net(), QuantPlan(pe_type="int4"))
    before = q[1].running_mean.clone()
    calibrate_quantizers(q, torch.randn(16, 1, 6, 6) + 3)
    assert torch.equal(before, q[1].running_mean)
    assert bool(q[0].input_quantizer.initialized)


def test_forward_order_follows_execution_when_a_sample_is_given() -> None:
    class Reversed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(4, 2)
            self.body = nn.Linear(3, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(x))

    assert quantizable_layers(Reversed()) == ["head", "body"]
    assert quantizable_layers(Reversed(), torch.zeros(1, 3)) == ["body", "head"]
