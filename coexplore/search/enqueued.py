"""Trials a search outside the sampler proposes (ENOS assignments, NAS architectures): found if the
study already holds the design, else enqueued and run by the study's own objective, so they sit on
the same front and seed the sampler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from coexplore.search.observers import ObserverGroup


def find_trial(study: optuna.Study, params: dict[str, Any]) -> optuna.trial.FrozenTrial | None:
    """A complete, running or waiting trial of ``study`` with exactly these parameters, if any."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)):
        if t.params == params or t.system_attrs.get("fixed_params") == params:
            return t
    return None


def run_enqueued(study: optuna.Study, objective: Callable[[optuna.Trial], Sequence[float]], params: dict[str, Any],
                 facts_attr: str, facts: dict[str, Any], observers: ObserverGroup, *,
                 error: type[Exception] = RuntimeError) -> optuna.trial.FrozenTrial:
    """Enqueue ``params`` (``facts`` stored under ``facts_attr``) and run ``objective`` until that
    trial has run (other waiting trials may go first).

    Raises:
        error: the trial never ran (named with its search, e.g. ``EnosStudyError``).
    """
    study.enqueue_trial(params, user_attrs={facts_attr: facts})
    for _ in range(1 + len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))):
        study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False,
                       callbacks=[lambda s, t: observers.on_trial_end(s, t)])
        mine = [t for t in study.get_trials(deepcopy=False) if t.system_attrs.get("fixed_params") == params
                and t.user_attrs.get(facts_attr) == facts and t.state != TrialState.WAITING]
        if mine:
            return mine[-1]
    raise error(f"study {study.study_name}: the enqueued trial {params} was not run")
