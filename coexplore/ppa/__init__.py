"""The analytical PPA model: dataflows, vectorized evaluator, results."""

from coexplore.ppa.derived import derived_totals
from coexplore.ppa.evaluator import evaluate, evaluate_point
from coexplore.ppa.result import AREA_COMPONENTS, ENERGY_COMPONENTS, TOP_LEVEL_KEYS, PPAResult

__all__ = ["AREA_COMPONENTS", "ENERGY_COMPONENTS", "TOP_LEVEL_KEYS", "PPAResult", "derived_totals", "evaluate", "evaluate_point"]
