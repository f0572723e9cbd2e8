"""LeGR's search for the per-layer affine transforms: regularized evolution (Real et al., AAAI 2019).

As in LeGR (Chin et al., CVPR 2020, Algorithm 1): a population of candidate ``(alpha, kappa)``
vectors, each scored by pruning the network to the tightest budget of the space and fine-tuning it
briefly (``fitness``). The first candidate is the identity (the unlearned L2 ranking), the rest of
the first population are random: ``alpha_l = exp(N(0, sigma))``, ``kappa_l = N(0, std_l)`` with
``std_l`` the spread of layer ``l``'s filter norms. Each later generation samples ``sample``
candidates, mutates the fittest (a fraction ``mutate`` of the layers, with ``sigma`` shrinking over
the generations) and replaces the oldest member. Returns the fittest candidate ever scored.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from coexplore.transforms.ranking import Affine
from coexplore.transforms.settings import Evolution

Fitness = Callable[[Affine], float]
"""``fitness(affine) -> float``: higher is better (a validation accuracy after a brief fine-tune)."""
LearnProgress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``, the proxy's progress callback shape."""


@dataclass
class LearnedRanking:
    """The outcome of the evolution: the fittest transform and what it cost.

    ``history`` holds each scored candidate's fitness in order; ``fine_tunes`` how many candidates
    were fine-tuned (one per generation).
    """

    affine: Affine
    fitness: float
    identity_fitness: float
    fine_tunes: int
    seconds: float
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"affine": self.affine.to_dict(), "fitness": self.fitness, "identity_fitness": self.identity_fitness,
                "fine_tunes": self.fine_tunes, "seconds": self.seconds, "history": list(self.history)}

    @classmethod
    def from_dict(cls, d: dict) -> LearnedRanking:
        return cls(Affine.from_dict(d["affine"]), float(d["fitness"]), float(d["identity_fitness"]),
                   int(d["fine_tunes"]), float(d["seconds"]), [float(x) for x in d.get("history", [])])


def evolve(layers: list[str], norm_std: list[float], fitness: Fitness, config: Evolution | None = None,
           progress: LearnProgress | None = None) -> LearnedRanking:
    """Learn ``alpha``/``kappa`` for ``layers`` by regularized evolution.

    Args:
        layers: the ranked layers (producers of prunable channel groups).
        norm_std: standard deviation of each layer's squared filter norms (scale of ``kappa``).
        fitness: scores a candidate; called ``config.generations`` times.
        config: the evolution's budget.
        progress: called after each candidate as ``("learn ranking", done, total)``.

    Example:
        >>> best = evolve(["a", "b"], [1.0, 1.0], lambda aff: -abs(aff.kappa[0] - 0.5),
        ...               Evolution(population=4, generations=40))
        >>> best.fitness >= best.identity_fitness
        True
    """
    cfg = config or Evolution()
    rng = np.random.default_rng(cfg.seed)
    n, std = len(layers), np.asarray(norm_std, dtype=float)
    start = time.perf_counter()
    members: list[tuple[np.ndarray, np.ndarray]] = []
    scores: list[float] = []
    ages: deque[int] = deque()
    history: list[float] = []
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for i in range(cfg.generations):
        if i == 0:
            alpha, kappa = np.ones(n), np.zeros(n)
        elif i < cfg.population:
            alpha, kappa = np.exp(rng.normal(0, cfg.sigma, n)), rng.normal(0, 1, n) * std
        else:
            pool = rng.choice(len(members), size=min(cfg.sample, len(members)), replace=False)
            alpha, kappa = (x.copy() for x in members[max(pool, key=lambda k: scores[k])])
            scale = cfg.sigma * (1 - 0.8 * i / cfg.generations)
            for layer in rng.choice(n, size=max(1, round(cfg.mutate * n)), replace=False):
                alpha[layer] *= np.exp(rng.normal(0, scale))
                kappa[layer] += rng.normal(0, std[layer])
        score = float(fitness(Affine(tuple(layers), tuple(map(float, alpha)), tuple(map(float, kappa)))))
        history.append(score)
        if best is None or score > best[0]:
            best = (score, alpha, kappa)
        if len(members) < cfg.population:
            members.append((alpha, kappa))
            scores.append(score)
            ages.append(len(members) - 1)
        else:  # the oldest member dies
            oldest = ages.popleft()
            members[oldest], scores[oldest] = (alpha, kappa), score
            ages.append(oldest)
        if progress is not None:
            progress("learn ranking", i + 1, cfg.generations)
    assert best is not None
    affine = Affine(tuple(layers), tuple(map(float, best[1])), tuple(map(float, best[2])))
    return LearnedRanking(affine, best[0], history[0], cfg.generations, time.perf_counter() - start, history)
