"""Hybrid digital + CIM search spaces: per-layer operator x mode choices and CIM macro axes.

A space with an ``operators:`` section searches, jointly with the digital array's ``hardware``
axes, which operator each layer computes and where (:data:`coexplore.cim.CHOICES`), and the CIM
macros' geometry::

    hardware: {pe_rows: {type: int, low: 8, high: 16, step: 8}}
    operators:
      choices: [mac@digital, shift1@digital, binary@digital, mac@cim, l1@cim]
      per: layer            # layer | group | network
      groups: {}            # name -> fnmatch patterns (per: group), first match wins
      bits: 8               # the plan's bits for mac/l1 choices (others run at their native bits)
    cim:                    # CimMacro fields searched (axes as under hardware)
      rows: {type: categorical, choices: [64, 128]}
      adc_bits: {type: int, low: 3, high: 6}
    cim_fixed: {bit_serial: false}     # CimMacro fields held constant (others: CimMacro defaults)

Trial parameters: the hardware axes by field name, ``cim.<field>`` for searched CIM axes, and
``op.<layer>`` / ``op.<group>`` / ``op`` for the choices (:data:`coexplore.enos.PARAM_PREFIX`).
A space with ``operators:`` has no ``model:`` section: the operator choices fix each layer's PE
type and bits.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coexplore.cim.choices import CHOICES
from coexplore.cim.macro import CimMacro

OP_PARAM = "op"
"""Trial parameter (prefix) of the operator choices: ``op`` (network), ``op.<group>``, ``op.<layer>``."""
CIM_PARAM = "cim."
"""Prefix of the trial parameters of searched CIM macro axes (``cim.rows``)."""
CIM_FIELDS: tuple[str, ...] = tuple(CimMacro.model_fields)
"""CimMacro fields a space may search or fix under ``cim:``."""


class OperatorSpace(BaseModel):
    """The ``operators:`` section: operator x mode choices, their granularity and the plan's bits."""

    model_config = ConfigDict(extra="forbid")

    choices: list[str] = Field(min_length=1)
    per: Literal["network", "group", "layer"] = "layer"
    groups: dict[str, list[str]] = Field(default_factory=dict)
    bits: int = Field(default=8, ge=2, le=16)

    @model_validator(mode="after")
    def _groups_when_needed(self) -> OperatorSpace:
        if self.per == "group" and not self.groups:
            raise ValueError("per is 'group' but no groups are defined (add operators.groups)")
        return self

    def param_names(self, layer_names: Sequence[str]) -> dict[str, list[str]]:
        """Trial parameter name -> the layers it decides, for this granularity."""
        if self.per == "network":
            return {OP_PARAM: list(layer_names)}
        if self.per == "layer":
            return {f"{OP_PARAM}.{layer}": [layer] for layer in layer_names}
        out: dict[str, list[str]] = {}
        for layer in layer_names:
            for group, patterns in self.groups.items():
                if any(fnmatch.fnmatchcase(layer, pat) for pat in patterns):
                    out.setdefault(f"{OP_PARAM}.{group}", []).append(layer)
                    break
            else:
                raise ValueError(f"operators.groups: layer {layer!r} matches no group pattern; add one (e.g. '*')")
        return out

    def params_for(self, assignment: Sequence[str], layer_names: Sequence[str]) -> dict[str, str]:
        """Project a per-layer assignment onto this granularity (a group takes its most common choice)."""
        by_layer = dict(zip(layer_names, assignment))
        return {p: Counter(by_layer[l] for l in layers).most_common(1)[0][0]
                for p, layers in self.param_names(layer_names).items()}


@dataclass(frozen=True)
class HybridChoice:
    """The operator side of one trial: the CIM macro fields and one choice name per layer."""

    cim: dict[str, Any]
    assignment: list[str]


def suggest_hybrid(space: Any, trial: Any, layer_names: Sequence[str]) -> tuple[dict[str, Any], HybridChoice]:
    """Sample one hybrid trial: DesignPoint fields, CIM macro fields and the per-layer choices.

    Args:
        space: a :class:`~coexplore.search.space.SearchSpace` with ``operators``.
        trial: an ``optuna.Trial`` (fixed params of an enqueued trial are returned as given).
        layer_names: the network's layers, in order.
    """
    ops: OperatorSpace = space.operators
    hw = dict(space.fixed)
    for name, p in space.hardware.items():
        hw[name] = p.suggest(trial, name)
    cim: dict[str, Any] = dict(space.cim_fixed)
    for name, p in space.cim.items():
        cim[name] = p.suggest(trial, f"{CIM_PARAM}{name}")
    by_layer: dict[str, str] = {}
    for param, layers in ops.param_names(layer_names).items():
        choice = trial.suggest_categorical(param, list(ops.choices))
        by_layer.update({layer: choice for layer in layers})
    return hw, HybridChoice(cim, [by_layer[l] for l in layer_names])


def operator_problems(space: Any) -> list[tuple[str, str]]:
    """(yaml path, message) for the operators/cim sections: unknown choices and CIM fields, bad values."""
    problems: list[tuple[str, str]] = []
    if space.operators is None:
        for section in ("cim", "cim_fixed"):
            if getattr(space, section):
                problems.append((section, "CIM macro axes need an operators section (the per-layer choices)"))
        return problems
    allowed = ", ".join(CHOICES)
    for i, name in enumerate(space.operators.choices):
        if name not in CHOICES:
            problems.append((f"operators.choices.{i}", f"unknown operator choice {name!r}; allowed: {allowed}"))
    if len(set(space.operators.choices)) != len(space.operators.choices):
        problems.append(("operators.choices", "choices must be distinct"))

    def check(path: str, name: str, value: Any) -> None:
        try:
            CimMacro(**{name: value})
        except ValidationError as exc:
            problems.append((path, f"{value!r}: {exc.errors()[0]['msg']}"))

    for name in [*space.cim, *space.cim_fixed]:
        if name not in CIM_FIELDS:
            section = "cim" if name in space.cim else "cim_fixed"
            problems.append((f"{section}.{name}", f"unknown CIM macro parameter; allowed: {', '.join(CIM_FIELDS)}"))
    for name in set(space.cim) & set(space.cim_fixed):
        problems.append((f"cim_fixed.{name}", "also searched under cim; keep one"))
    for name, value in space.cim_fixed.items():
        if name in CIM_FIELDS:
            check(f"cim_fixed.{name}", name, value)
    for name, p in space.cim.items():
        if name not in CIM_FIELDS:
            continue
        if hasattr(p, "choices"):
            for i, v in enumerate(p.choices):
                check(f"cim.{name}.choices.{i}", name, v)
        else:
            check(f"cim.{name}.low", name, p.low)
            check(f"cim.{name}.high", name, p.high)
    return problems
