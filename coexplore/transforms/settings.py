"""Settings of the transforms, torch-free so that search spaces can validate them cheaply."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

METHODS = ("legr", "l2", "uniform")
"""Filter-ranking methods of the pruning transform (:mod:`coexplore.transforms.ranking`)."""


class Evolution(BaseModel):
    """Budget of LeGR's regularized evolution; the defaults suit the digits CNN on two CPU cores.

    LeGR's own runs use 64 candidates, 400 generations and 200 fine-tune steps on CIFAR (its
    ``learn_ranking_ea``); a proxy model this small needs far fewer.

    Args:
        population: candidates alive at once (the first ``population`` are scored at random).
        generations: candidates scored in total, the first population included.
        sample: tournament size: the fittest of this many random members is mutated.
        mutate: fraction of the layers changed in a mutation (at least one).
        sigma: standard deviation of ``log alpha`` at the start (it shrinks linearly to 20%).
        steps: fine-tune steps per candidate (LeGR's tau-hat).
        seed: the evolution's random seed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    population: int = Field(default=8, ge=1, le=256)
    generations: int = Field(default=32, ge=1, le=5000)
    sample: int = Field(default=4, ge=1)
    mutate: float = Field(default=0.1, gt=0, le=1)
    sigma: float = Field(default=1.0, gt=0)
    steps: int = Field(default=30, ge=0, le=100_000)
    seed: int = 0


class PruneSettings(BaseModel):
    """How a study prunes: the ranking method, pinned ends, and the level LeGR learns at.

    Args:
        method: ``legr`` (learned), ``l2`` (unlearned global L2 ranking) or ``uniform``.
        keep_ends: never prune the first layer's output or the last layer's input channels.
        learn_level: the tightest level of the space; LeGR's candidates are pruned to it.
        evolution: the budget of LeGR's evolution.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["legr", "l2", "uniform"] = "legr"
    keep_ends: bool = False
    learn_level: float = Field(default=0.5, ge=0, lt=1)
    evolution: Evolution = Evolution()


