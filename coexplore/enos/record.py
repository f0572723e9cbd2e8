"""Record an ENOS result as a finished trial of an Optuna study, so it competes on the same front.

The trial follows the driver's contract (:mod:`coexplore.search.observer`): its values are the
study's objectives (``study.user_attrs["objectives"]``, in order) read from the candidate's
metrics, and its user attributes hold ``metrics``, ``pe_type``, ``feasible``,
``infeasible_reason``, ``per_layer`` and ``proxy_cache_hit``. The per-layer choice is a
categorical parameter ``op.<layer name>`` over the searched choices, so a sampler that models
those parameters (BoTorch, TPE) can start from ENOS's assignment; hardware parameters of the
study's space can be passed along so the trial sits in the same space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution

if TYPE_CHECKING:
    from coexplore.enos.runner import EnosCandidate

SOURCE = "enos"
"""The ``source`` user_attr of trials that ENOS proposed."""

PARAM_PREFIX = "op."
"""Trial parameter name of a layer's operator choice: ``"op." + layer name``."""


def choice_params(assignment: Sequence[str], layer_names: Sequence[str],
                  choices: Sequence[str]) -> tuple[dict[str, str], dict[str, BaseDistribution]]:
    """The ``op.<layer>`` parameters and their categorical distributions for an assignment."""
    dist = CategoricalDistribution(list(choices))
    params = {f"{PARAM_PREFIX}{name}": choice for name, choice in zip(layer_names, assignment)}
    return params, {name: dist for name in params}


def candidate_user_attrs(candidate: EnosCandidate) -> dict[str, Any]:
    """The trial user attributes of the driver's contract for an evaluated assignment.

    A driver that evaluates ``op.*`` parameters itself sets these on its live trial.
    """
    attrs: dict[str, Any] = {
        "metrics": {k: float(v) for k, v in candidate.metrics().items()},
        "pe_type": "hybrid",
        "feasible": bool(candidate.cost.feasible),
        "infeasible_reason": candidate.cost.infeasible_reason,
        "per_layer": candidate.cost.per_layer,
        "proxy_cache_hit": bool(candidate.extra.get("cache_hit", False)),
        "source": SOURCE,
        "enos_label": candidate.label,
    }
    if candidate.energy_weight is not None:
        attrs["enos_energy_weight"] = float(candidate.energy_weight)
    if candidate.search is not None:
        attrs["enos_mode"] = candidate.search.config.mode
    return attrs


def record_trial(study: optuna.Study, candidate: EnosCandidate, *, choices: Sequence[str],
                 extra_params: Mapping[str, Any] | None = None,
                 extra_distributions: Mapping[str, BaseDistribution] | None = None) -> optuna.trial.FrozenTrial:
    """Add ``candidate`` to ``study`` as a COMPLETE trial and return it.

    Args:
        study: a study whose ``user_attrs["objectives"]`` lists ``{"name", "direction"}`` dicts.
        candidate: an evaluated ENOS assignment (or single-operator baseline).
        choices: the choice names the ``op.*`` parameters range over.
        extra_params, extra_distributions: further parameters (e.g. the hardware of the hybrid
            design, named as in the study's space) with their distributions.

    Raises:
        ValueError: the study names no objectives, or an objective the candidate has no metric for.

    Example:
        >>> record_trial(study, runner.search(EnosConfig()), choices=runner.choices)  # doctest: +SKIP
    """
    objectives = study.user_attrs.get("objectives")
    if not objectives:
        raise ValueError(f"study {study.study_name}: user_attrs['objectives'] is empty; the driver sets it")
    metrics = candidate.metrics()
    missing = [o["name"] for o in objectives if o["name"] not in metrics]
    if missing:
        raise ValueError(f"study {study.study_name}: objective(s) {missing} are not ENOS metrics; "
                         f"available: {', '.join(sorted(metrics))}")
    params, dists = choice_params(candidate.assignment, candidate.cost.layer_names, choices)
    params.update(extra_params or {})
    dists.update(extra_distributions or {})
    user_attrs = candidate_user_attrs(candidate)
    trial = optuna.trial.create_trial(
        params=params,
        distributions=dists,
        values=[float(metrics[o["name"]]) for o in objectives],
        user_attrs=user_attrs,
    )
    study.add_trial(trial)
    for t in reversed(study.get_trials(deepcopy=False)):  # other workers may have added trials since
        if t.params == params and t.user_attrs.get("enos_label") == candidate.label:
            return t
    raise RuntimeError(f"study {study.study_name}: the added ENOS trial was not found")
