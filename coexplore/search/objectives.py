"""Objectives files (``objectives/*.yaml``): metrics from the registry with directions, constraints,
and the hypervolume reference point. The metrics and their units are :data:`coexplore.record.METRICS`.

An objectives file::

    objectives: [accuracy, energy_mj, {metric: area_mm2, direction: minimize}]
    constraints: ["area_mm2 <= 4", "accuracy_drop <= 2"]
    reference_point: {accuracy: 0.5, energy_mj: 1.0, area_mm2: 8}

The reference point bounds the hypervolume: points worse than it in any objective count nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from coexplore.record.metrics import METRICS, unknown_metric_error
from coexplore.search.configio import read_yaml, validate

_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


def _check_metric(name: str) -> str:
    if name not in METRICS:
        raise ValueError(unknown_metric_error(name))
    return name


class Objective(BaseModel):
    """One objective: a registry metric and its direction (default: the metric's natural one)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    direction: Literal["minimize", "maximize"] | None = None

    _metric = field_validator("metric")(classmethod(lambda cls, v: _check_metric(v)))

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"metric": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _default_direction(self) -> Objective:
        if self.direction is None:
            self.direction = METRICS[self.metric].direction
        return self


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``; :meth:`violation` is <= 0 when satisfied."""

    metric: str
    op: Literal["<=", ">="]
    bound: float

    def violation(self, metrics: dict[str, float]) -> float:
        """Amount of violation relative to the bound (Optuna's convention: feasible iff <= 0)."""
        v = metrics[self.metric]
        scale = abs(self.bound) if self.bound != 0 else 1.0
        d = (v - self.bound) if self.op == "<=" else (self.bound - v)
        return d / scale if math.isfinite(d) else 1.0

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def parse_constraint(text: str) -> Constraint:
    """Parse ``"area_mm2 <= 4"``; raise ``ValueError`` saying what is allowed."""
    m = _CONSTRAINT_RE.match(text)
    if not m:
        raise ValueError(f"cannot parse constraint '{text}'; expected '<metric> <= <number>' or '<metric> >= <number>'")
    name, op, bound = m.groups()
    _check_metric(name)
    try:
        return Constraint(name, op, float(bound))  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"constraint '{text}': '{bound}' is not a number") from None


class ObjectivesConfig(BaseModel):
    """An objectives file: objectives in order, constraints, and the hypervolume reference point."""

    model_config = ConfigDict(extra="forbid")

    objectives: list[Objective] = Field(min_length=1)
    constraints: list[str] = Field(default_factory=list)
    reference_point: dict[str, float]

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, v: list[str]) -> list[str]:
        for text in v:
            parse_constraint(text)
        return v

    @model_validator(mode="after")
    def _reference(self) -> ObjectivesConfig:
        names = [o.metric for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objectives repeat a metric: {names}")
        missing = [n for n in names if n not in self.reference_point]
        extra = [n for n in self.reference_point if n not in names]
        if missing or extra:
            raise ValueError(
                f"reference_point must give exactly one value per objective ({', '.join(names)}); "
                + (f"missing: {', '.join(missing)}" if missing else f"not an objective: {', '.join(extra)}")
            )
        return self

    @property
    def names(self) -> list[str]:
        """Objective metric names, in the order of the trial values."""
        return [o.metric for o in self.objectives]

    @property
    def directions(self) -> list[str]:
        """``"minimize"``/``"maximize"`` per objective."""
        return [str(o.direction) for o in self.objectives]

    @property
    def reference(self) -> list[float]:
        """Reference point as a list in objective order."""
        return [self.reference_point[n] for n in self.names]

    def parsed_constraints(self) -> list[Constraint]:
        """Constraints as :class:`Constraint` objects."""
        return [parse_constraint(c) for c in self.constraints]


def parse_objectives(data: dict[str, Any], prefix: str = "", source: str | None = None) -> ObjectivesConfig:
    """Validate an objectives mapping; raise ``ConfigError`` with one line per problem."""
    return validate(ObjectivesConfig, data, prefix, source)


def load_objectives(path: str | Path) -> ObjectivesConfig:
    """Read and validate ``objectives/*.yaml``.

    Example:
        >>> load_objectives("objectives/accuracy-energy-area.yaml").names
        ['accuracy', 'energy_mj', 'area_mm2']
    """
    return parse_objectives(read_yaml(path), source=str(path))
