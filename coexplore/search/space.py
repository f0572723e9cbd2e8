"""Search spaces: hardware axes and model-side (PE type, per-layer/group bits) parameters, from YAML.

A space file (``spaces/*.yaml``) has three sections::

    hardware:            # axes searched; names are DesignPoint fields
      pe_rows: {type: int, low: 4, high: 16, step: 4}
      glb_kib: {type: int, low: 32, high: 512, log: true}
      dram_gbps: {type: categorical, choices: [6.4, 12.8, 25.6]}
    fixed:               # DesignPoint fields held constant (others take DesignPoint defaults)
      clock_mhz: 200
    model:               # model-side choices (they change accuracy, so they cost proxy runs)
      pe_type: [int8, int4, lightpe1, binary]
      weight_bits: {choices: [2, 4, 8], per: network}   # network | group | layer
      act_bits: {choices: [4, 8]}
      groups: {stem: ["conv1"], body: ["*"]}            # fnmatch patterns, first match wins
      pin_first_last: 8

Instead of ``model:``, a hybrid digital + compute-in-memory space has ``operators:`` (per-layer
operator x mode choices) and ``cim:``/``cim_fixed:`` (CIM macro axes); see
:mod:`coexplore.search.operators`.

``weight_bits``/``act_bits`` change the design only for the PE types in their ``pe_types``
(default: integer PE types for weights, all but binary for activations); the other PE types run at
their native precision (:func:`coexplore.hardware.native_bits`), and no PE type runs above it. Every
trial carries every bits parameter (no conditional parameters, so model-based samplers see the
whole space) at its *canonical* value (:meth:`SearchSpace.canonical_params`): one value per distinct
width a PE type runs, so equal effective designs are one point to the sampler.

Grid discretization (:meth:`SearchSpace.hardware_grid`): categorical -> its choices; int -> every
``step`` from low to high, or with ``log: true`` and no step the doublings of low up to high (high
included); float -> every ``step``, else 5 points (geometric when ``log``); ``grid: [...]`` on any
axis overrides.
"""

from __future__ import annotations

import fnmatch
import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator

from coexplore.hardware.design import DesignPoint
from coexplore.hardware.pe.registry import get_pe_type, native_bits, pe_type_names
from coexplore.search.configio import ConfigError, read_yaml, validate
from coexplore.search.model_axes import (
    ArchitectureAxis,
    PruneAxis,
    VipAxis,
    transform_choices,
    transform_distributions,
)
from coexplore.search.operators import OperatorSpace, operator_problems

HARDWARE_FIELDS: tuple[str, ...] = tuple(
    f for f in DesignPoint.model_fields if f not in ("pe_type", "weight_bits", "act_bits")
)
"""DesignPoint fields a space may search or fix (precision belongs to the model section)."""

from coexplore.search.params import CategoricalParam, FloatParam, HardwareParam, IntParam, _Strict  # noqa: F401


def _registered_pe(v: str) -> str:
    get_pe_type(v)
    return v


PEName = Annotated[str, AfterValidator(_registered_pe)]
"""A registered PE type name (:mod:`coexplore.hardware.pe.registry`)."""


class BitsParam(_Strict):
    """Bit widths searched for weights or activations, per network, named group or layer."""

    choices: list[Annotated[int, Field(ge=1, le=16)]] = Field(min_length=1)
    per: Literal["network", "group", "layer"] = "network"
    pe_types: list[PEName] | None = None


class ModelSpace(_Strict):
    """Model-side choices: PE type and (conditional) precision per network/group/layer."""

    pe_type: list[PEName] = Field(min_length=1)
    weight_bits: BitsParam | None = None
    act_bits: BitsParam | None = None
    groups: dict[str, list[str]] = Field(default_factory=dict)
    pin_first_last: Annotated[int, Field(ge=1, le=16)] | None = None
    prune: PruneAxis | None = None  # filter pruning (coexplore.search.model_axes)
    vip: VipAxis | None = None  # virtual pooling (coexplore.search.model_axes)
    architecture: ArchitectureAxis | None = None  # Single-Path NAS (coexplore.nas.settings)

    @model_validator(mode="after")
    def _groups_when_needed(self) -> ModelSpace:
        for key in ("weight_bits", "act_bits"):
            bits = getattr(self, key)
            if bits is not None and bits.per == "group" and not self.groups:
                raise ValueError(f"{key}.per is 'group' but no groups are defined (add model.groups)")
        return self

    def searched_pe_types(self, key: str) -> tuple[str, ...]:
        """PE types for which ``key`` ("weight_bits"/"act_bits") is a search parameter."""
        bits = getattr(self, key)
        if bits is None:
            return ()
        if bits.pe_types is not None:
            return tuple(bits.pe_types)
        if key == "weight_bits":  # uniform INT weights: any narrower width is a valid choice
            default = tuple(p for p in pe_type_names() if get_pe_type(p).integer)
        else:  # every PE type with multi-bit activations
            default = tuple(p for p in pe_type_names() if native_bits(p)[1] > 1)
        return tuple(p for p in default if p in self.pe_type)


class ModelChoice(BaseModel):
    """The model-side part of one trial: PE type and the bits of every layer."""

    pe_type: str
    weight_bits: int
    act_bits: int
    layer_weight_bits: dict[str, int] = Field(default_factory=dict)
    layer_act_bits: dict[str, int] = Field(default_factory=dict)
    pin_first_last: int | None = None
    transforms: dict[str, float | str] = Field(default_factory=dict, exclude=True)  # {"prune": 0.5}: not in the plan


class SearchSpace(_Strict):
    """A whole search space: hardware axes, fixed hardware fields, model-side parameters.

    Example:
        >>> space = load_space("spaces/quickstart.yaml")
        >>> cols = space.hardware_grid()          # every combination, PE type included
        >>> sorted(cols)[:2]
        ['act_bits', 'clock_mhz']
    """

    hardware: dict[str, HardwareParam] = Field(default_factory=dict)
    fixed: dict[str, int | float | str] = Field(default_factory=dict)
    model: ModelSpace | None = None
    operators: OperatorSpace | None = None
    cim: dict[str, HardwareParam] = Field(default_factory=dict)
    cim_fixed: dict[str, bool | int | float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _model_or_operators(self) -> SearchSpace:
        if self.model is None and self.operators is None:
            raise ValueError("give a model section (PE type, bits) or an operators section (hybrid digital+CIM)")
        if self.model is not None and self.operators is not None:
            raise ValueError("model and operators exclude each other: operator choices fix each layer's PE type")
        return self

    @property
    def hybrid(self) -> bool:
        """True for a hybrid digital + CIM space (per-layer operator choices, see :mod:`.operators`)."""
        return self.operators is not None

    def _model(self) -> ModelSpace:
        if self.model is None:
            raise ValueError("a hybrid (operators:) space has no PE-type grid; use `coexplore enos` or a study")
        return self.model

    # ---- hardware-only views (PPA sweeps) -------------------------------------------------
    def _columns(self, rows: list[dict[str, Any]]) -> dict[str, list]:
        base = DesignPoint().model_dump()
        base.update(self.fixed)
        cols: dict[str, list] = {k: [] for k in base}
        for row in rows:
            full = {**base, **row}
            w, a = native_bits(full["pe_type"])
            full["weight_bits"], full["act_bits"] = w, a
            for k, col in cols.items():
                col.append(full[k])
        return cols

    def grid_size(self) -> int:
        """Number of design points in :meth:`hardware_grid` (without building it)."""
        n = len(self._model().pe_type)
        for p in self.hardware.values():
            n *= len(p.grid_values())
        return n

    def hardware_grid(self) -> dict[str, list]:
        """Every combination of the hardware axes and PE types, as columns for ``DesignBatch.from_columns``.

        Precision is the PE type's native one; fields neither searched nor fixed take DesignPoint defaults.
        """
        names, axes = list(self.hardware), [p.grid_values() for p in self.hardware.values()]
        return self._columns([{"pe_type": pe, **dict(zip(names, combo))}
                              for pe in self._model().pe_type for combo in itertools.product(*axes)])

    def sample_hardware(self, n: int, seed: int = 0) -> dict[str, list]:
        """``n`` random design points (PE type included) as columns for ``DesignBatch.from_columns``."""
        rng = np.random.default_rng(seed)
        samples = {name: p.sample(rng, n) for name, p in self.hardware.items()}
        pes = [self._model().pe_type[i] for i in rng.integers(0, len(self._model().pe_type), n)]
        return self._columns([{"pe_type": pes[i], **{k: v[i] for k, v in samples.items()}} for i in range(n)])

    # ---- model-side choices: canonical bits ---------------------------------------------
    def bits_searched(self, key: str) -> bool:
        """True when ``key`` ("weight_bits"/"act_bits") is a parameter of every trial."""
        return getattr(self._model(), key) is not None and bool(self._model().searched_pe_types(key))

    def effective_bits(self, pe: str, key: str, value: int) -> int:
        """The width a PE type runs for a parameter value: the value clipped to its native width,
        or the native width where the space does not search ``key`` for that PE type."""
        native = native_bits(pe)[0 if key == "weight_bits" else 1]
        return native if pe not in self._model().searched_pe_types(key) else min(native, int(value))

    def allowed_bits(self, pe: str, key: str) -> tuple[int, ...]:
        """The distinct widths the space offers a PE type for ``key`` (never above its native width)."""
        spec = getattr(self._model(), key)
        return tuple(sorted({self.effective_bits(pe, key, c) for c in (spec.choices if spec else [0])}))

    def canonical_bits(self, pe: str, key: str, value: int) -> int:
        """The one parameter value that stands for the design ``value`` makes on ``pe``: the width
        itself where it is a choice, else the smallest choice giving the same width."""
        eff = self.effective_bits(pe, key, value)
        choices = getattr(self._model(), key).choices
        return eff if eff in choices else min(c for c in choices if self.effective_bits(pe, key, c) == eff)

    def canonical_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every bits parameter replaced by its canonical value for the PE type in
        ``params`` (unchanged without one): equal effective designs become equal parameters."""
        pe, out = params.get("pe_type"), dict(params)
        if pe is None or self.model is None:
            return out
        for name, value in params.items():
            key = name.split(".", 1)[0]
            if key in ("weight_bits", "act_bits") and self.bits_searched(key):
                out[name] = self.canonical_bits(pe, key, value)
        return out

    def bits_units(self, key: str, layer_names: list[str]) -> dict[str, list[str]]:
        """Parameter name -> the layers it sets, for ``key`` (``{key: []}`` at network level); layers
        pinned by ``pin_first_last`` get none (their parameter would change nothing)."""
        spec = getattr(self._model(), key)
        if spec is None or not self.bits_searched(key):
            return {}
        if spec.per == "network":
            return {key: []}
        pinned = set()
        if self._model().pin_first_last is not None and layer_names:
            pinned = {layer_names[0], layer_names[-1]}
        if spec.per == "layer":
            return {f"{key}.{layer}": [layer] for layer in layer_names if layer not in pinned}
        members = self.group_members(layer_names)
        units = {g: [m for m in layers if m not in pinned] for g, layers in members.items()}
        return {f"{key}.{g}": layers for g, layers in units.items() if layers}

    def model_distributions(self, layer_names: list[str]) -> dict[str, Any]:
        """Optuna distributions of the model-side parameters (PE type and bits), every one of which
        every trial carries (no conditional parameters: samplers model them all)."""
        from optuna.distributions import CategoricalDistribution

        out: dict[str, Any] = {"pe_type": CategoricalDistribution(list(self._model().pe_type))}
        for key in ("weight_bits", "act_bits"):
            for name in self.bits_units(key, layer_names):
                out[name] = CategoricalDistribution(list(getattr(self._model(), key).choices))
        out.update(transform_distributions(self._model(), layer_names))
        return out

    def hardware_distributions(self) -> dict[str, Any]:
        """Optuna distributions of the hardware axes, as :meth:`suggest` asks for them."""
        from optuna.distributions import CategoricalDistribution as Cat
        from optuna.distributions import FloatDistribution, IntDistribution

        return {n: Cat(list(p.choices)) if isinstance(p, CategoricalParam) else
                (IntDistribution if isinstance(p, IntParam) else FloatDistribution)(p.low, p.high, step=p.step, log=p.log)
                for n, p in self.hardware.items()}

    def model_choice(self, params: dict[str, Any], layer_names: list[str]) -> ModelChoice:
        """The model-side choice that (canonical or not) model parameters make."""
        pe = params["pe_type"]
        default = dict(zip(("weight_bits", "act_bits"), native_bits(pe)))
        layers: dict[str, dict[str, int]] = {"weight_bits": {}, "act_bits": {}}
        for key in ("weight_bits", "act_bits"):
            for name, members in self.bits_units(key, layer_names).items():
                bits = self.effective_bits(pe, key, params[name])
                if members:
                    layers[key].update({layer: bits for layer in members})
                else:
                    default[key] = bits
        return ModelChoice(pe_type=pe, weight_bits=default["weight_bits"], act_bits=default["act_bits"],
                           layer_weight_bits=layers["weight_bits"], layer_act_bits=layers["act_bits"],
                           pin_first_last=self._model().pin_first_last,
                           transforms=transform_choices(self._model(), params, layer_names))

    def model_params(self, layer_names: list[str], limit: int = 4096) -> list[dict[str, Any]] | None:
        """Every distinct model-side choice as canonical parameters (None when more than ``limit``)."""
        out: list[dict[str, Any]] = []
        for pe in self._model().pe_type:
            names, axes = ["pe_type"], [[pe]]
            for key in ("weight_bits", "act_bits"):
                units = self.bits_units(key, layer_names)
                opts = [self.canonical_bits(pe, key, b) for b in self.allowed_bits(pe, key)] if units else []
                names += list(units)
                axes += [opts] * len(units)
            for name, dist in transform_distributions(self._model(), layer_names).items():
                names.append(name)
                axes.append(list(dist.choices))
            n = int(np.prod([len(a) for a in axes]))
            if len(out) + n > limit:
                return None
            out += [dict(zip(names, combo)) for combo in itertools.product(*axes)]
        return out

    # ---- Optuna --------------------------------------------------------------------------
    def suggest_model(self, trial: Any, layer_names: list[str]) -> tuple[dict[str, Any], ModelChoice]:
        """Ask a trial for the model-side parameters only; (their values, the model-side choice)."""
        params = {n: trial.suggest_categorical(n, list(d.choices)) for n, d in self.model_distributions(layer_names).items()}
        return params, self.model_choice(params, layer_names)

    def suggest(self, trial: Any, layer_names: list[str]) -> tuple[dict[str, Any], ModelChoice]:
        """Sample one trial: hardware fields for a DesignPoint and the model-side choice. Every bits
        parameter is asked whatever the PE type; the study's sampler proposes canonical values only
        (:class:`coexplore.search.canonical.Canonical`), so a trial's parameters name its design.

        Args:
            trial: an ``optuna.Trial`` (anything with ``suggest_int/float/categorical``).
            layer_names: the network's quantizable layers, in order.
        """
        pe = trial.suggest_categorical("pe_type", list(self._model().pe_type))
        hw = dict(self.fixed)
        for name, p in self.hardware.items():
            hw[name] = p.suggest(trial, name)
        params = {"pe_type": pe}
        for name, dist in list(self.model_distributions(layer_names).items())[1:]:
            params[name] = trial.suggest_categorical(name, list(dist.choices))
        return hw, self.model_choice(params, layer_names)

    def group_members(self, layer_names: list[str]) -> dict[str, list[str]]:
        """Layers of each named group: a layer joins the first group with a matching fnmatch pattern."""
        out: dict[str, list[str]] = {g: [] for g in self.model.groups}
        for layer in layer_names:
            for group, patterns in self.model.groups.items():
                if any(fnmatch.fnmatchcase(layer, pat) for pat in patterns):
                    out[group].append(layer)
                    break
        return out


def _semantic_problems(space: SearchSpace) -> list[tuple[str, str]]:
    """(yaml path, message) for names and values the schema alone cannot check."""
    problems: list[tuple[str, str]] = []
    allowed = ", ".join(HARDWARE_FIELDS)
    for section in ("hardware", "fixed"):
        for name in getattr(space, section):
            if name not in HARDWARE_FIELDS:
                hint = " (pe_type and bits belong to the model section)" if name in ("pe_type", "weight_bits", "act_bits") else ""
                problems.append((f"{section}.{name}", f"unknown hardware parameter{hint}; allowed: {allowed}"))
    for name in set(space.hardware) & set(space.fixed):
        problems.append((f"fixed.{name}", "also searched under hardware; keep one"))
    problems += operator_problems(space)

    def check(path: str, name: str, value: Any) -> None:
        if name not in HARDWARE_FIELDS:
            return
        try:
            DesignPoint(**{name: value})
        except ValidationError as exc:
            problems.append((path, f"{value!r}: {exc.errors()[0]['msg']}"))

    for name, value in space.fixed.items():
        check(f"fixed.{name}", name, value)
    for name, p in space.hardware.items():
        if isinstance(p, CategoricalParam):
            for i, v in enumerate(p.choices):
                check(f"hardware.{name}.choices.{i}", name, v)
        else:
            check(f"hardware.{name}.low", name, p.low)
            check(f"hardware.{name}.high", name, p.high)
    return problems


def parse_space(data: dict[str, Any], prefix: str = "", source: str | None = None) -> SearchSpace:
    """Validate a space mapping; raise :class:`ConfigError` with one line per problem.

    Args:
        data: the parsed YAML mapping.
        prefix: YAML path of the mapping inside its file (``"space"`` when inline in a study).
        source: file name put in front of each error line.
    """
    space = validate(SearchSpace, data, prefix, source)
    problems = _semantic_problems(space)
    if problems:
        head = f"{source}: " if source else ""
        raise ConfigError(f"{head}{'.'.join(p for p in (prefix, path) if p)}: {msg}" for path, msg in problems)
    return space


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a space file (``spaces/*.yaml``).

    Example:
        >>> space = load_space("spaces/quidam.yaml")
        >>> space.grid_size() > 1000
        True
    """
    return parse_space(read_yaml(path), source=str(path))
