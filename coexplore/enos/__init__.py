"""ENOS: energy-aware per-layer operator x computing-mode search (Nasrin et al., arXiv:2104.05217).

Example:
    >>> from coexplore.enos import EnosConfig
    >>> EnosConfig(energy_weight=0.5, mode="single").steps
    150
"""

from coexplore.enos.evaluator import HybridTrialEvaluator, candidate_record, hybrid_evaluator
from coexplore.enos.operators import ChoiceOp, LayerGeometry
from coexplore.enos.record import PARAM_PREFIX, choice_params, enos_facts, record_trial
from coexplore.enos.runner import EnosCandidate, EnosRunner, front
from coexplore.enos.search import EnosConfig, EnosSearchResult, enos_search
from coexplore.enos.study import (
    EnosStudyError,
    EnosTrialResult,
    enos_study_search,
    reference_hardware,
)
from coexplore.enos.supernet import EnosSupernet, MixedLayer

__all__ = [
    "PARAM_PREFIX",
    "ChoiceOp",
    "EnosCandidate",
    "EnosConfig",
    "EnosRunner",
    "EnosSearchResult",
    "EnosStudyError",
    "EnosSupernet",
    "EnosTrialResult",
    "HybridTrialEvaluator",
    "LayerGeometry",
    "MixedLayer",
    "candidate_record",
    "choice_params",
    "enos_facts",
    "enos_search",
    "enos_study_search",
    "front",
    "hybrid_evaluator",
    "record_trial",
    "reference_hardware",
]
