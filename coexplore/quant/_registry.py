"""Which quantizer each PE type uses: one registry line per scheme and per PE type.

Adding a scheme means one new file with a :class:`WeightQuantizer` (and, if its activations differ,
an :class:`ActQuantizer`) plus one line in each table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from coexplore.quant._base import ActQuantizer, WeightQuantizer
from coexplore.hardware.pe.registry import get_pe_type
from coexplore.quant._binary import BinaryActQuantizer, BinaryWeightQuantizer
from coexplore.quant._pow2 import PowerOfTwoWeightQuantizer
from coexplore.quant._uniform import UniformActQuantizer, UniformWeightQuantizer

WEIGHT_QUANTIZERS: dict[str, type[WeightQuantizer]] = {
    "uniform": UniformWeightQuantizer,
    "pow2": PowerOfTwoWeightQuantizer,
    "binary": BinaryWeightQuantizer,
}
"""Weight quantizer class by scheme name."""

ACT_QUANTIZERS: dict[str, type[ActQuantizer]] = {
    "uniform": UniformActQuantizer,
    "binary": BinaryActQuantizer,
}
"""Activation quantizer class by scheme name."""

def weight_scheme(pe_type: str) -> tuple[str, dict[str, Any]]:
    """(weight scheme, its options) of a PE type, from the PE-type registry. Activations are
    uniform for every PE type; any layer at 1 bit (weights or activations) is binary whatever the
    PE type.

    Raises:
        ValueError: an unknown PE type (the message lists the registered ones).
    """
    try:
        pe = get_pe_type(pe_type)
    except ValueError as exc:
        raise ValueError(f"pe_type: {exc}") from None
    return pe.weight_scheme, dict(pe.weight_options)


@dataclass(frozen=True)
class LayerQuantSpec:
    """The quantizers of one layer: scheme names, bits and options, resolved from a plan."""

    name: str
    weight_scheme: str
    weight_bits: int
    act_scheme: str
    act_bits: int
    weight_options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ValueError naming the layer when a quantizer cannot take this spec's bits."""
        try:
            WEIGHT_QUANTIZERS[self.weight_scheme].check_bits(
                self.weight_bits, **self.weight_options
            )
            ACT_QUANTIZERS[self.act_scheme].check_bits(self.act_bits)
        except ValueError as exc:
            raise ValueError(f"layer {self.name}: {exc}") from exc

    def build(self, weight: torch.Tensor) -> tuple[WeightQuantizer, ActQuantizer]:
        """Instantiate the weight and activation quantizers for a layer with this ``weight``."""
        self.check()
        wq = WEIGHT_QUANTIZERS[self.weight_scheme](self.weight_bits, weight, **self.weight_options)
        return wq, ACT_QUANTIZERS[self.act_scheme](self.act_bits)

    def canonical(self) -> list:
        """JSON-able identity of the quantizers (what the accuracy depends on)."""
        opts = sorted(self.weight_options.items())
        return [
            self.name,
            self.weight_scheme,
            self.weight_bits,
            opts,
            self.act_scheme,
            self.act_bits,
        ]


def layer_spec(pe_type: str, name: str, weight_bits: int, act_bits: int) -> LayerQuantSpec:
    """The quantizers a layer of a ``pe_type`` accelerator gets at the given bits.

    A layer at 1 bit is binarized; a layer above 1 bit on a binary PE (a pinned first or last
    layer) is uniform INT-n, as BNNs keep those layers at higher precision.
    """
    scheme, options = weight_scheme(pe_type)
    if weight_bits == 1:
        scheme, options = "binary", {}
    elif scheme == "binary":
        scheme, options = "uniform", {}
    act_scheme = "binary" if act_bits == 1 else "uniform"
    return LayerQuantSpec(name, scheme, int(weight_bits), act_scheme, int(act_bits), dict(options))
