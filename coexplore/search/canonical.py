"""A sampler wrapper that proposes canonical parameters only: one point per evaluated design.

Bits parameters of a space are unconditional (every trial carries them, so BoTorch and GP model
them all), but a width above a PE type's native width runs at the native width: without care, two
parameter points would be one design, the sampler would see them as two, and a trial's parameters
would not be the design it evaluated. :class:`Canonical` maps every proposal of the wrapped sampler
(relative or independent) to the canonical parameters of its design before the trial takes it.
A model-based sampler may keep proposing an alias it has never seen evaluated, whose canonical
form then repeats an evaluated design (docs/benchmarks.md: joint GP stalls at 0.94 on the
quickstart); nested search, the default, does not meet this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState


class Canonical(optuna.samplers.BaseSampler):
    """Wraps ``base``; ``canonical(params) -> params`` names the same design canonically.

    Example:
        >>> sampler = Canonical(optuna.samplers.TPESampler(seed=0), space.canonical_params)  # doctest: +SKIP
    """

    def __init__(self, base: optuna.samplers.BaseSampler, canonical: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.base = base
        self.canonical = canonical

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        params = self.base.sample_relative(study, trial, search_space)
        if "pe_type" not in params:
            return params
        return self.canonical(params)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        value = self.base.sample_independent(study, trial, param_name, param_distribution)
        return self.canonical({**trial.params, param_name: value}).get(param_name, value)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: list[float] | None) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()
