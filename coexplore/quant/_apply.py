"""Applying a quantization plan to a model: fake-quantized Conv2d/Linear under the same names."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from coexplore.quant._base import ActQuantizer, WeightQuantizer

if TYPE_CHECKING:
    from coexplore.quant.plan import QuantPlan

QUANTIZABLE = (nn.Conv2d, nn.Linear)


class QuantConv2d(nn.Conv2d):
    """A ``Conv2d`` whose weights and input pass through quantizers (same parameters and name)."""

    weight_quantizer: WeightQuantizer
    input_quantizer: ActQuantizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(
            self.input_quantizer(x), self.weight_quantizer(self.weight), self.bias
        )


class QuantLinear(nn.Linear):
    """A ``Linear`` whose weights and input pass through quantizers (same parameters and name)."""

    weight_quantizer: WeightQuantizer
    input_quantizer: ActQuantizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.input_quantizer(x), self.weight_quantizer(self.weight), self.bias)


_QUANT_CLASS = {nn.Conv2d: QuantConv2d, nn.Linear: QuantLinear}


def quantizable_layers(model: nn.Module, sample: torch.Tensor | None = None) -> list[str]:
    """Qualified names of every Conv2d/Linear in ``model``.

    With a ``sample`` input the names come in forward (execution) order, as
    ``coexplore.workload.from_module`` reports them; layers the forward pass never calls follow
    in registration order. Without one, registration order.

    Example:
        >>> quantizable_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 3)))
        ['0', '2']
    """
    names = [name for name, m in model.named_modules() if isinstance(m, QUANTIZABLE)]
    if sample is None:
        return names
    called: list[str] = []
    modules = dict(model.named_modules())
    hooks = [
        modules[n].register_forward_hook(
            lambda m, i, o, n=n: called.append(n) if n not in called else None
        )
        for n in names
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(sample)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return called + [n for n in names if n not in called]


def quantize_model(
    model: nn.Module,
    plan: QuantPlan,
    inplace: bool = False,
    layer_names: Sequence[str] | None = None,
) -> nn.Module:
    """Wrap every Conv2d/Linear with the plan's weight and input-activation quantizers.

    Args:
        model: an FP32 model (left untouched unless ``inplace``).
        plan: the quantization plan; its layer names are the model's qualified names.
        inplace: modify ``model`` itself instead of a deep copy.
        layer_names: the quantizable layers in forward order (see :func:`quantizable_layers` with a
            sample), which decides the first and last layer a plan may pin; default: registration
            order.

    Raises:
        QuantPlanError: the plan names layers the model does not have, or bits a scheme cannot take.

    Example:
        >>> from coexplore.quant import QuantPlan
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
        >>> q = quantize_model(net, QuantPlan(pe_type="int4"))
        >>> type(q[0]).__name__, q[0].weight_quantizer.bits
        ('QuantConv2d', 4)
    """
    if not inplace:
        model = copy.deepcopy(model)
    modules = dict(model.named_modules())
    names = quantizable_layers(model)
    if layer_names is not None:
        if sorted(layer_names) != sorted(names):
            raise ValueError("layer_names must list exactly the model's Conv2d/Linear layers")
        names = list(layer_names)
    for spec in plan.layer_specs(names):
        layer = modules[spec.name]
        if isinstance(layer, (QuantConv2d, QuantLinear)):
            raise TypeError(f"layer {spec.name}: already quantized")
        base = nn.Conv2d if isinstance(layer, nn.Conv2d) else nn.Linear
        wq, aq = spec.build(layer.weight)
        layer.__class__ = _QUANT_CLASS[base]
        layer.add_module("weight_quantizer", wq.to(layer.weight.device))
        layer.add_module("input_quantizer", aq.to(layer.weight.device))
    return model


def calibrate_quantizers(model: nn.Module, batch: torch.Tensor) -> None:
    """Initialise every activation quantizer's scales from one batch, as training will see it.

    The pass runs in training mode (batch-norm normalizes with batch statistics, as during the
    fine-tune) with batch-norm momentum set to 0 so the running statistics stay as they were.
    """
    was_training = model.training
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    model.train()
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)


def regularization_loss(model: nn.Module) -> torch.Tensor | None:
    """Sum of the quantizers' training regularizers from the last forward pass (None if none)."""
    terms = [
        m.regularization
        for m in model.modules()
        if isinstance(m, ActQuantizer) and m.regularization is not None
    ]
    if not terms:
        return None
    return torch.stack(terms).sum()
