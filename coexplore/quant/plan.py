"""A quantization plan: PE type plus per-layer weight/activation bits, by qualified layer name."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coexplore.hardware.pe.registry import get_pe_type, native_bits
from coexplore.quant._registry import LayerQuantSpec, layer_spec


class QuantPlanError(ValueError):
    """A plan does not fit a model (unknown layer names, bits a quantizer cannot take)."""


class QuantPlan(BaseModel):
    """PE type and the bits of every layer's weights and input activations.

    ``weight_bits``/``act_bits`` are the defaults for all layers (``None``: the PE type's native
    bits). ``layer_weight_bits``/``layer_act_bits`` override them per layer; a key is a layer's
    qualified name (``torch.nn.Module.named_modules``, as in the PPA workload) or a glob pattern
    over names (``layer1.*``) for a group of layers; exact names win over patterns. ``pin_first_last``
    sets the first and last layer's weight and activation bits (``None``: not pinned); an explicit
    per-layer override of those layers still wins.

    Example:
        >>> plan = QuantPlan(pe_type="lightpe1", weight_bits=4, act_bits=8,
        ...                  layer_weight_bits={"b": 6}, pin_first_last=8)
        >>> plan.resolve(["a", "b", "c"])
        ([8, 6, 8], [8, 8, 8])
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pe_type: str = "int8"
    weight_bits: int | None = Field(default=None, ge=1, le=16)
    act_bits: int | None = Field(default=None, ge=1, le=16)
    layer_weight_bits: dict[str, int] = Field(default_factory=dict)
    layer_act_bits: dict[str, int] = Field(default_factory=dict)
    pin_first_last: int | None = Field(default=None, ge=1, le=16)

    @field_validator("pe_type")
    @classmethod
    def _registered(cls, v: str) -> str:
        get_pe_type(v)
        return v

    def default_bits(self) -> tuple[int, int]:
        """Default (weight, activation) bits: the plan's, else the PE type's native bits."""
        w, a = native_bits(self.pe_type)
        return (self.weight_bits or w, self.act_bits or a)

    def resolve(self, layer_names: Sequence[str]) -> tuple[list[int], list[int]]:
        """Per-layer weight and activation bits, in the order of ``layer_names``.

        Raises:
            QuantPlanError: an override names no layer (the message lists them and the known names)
                or holds bits outside 1..16.
        """
        names = list(layer_names)
        w_default, a_default = self.default_bits()
        weights = [w_default] * len(names)
        acts = [a_default] * len(names)
        if self.pin_first_last is not None and names:
            for i in {0, len(names) - 1}:
                weights[i] = acts[i] = self.pin_first_last
        _apply_overrides(weights, names, self.layer_weight_bits, "layer_weight_bits")
        _apply_overrides(acts, names, self.layer_act_bits, "layer_act_bits")
        return weights, acts

    def layer_specs(self, layer_names: Sequence[str]) -> list[LayerQuantSpec]:
        """The quantizers of every layer (scheme, bits, options), in order."""
        weights, acts = self.resolve(layer_names)
        specs = []
        for name, w, a in zip(layer_names, weights, acts):
            try:
                spec = layer_spec(self.pe_type, name, w, a)
                spec.check()
            except ValueError as exc:
                raise QuantPlanError(str(exc)) from exc
            specs.append(spec)
        return specs

    def key(self) -> str:
        """A stable string for hashing: sorted keys, defaults made explicit.

        Example:
            >>> QuantPlan(pe_type="int8").key() == QuantPlan(pe_type="int8", weight_bits=8).key()
            True
        """
        w, a = self.default_bits()
        canon = {
            "pe_type": self.pe_type,
            "weight_bits": w,
            "act_bits": a,
            "layer_weight_bits": dict(sorted(self.layer_weight_bits.items())),
            "layer_act_bits": dict(sorted(self.layer_act_bits.items())),
            "pin_first_last": self.pin_first_last,
        }
        return json.dumps(canon, sort_keys=True, separators=(",", ":"))


def _apply_overrides(
    bits: list[int], names: list[str], overrides: dict[str, int], field: str
) -> None:
    unknown = []
    index = {n: i for i, n in enumerate(names)}
    patterns = [k for k in overrides if k not in index]
    for key in sorted(patterns):
        hits = [i for i, n in enumerate(names) if fnmatch.fnmatchcase(n, key)]
        if not hits:
            unknown.append(key)
        for i in hits:
            bits[i] = _valid_bits(overrides[key], field, key)
    for key, value in overrides.items():
        if key in index:
            bits[index[key]] = _valid_bits(value, field, key)
    if unknown:
        known = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + ", ..."
        raise QuantPlanError(
            f"{field}: unknown layer name(s) {', '.join(unknown)}; known layers: {known}"
        )


def _valid_bits(value: int, field: str, key: str) -> int:
    if not isinstance(value, int) or not 1 <= value <= 16:
        raise QuantPlanError(f"{field}.{key}: bits must be an integer in 1..16, got {value!r}")
    return value
