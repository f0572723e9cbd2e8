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

``weight_bits``/``act_bits`` are conditional: they are searched only for the PE types in their
``pe_types`` (default: integer PE types for weights, all but binary for activations); the other PE
types run at their native precision (:func:`coexplore.hardware.native_bits`). A chosen width above
the PE type's native width is clipped to it (the datapath cannot hold more bits).

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
    transforms: dict[str, float | str] = Field(default_factory=dict, exclude=True)
    """Model-side transform values (``{"prune": 0.5}``, :mod:`coexplore.transforms`); not part of the plan."""


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
        names = list(self.hardware)
        axes = [self.hardware[n].grid_values() for n in names]
        rows = [
            {"pe_type": pe, **dict(zip(names, combo))}
            for pe in self._model().pe_type
            for combo in itertools.product(*axes)
        ]
        return self._columns(rows)

    def sample_hardware(self, n: int, seed: int = 0) -> dict[str, list]:
        """``n`` random design points (PE type included) as columns for ``DesignBatch.from_columns``."""
        rng = np.random.default_rng(seed)
        samples = {name: p.sample(rng, n) for name, p in self.hardware.items()}
        pe_types = self._model().pe_type
        pes = [pe_types[i] for i in rng.integers(0, len(pe_types), n)]
        rows = [{"pe_type": pes[i], **{k: v[i] for k, v in samples.items()}} for i in range(n)]
        return self._columns(rows)

    # ---- Optuna --------------------------------------------------------------------------
    def suggest(self, trial: Any, layer_names: list[str]) -> tuple[dict[str, Any], ModelChoice]:
        """Sample one trial: hardware fields for a DesignPoint and the model-side choice.

        Args:
            trial: an ``optuna.Trial`` (anything with ``suggest_int/float/categorical``).
            layer_names: the network's quantizable layers, in order.
        """
        pe = trial.suggest_categorical("pe_type", list(self._model().pe_type))
        hw = dict(self.fixed)
        for name, p in self.hardware.items():
            hw[name] = p.suggest(trial, name)
        native_w, native_a = native_bits(pe)
        bits: dict[str, dict[str, int]] = {}
        default: dict[str, int] = {"weight_bits": native_w, "act_bits": native_a}
        for key, native in (("weight_bits", native_w), ("act_bits", native_a)):
            spec = getattr(self.model, key)
            bits[key] = {}
            if spec is None or pe not in self.model.searched_pe_types(key):
                continue
            if spec.per == "network":
                default[key] = min(native, trial.suggest_categorical(key, list(spec.choices)))
            elif spec.per == "layer":
                for layer in layer_names:
                    bits[key][layer] = min(native, trial.suggest_categorical(f"{key}.{layer}", list(spec.choices)))
            else:
                members = self.group_members(layer_names)
                for group, layers in members.items():
                    if layers:
                        b = min(native, trial.suggest_categorical(f"{key}.{group}", list(spec.choices)))
                        bits[key].update({layer: b for layer in layers})
        params = {n: trial.suggest_categorical(n, list(d.choices))
                  for n, d in transform_distributions(self.model, layer_names).items()}
        choice = ModelChoice(
            transforms=transform_choices(self.model, params, layer_names),
            pe_type=pe,
            weight_bits=default["weight_bits"],
            act_bits=default["act_bits"],
            layer_weight_bits=bits["weight_bits"],
            layer_act_bits=bits["act_bits"],
            pin_first_last=self.model.pin_first_last,
        )
        return hw, choice

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
