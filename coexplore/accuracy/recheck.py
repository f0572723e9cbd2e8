"""Re-checking plans at high fidelity, as multi-fidelity search does with its final candidates.

A study ranks plans by the brief proxy; before its front is trusted, each distinct plan on it is
fine-tuned for the long budget of ``ProxyConfig.high_fidelity`` (``ProxyEvaluator.evaluate(plan,
fidelity="high")``, cached apart from the brief result) and the two rankings are compared. The
study layer records the pairs on its trials and recomputes the front with the high-fidelity
accuracies; this module only evaluates and compares.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coexplore.accuracy.evaluator import ProxyEvaluator, ProxyResult
    from coexplore.quant import QuantPlan


@dataclass(frozen=True)
class Recheck:
    """One distinct plan's brief and high-fidelity results (``key`` is the brief cache key)."""

    plan: QuantPlan
    brief: ProxyResult
    high: ProxyResult

    @property
    def key(self) -> str:
        return self.brief.key


@dataclass(frozen=True)
class RecheckReport:
    """The re-checked plans (distinct model-side choices, in first-seen order) and the rank
    agreement of their brief and high-fidelity accuracies (NaN with fewer than two plans or a
    constant ranking)."""

    rows: tuple[Recheck, ...]
    kendall_tau_b: float
    spearman_rho: float
    high_steps: int
    """The high-fidelity budget per fold for a plan at 8 bits (more for plans further from FP32)."""

    def high_accuracy(self, plan: QuantPlan, evaluator: ProxyEvaluator) -> float:
        """The high-fidelity accuracy of ``plan`` (any plan with the same quantizers)."""
        key = evaluator.key(plan)
        for row in self.rows:
            if row.key == key:
                return row.high.accuracy
        raise KeyError(f"plan {plan.key()} was not re-checked")


def rank_agreement(brief: Sequence[float], high: Sequence[float]) -> tuple[float, float]:
    """Kendall tau-b and Spearman rho between two accuracy lists (NaN where undefined).

    Example:
        >>> rank_agreement([0.9, 0.8, 0.7], [0.95, 0.85, 0.6])
        (1.0, 1.0)
    """
    if len(brief) != len(high):
        raise ValueError(f"{len(brief)} brief accuracies but {len(high)} high-fidelity ones")
    if len(brief) < 2:
        return math.nan, math.nan
    import warnings

    from scipy.stats import kendalltau, spearmanr

    with warnings.catch_warnings():  # a constant input warns and yields NaN, as documented
        warnings.simplefilter("ignore")
        tau = float(kendalltau(brief, high)[0])
        rho = float(spearmanr(brief, high)[0])
    return tau, rho


def recheck(evaluator: ProxyEvaluator, plans: Iterable[QuantPlan]) -> RecheckReport:
    """Evaluate each distinct plan (by cache key) briefly and at high fidelity; compare rankings.

    Brief results usually come from the cache (the study ran them); high-fidelity ones are cached
    too, so a second re-check of the same front costs milliseconds.

    Example:
        >>> report = recheck(evaluator, [QuantPlan(pe_type="int4"), QuantPlan(pe_type="binary")])  # doctest: +SKIP
        >>> report.kendall_tau_b  # doctest: +SKIP
    """
    rows: dict[str, Recheck] = {}
    for plan in plans:
        brief = evaluator.evaluate(plan)
        if brief.key not in rows:
            rows[brief.key] = Recheck(plan, brief, evaluator.evaluate(plan, fidelity="high"))
    tau, rho = rank_agreement(
        [r.brief.accuracy for r in rows.values()], [r.high.accuracy for r in rows.values()]
    )
    return RecheckReport(tuple(rows.values()), tau, rho, evaluator.config.high_fidelity.steps)
