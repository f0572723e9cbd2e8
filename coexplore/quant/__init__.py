"""Quantizers and applying a per-layer quantization plan to a torch model.

Example:
    >>> from torch import nn
    >>> from coexplore.quant import QuantPlan, quantize_model
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    >>> plan = QuantPlan(pe_type="lightpe1", weight_bits=4, act_bits=8, pin_first_last=8)
    >>> plan.resolve(["0", "2"])
    ([8, 8], [8, 8])
"""

from coexplore.quant._apply import (
    QuantConv2d,
    QuantLinear,
    calibrate_quantizers,
    quantizable_layers,
    quantize_model,
    regularization_loss,
)
from coexplore.quant._base import ActQuantizer, WeightQuantizer, round_ste, scale_grad
from coexplore.quant._binary import BinaryActQuantizer, BinaryWeightQuantizer, distribution_loss
from coexplore.quant._pow2 import PowerOfTwoWeightQuantizer, greedy_power_of_two
from coexplore.quant._registry import (
    ACT_QUANTIZERS,
    weight_scheme,
    WEIGHT_QUANTIZERS,
    LayerQuantSpec,
    layer_spec,
)
from coexplore.quant._uniform import UniformActQuantizer, UniformWeightQuantizer
from coexplore.quant.plan import QuantPlan, QuantPlanError

__all__ = [
    "ACT_QUANTIZERS",
    "weight_scheme",
    "WEIGHT_QUANTIZERS",
    "ActQuantizer",
    "BinaryActQuantizer",
    "BinaryWeightQuantizer",
    "LayerQuantSpec",
    "PowerOfTwoWeightQuantizer",
    "QuantConv2d",
    "QuantLinear",
    "QuantPlan",
    "QuantPlanError",
    "UniformActQuantizer",
    "UniformWeightQuantizer",
    "WeightQuantizer",
    "calibrate_quantizers",
    "distribution_loss",
    "greedy_power_of_two",
    "layer_spec",
    "quantizable_layers",
    "quantize_model",
    "regularization_loss",
    "round_ste",
    "scale_grad",
]
