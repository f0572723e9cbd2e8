"""Hardware axes of a search space: integer, float and categorical parameters with grids, samples
and Optuna suggestions."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

_FLOAT_GRID_POINTS = 5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", "IntParam", "FloatParam")


def _check_range(p: P, stepped: bool) -> P:
    """A numeric axis's own checks: a non-empty range, and no step on a log axis."""
    if p.high < p.low:
        raise ValueError(f"empty range: high ({p.high}) must be >= low ({p.low})")
    if p.log and stepped:
        raise ValueError("log: true cannot be combined with step (Optuna forbids it)")
    return p


class IntParam(_Strict):
    """Integer axis from ``low`` to ``high`` inclusive, every ``step``; ``log`` samples log-uniformly."""

    type: Literal["int"]
    low: int = Field(gt=0)
    high: int = Field(gt=0)
    step: int = Field(default=1, ge=1)
    log: bool = False
    grid: list[int] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _range(self) -> IntParam:
        return _check_range(self, stepped=self.step != 1)

    def grid_values(self) -> list[int]:
        """Values enumerated by the grid."""
        if self.grid is not None:
            return list(self.grid)
        if self.log:
            vals, v = [], self.low
            while v < self.high:
                vals.append(v)
                v *= 2
            return vals + [self.high]
        return list(range(self.low, self.high + 1, self.step))

    def sample(self, rng: np.random.Generator, n: int) -> list[int]:
        """n random values (log-uniform when ``log``)."""
        if self.log:
            u = rng.uniform(math.log(self.low), math.log(self.high + 1), n)
            return [int(min(self.high, max(self.low, math.floor(math.exp(x))))) for x in u]
        k = (self.high - self.low) // self.step
        return [int(self.low + self.step * i) for i in rng.integers(0, k + 1, n)]

    def suggest(self, trial: Any, name: str) -> int:
        """Ask an Optuna trial for this axis."""
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)


class FloatParam(_Strict):
    """Real axis from ``low`` to ``high``; optional ``step``; ``log`` samples log-uniformly."""

    type: Literal["float"]
    low: float = Field(gt=0)
    high: float = Field(gt=0)
    step: float | None = Field(default=None, gt=0)
    log: bool = False
    grid: list[float] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _range(self) -> FloatParam:
        return _check_range(self, stepped=self.step is not None)

    def grid_values(self) -> list[float]:
        """Values enumerated by the grid."""
        if self.grid is not None:
            return list(self.grid)
        if self.step is not None:
            n = math.floor((self.high - self.low) / self.step + 1e-9)
            return [self.low + i * self.step for i in range(n + 1)]
        if self.log:
            return [float(v) for v in np.geomspace(self.low, self.high, _FLOAT_GRID_POINTS)]
        return [float(v) for v in np.linspace(self.low, self.high, _FLOAT_GRID_POINTS)]

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        """n random values (log-uniform when ``log``, on the step lattice when ``step``)."""
        if self.log:
            return [float(v) for v in np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))]
        if self.step is not None:
            vals = self.grid_values()
            return [vals[i] for i in rng.integers(0, len(vals), n)]
        return [float(v) for v in rng.uniform(self.low, self.high, n)]

    def suggest(self, trial: Any, name: str) -> float:
        """Ask an Optuna trial for this axis."""
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)


class CategoricalParam(_Strict):
    """A list of allowed values (numbers or names such as dataflows)."""

    type: Literal["categorical"]
    choices: list[int | float | str] = Field(min_length=1)

    def grid_values(self) -> list:
        """Values enumerated by the grid."""
        return list(self.choices)

    def sample(self, rng: np.random.Generator, n: int) -> list:
        """n random choices."""
        return [self.choices[i] for i in rng.integers(0, len(self.choices), n)]

    def suggest(self, trial: Any, name: str) -> Any:
        """Ask an Optuna trial for this axis."""
        return trial.suggest_categorical(name, list(self.choices))


HardwareParam = Annotated[IntParam | FloatParam | CategoricalParam, Field(discriminator="type")]
