"""Record an ENOS result as a finished trial of an Optuna study, so it competes on the same front.

The trial holds the same :class:`coexplore.record.TrialRecord` as a driver trial (built by the
same :func:`~coexplore.search.evaluate.build_record`), so ENOS and the driver record identical
metrics for the same assignment. The per-layer choice is a categorical parameter
``op.<layer name>`` over the searched choices, so a sampler that models those parameters (BoTorch,
TPE) can start from ENOS's assignment; hardware parameters of the study's space can be passed
along so the trial sits in the same space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution

from coexplore.enos.evaluator import candidate_record
from coexplore.record import SOURCE_ENOS, frozen_trial, read_record
from coexplore.search.study import objectives_of

if TYPE_CHECKING:
    from coexplore.enos.runner import EnosCandidate

PARAM_PREFIX = "op."
"""Trial parameter name of a layer's operator choice: ``"op." + layer name``."""


def choice_params(assignment: Sequence[str], layer_names: Sequence[str],
                  choices: Sequence[str]) -> tuple[dict[str, str], dict[str, BaseDistribution]]:
    """The ``op.<layer>`` parameters and their categorical distributions for an assignment."""
    dist = CategoricalDistribution(list(choices))
    params = {f"{PARAM_PREFIX}{name}": choice for name, choice in zip(layer_names, assignment)}
    return params, {name: dist for name in params}


def enos_facts(candidate: EnosCandidate) -> dict[str, Any]:
    """The ENOS-specific facts of a candidate (the record's ``extra``)."""
    facts: dict[str, Any] = {"enos_label": candidate.label}
    if candidate.energy_weight is not None:
        facts["enos_energy_weight"] = float(candidate.energy_weight)
    if candidate.search is not None:
        facts["enos_mode"] = candidate.search.config.mode
        facts["enos_expected_energy_j"] = float(candidate.search.expected_energy_j)
    return facts


def record_trial(study: optuna.Study, candidate: EnosCandidate, *, choices: Sequence[str],
                 extra_params: Mapping[str, Any] | None = None,
                 extra_distributions: Mapping[str, BaseDistribution] | None = None) -> optuna.trial.FrozenTrial:
    """Add ``candidate`` to ``study`` as a COMPLETE trial and return it.

    Args:
        study: a study created by coexplore (its objectives, constraints and reference point are
            read from it).
        candidate: an evaluated ENOS assignment (or single-operator baseline).
        choices: the choice names the ``op.*`` parameters range over.
        extra_params, extra_distributions: further parameters (e.g. the hardware of the hybrid
            design, named as in the study's space) with their distributions.

    Raises:
        ValueError: the study names no objectives.

    Example:
        >>> record_trial(study, runner.search(EnosConfig()), choices=runner.choices)  # doctest: +SKIP
    """
    params, dists = choice_params(candidate.assignment, candidate.cost.layer_names, choices)
    params.update(extra_params or {})
    dists.update(extra_distributions or {})
    record = candidate_record(candidate, objectives_of(study), source=SOURCE_ENOS, extra=enos_facts(candidate),
                              effective={**(extra_params or {}), "assignment": list(candidate.assignment)})
    study.add_trial(frozen_trial(record, params, dists))
    for t in reversed(study.get_trials(deepcopy=False)):  # other workers may have added trials since
        rec = read_record(t)
        if t.params == params and rec is not None and rec.extra.get("enos_label") == candidate.label:
            return t
    raise RuntimeError(f"study {study.study_name}: the added ENOS trial was not found")
