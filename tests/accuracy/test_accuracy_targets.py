"""Accuracy targets of the proxy on digits with the default recipe (slow: real pretraining)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coexplore.accuracy import ProxyConfig, ProxyEvaluator
from coexplore.quant import QuantPlan

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def evaluators(tmp_path_factory: pytest.TempPathFactory) -> dict[int, ProxyEvaluator]:
    folder: Path = tmp_path_factory.mktemp("targets")
    return {seed: ProxyEvaluator(ProxyConfig(seed=seed), cache_dir=folder) for seed in SEEDS}


def test_fp32_digits_model_reaches_95_percent_validation_accuracy(
    evaluators: dict[int, ProxyEvaluator],
) -> None:
    assert evaluators[0].baseline_accuracy >= 0.95


def test_int8_after_fine_tune_is_within_one_point_of_fp32(
    evaluators: dict[int, ProxyEvaluator],
) -> None:
    r = evaluators[0].evaluate(QuantPlan(pe_type="int8"))
    assert r.drop <= 0.01


@pytest.mark.parametrize(
    "plan",
    [QuantPlan(pe_type="int4", weight_bits=2, act_bits=2), QuantPlan(pe_type="binary")],
    ids=["int2", "binary"],
)
def test_two_bit_and_binary_are_visibly_less_accurate_than_int8(
    evaluators: dict[int, ProxyEvaluator], plan: QuantPlan
) -> None:
    int8 = evaluators[0].evaluate(QuantPlan(pe_type="int8")).accuracy
    assert evaluators[0].evaluate(plan).accuracy < int8 - 0.03


def test_lightpe2_is_at_least_as_accurate_as_lightpe1_over_seeds(
    evaluators: dict[int, ProxyEvaluator],
) -> None:
    lp1 = [evaluators[s].evaluate(QuantPlan(pe_type="lightpe1")).accuracy for s in SEEDS]
    lp2 = [evaluators[s].evaluate(QuantPlan(pe_type="lightpe2")).accuracy for s in SEEDS]
    assert sum(lp2) / len(lp2) >= sum(lp1) / len(lp1)


@pytest.mark.parametrize(
    ("plan", "documented", "slack"),
    [(QuantPlan(pe_type="int8"), 0.9882, 0.0015), (QuantPlan(pe_type="int4", weight_bits=2, act_bits=2), 0.8720, 0.015)],
    ids=["int8", "int w2a2"],
)
def test_brief_accuracies_quoted_in_the_docs_still_hold_at_seed_0(
    evaluators: dict[int, ProxyEvaluator], plan: QuantPlan, documented: float, slack: float
) -> None:
    """docs/benchmarks.md (accuracy proxy section) quotes these; if they move, re-measure it.

    Slack for another CPU's floating-point kernels: INT8 agrees to two images of 1,438 across the
    machines tried; the 2-bit plan's brief fine-tune, far from converged, gave 0.8720 where the
    docs were measured and 0.8825 on an AMD EPYC with torch 2.13.0+cpu's AVX2 kernels (2026-11-30).
    """
    assert evaluators[0].evaluate(plan).accuracy == pytest.approx(documented, abs=slack)
