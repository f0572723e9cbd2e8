"""Model-side transform axes of a space's ``model:`` section (the DNN configuration): ``architecture``,
``prune``, ``vip``.

::

    model:
      pe_type: [int8, int4]
      prune:
        levels: [0, 0.25, 0.5, 0.7]   # fractions of the network's MACs removed; or a range:
        # low: 0, high: 0.7, step: 0.05
        method: legr                  # legr (learned ranking) | l2 (unlearned) | uniform
        keep_first_last: null         # never prune the first layer's outputs / last layer's inputs;
                                      # null: follow pin_first_last (pinned ends are kept whole)
        learn: {population: 8, generations: 32, steps: 30}   # LeGR's evolution budget

The trial parameter is ``prune``. A range is searched on its ``step`` grid: each distinct level is
its own network and costs a fine-tune, so a continuum would make every trial a proxy run; the
parameter is categorical, like the bits. LeGR learns once, at the tightest level of the axis.

Virtual pooling (ViP, :mod:`coexplore.transforms.vip`) is on or off per network, named group or
layer, as bits are; only on the convolutions ``layers`` names (fnmatch patterns), each of which must
have an output map of at least ``min_map`` x ``min_map``::

      vip: {layers: ["features.0", "features.3"], per: layer}   # params vip.features.0, vip.features.3
                                                                # (per: network -> vip; group -> vip.<group>)

Single-Path NAS architecture (:mod:`coexplore.nas`), on a supernet model
(``model: coexplore.nas:supernet_digits``): kernel size and expansion ratio per block, named group
or network, and skips of the blocks ``skip`` names::

      architecture: {kernel: [3, 5], expand: [3, 6], skip: ["blocks.2", "blocks.4"], per: block}
      # params kernel.blocks.0, expand.blocks.0, ..., skip.blocks.2 (per: network -> kernel, expand, skip)
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from coexplore.nas.settings import ARCH_CHOICE, ArchitectureAxis  # noqa: F401 - ArchitectureAxis: for space.py
from coexplore.search.params import _Strict
from coexplore.transforms import Evolution, PruneSettings

if TYPE_CHECKING:
    from coexplore.search.space import ModelSpace

PRUNE_PARAM = "prune"
"""Name of the pruning level's trial parameter."""
MAX_LEVEL = 0.95
"""Largest pruning level a space may ask for (every layer keeps at least one channel anyway)."""

Level = Annotated[float, Field(ge=0, le=MAX_LEVEL)]


class PruneAxis(_Strict):
    """The pruning axis: levels (fractions of MACs removed) and how filters are ranked.

    Example:
        >>> PruneAxis(low=0, high=0.5, step=0.25).grid()
        [0.0, 0.25, 0.5]
    """

    levels: list[Level] | None = Field(default=None, min_length=1)
    low: Level | None = None
    high: Level | None = None
    step: float = Field(default=0.05, gt=0, le=MAX_LEVEL)
    method: Literal["legr", "l2", "uniform"] = "legr"
    keep_first_last: bool | None = None
    learn: Evolution = Evolution()

    @model_validator(mode="after")
    def _levels_or_range(self) -> PruneAxis:
        ranged = self.low is not None or self.high is not None
        if self.levels is not None and ranged:
            raise ValueError("give levels or low/high, not both")
        if self.levels is None and not (self.low is not None and self.high is not None):
            raise ValueError("give levels: [...] or both low and high (fractions of MACs removed, 0 to 0.95)")
        if ranged and self.high < self.low:
            raise ValueError(f"empty range: high ({self.high}) must be >= low ({self.low})")
        if self.levels is not None and len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels repeat a value: {self.levels}")
        return self

    def grid(self) -> list[float]:
        """The levels a trial may take, ascending."""
        if self.levels is not None:
            return sorted(float(v) for v in self.levels)
        n = round((self.high - self.low) / self.step + 1e-9)
        return sorted({round(min(self.low + i * self.step, self.high), 6) for i in range(n + 1)} | {self.high})

    def settings(self, pin_first_last: int | None) -> PruneSettings:
        """The transform's settings: LeGR learns at the tightest level; ends follow the pinning."""
        keep = self.keep_first_last if self.keep_first_last is not None else pin_first_last is not None
        return PruneSettings(method=self.method, keep_ends=keep, learn_level=max(max(self.grid()), 0.05),
                             evolution=self.learn)


class VipAxis(_Strict):
    """The ViP axis: the convolutions it may run on and the unit of its on/off parameters.

    Example:
        >>> VipAxis(layers=["features.*"], per="layer").units(["features.0", "features.3", "classifier"], {})
        {'vip.features.0': ['features.0'], 'vip.features.3': ['features.3']}
    """

    layers: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    per: Literal["network", "group", "layer"] = "network"
    min_map: int = Field(default=8, ge=2, le=4096)

    def allowed(self, layer_names: list[str]) -> list[str]:
        """The layers the patterns match, in forward order."""
        return [n for n in layer_names if any(fnmatch.fnmatchcase(n, p) for p in self.layers)]

    def units(self, layer_names: list[str], groups: dict[str, list[str]]) -> dict[str, list[str]]:
        """Parameter name -> the layers it switches (``vip``, ``vip.<group>`` or ``vip.<layer>``)."""
        allowed = self.allowed(layer_names)
        if self.per == "network":
            return {VIP_PARAM: allowed} if allowed else {}
        if self.per == "layer":
            return {f"{VIP_PARAM}.{n}": [n] for n in allowed}
        out: dict[str, list[str]] = {}
        for n in allowed:  # a layer joins the first group with a matching pattern, as bits do
            group = next((g for g, pats in groups.items() if any(fnmatch.fnmatchcase(n, p) for p in pats)), None)
            if group is not None:
                out.setdefault(f"{VIP_PARAM}.{group}", []).append(n)
        return out


VIP_PARAM = "vip"
"""Name (or prefix, ``vip.<unit>``) of the ViP on/off trial parameters."""
VIP_CHOICE = "vip_layers"
"""Key of the ViP choice in a trial's transforms: the layers with ViP on, comma-joined."""


def has_transforms(model: ModelSpace | None) -> bool:
    """True when a space's model section has a transform axis (``architecture``, ``prune`` or ``vip``)."""
    return model is not None and any(getattr(model, k, None) is not None for k in ("architecture", "prune", "vip"))


def transform_distributions(model: ModelSpace, layer_names: list[str] | None = None) -> dict[str, Any]:
    """Optuna distributions of the model-side transform axes (``{}`` when the space has none)."""
    from optuna.distributions import CategoricalDistribution

    prune = getattr(model, "prune", None)
    out = {PRUNE_PARAM: CategoricalDistribution(prune.grid())} if prune is not None else {}
    vip = getattr(model, "vip", None)
    if vip is not None:
        out.update({u: CategoricalDistribution([False, True]) for u in vip.units(layer_names or [], model.groups)})
    arch = getattr(model, "architecture", None)
    if arch is not None:
        out.update({name: CategoricalDistribution(choices)
                    for name, (choices, _) in arch.param_names(layer_names or [], model.groups).items()})
    return out


def transform_choices(model: ModelSpace, params: dict[str, Any], layer_names: list[str] | None = None) -> dict[str, Any]:
    """The trial's transform values (``{"prune": 0.5, "vip_layers": "features.0"}``) from its parameters."""
    out: dict[str, Any] = {}
    if getattr(model, "prune", None) is not None and PRUNE_PARAM in params:
        out[PRUNE_PARAM] = float(params[PRUNE_PARAM])
    vip = getattr(model, "vip", None)
    if vip is not None:
        on = {n for u, members in vip.units(layer_names or [], model.groups).items() if params.get(u) for n in members}
        out[VIP_CHOICE] = ",".join(n for n in (layer_names or []) if n in on)
    arch = getattr(model, "architecture", None)
    if arch is not None and layer_names:
        out[ARCH_CHOICE] = arch.architecture(params, list(layer_names), model.groups)
    return out


def architecture_problems(model: ModelSpace | None, model_name: str | None) -> list[tuple[str, str]]:
    """(field under ``model.architecture``, message) for an architecture axis that does not fit the
    study: its model is no single-path supernet, ``skip`` names no block or a block that changes
    shape, or it is combined with pruning or ViP (not composed yet). Builds the model (shapes only)."""
    arch = getattr(model, "architecture", None)
    if arch is None:
        return []
    if getattr(model, "prune", None) is not None:
        return [("", ("cannot be combined with model.prune yet (pruning ranks the supernet's filters, not "
                      "a sub-network's); search one of them"))]
    if getattr(model, "vip", None) is not None:
        return [("", ("cannot be combined with model.vip yet (a skipped block's convolutions are not in the "
                      "sub-network ViP would run on); search one of them"))]
    if not model_name:
        return [("", ("needs a single-path supernet model: model: coexplore.nas:supernet_digits (8x8) or "
                      "coexplore.nas:supernet_32"))]
    from coexplore.nas import architecture_problems as fit

    return fit(model_name, arch)
