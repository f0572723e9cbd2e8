"""The optimize loop: trials until the budget of COMPLETE trials is met over every worker.

Before each batch a process reads the counts in the storage; a trial that finds ``budget`` trials
ahead of it complete or running prunes itself (two workers may pass the first check together).
The budget is read from the study at every trial, so a resume that changes it while workers run
takes effect at their next trial.
While other workers' running trials hold the rest of the budget, the process waits and fails
their trials if those workers died (heartbeats), so a dead worker's share is retried. A trial
whose objective raises fails alone; ``max_consecutive_failures`` failures in a row stop the
process (that means a bug rather than bad luck).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from coexplore.record import ERROR_ATTR, OVER_BUDGET_ATTR, mask_url
from coexplore.record.front import is_feasible
from coexplore.search.observers import ObserverGroup
from coexplore.search.storage import fail_orphan_trials
from coexplore.search.study import BUDGET_ATTR, StudyError

Objective = Callable[[optuna.Trial], Sequence[float]]


def count_states(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    """Trials by state: ``complete``, ``running``, ``fail``, ``pruned``, ``waiting``."""
    counts = {"complete": 0, "running": 0, "fail": 0, "pruned": 0, "waiting": 0}
    for t in trials:
        counts[t.state.name.lower()] += 1
    return counts


def state_counts(study: optuna.Study) -> dict[str, int]:
    """The study's trials by state (one storage read)."""
    return count_states(study.get_trials(deepcopy=False))


class _InfeasibleGuard:
    """Stops a study whose space yields only infeasible designs: after ``limit`` complete trials
    without a feasible one, naming the constraint that failed most."""

    def __init__(self, study: optuna.Study, limit: int) -> None:
        self.limit = limit
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        self.seen_feasible = any(is_feasible(t) for t in done)
        self.failed: Counter[str] = Counter()
        self.count = 0 if self.seen_feasible else len(done)
        for t in done:
            self._tally(t)

    def _tally(self, trial: FrozenTrial) -> None:
        self.failed.update(name for name, v in trial.constraints.items() if v > 0)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.seen_feasible or trial.state != TrialState.COMPLETE:
            return
        if is_feasible(trial):
            self.seen_feasible = True
            return
        self.count += 1
        self._tally(trial)
        if self.tripped:
            study.stop()

    @property
    def tripped(self) -> bool:
        return not self.seen_feasible and self.limit > 0 and self.count >= self.limit

    def message(self) -> str:
        name, n = self.failed.most_common(1)[0] if self.failed else ("feasible", self.count)
        what = "the design is invalid or does not fit (constraint 'feasible')" if name == "feasible" \
            else f"constraint '{name}'"
        return (f"{self.count} complete trials and none feasible; stopping. Most often violated: {what}, "
                f"in {n} of them. Widen the space or relax the constraints.")


class _FailureGuard:
    """Counts failed trials in a row and stops the study at the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.errors: list[str] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state != TrialState.FAIL:
            self.errors.clear()
            return
        self.errors.append(str(trial.user_attrs.get(ERROR_ATTR, trial.system_attrs.get("fail_reason", "unknown error"))))
        if self.tripped:
            study.stop()

    @property
    def tripped(self) -> bool:
        return len(self.errors) >= self.limit


def _stored_budget(study: optuna.Study, default: int) -> int:
    return int(study.user_attrs.get(BUDGET_ATTR, default))


class _BudgetReached:
    """Stops the batch once the stored budget of COMPLETE trials is met (read at every trial)."""

    def __init__(self, default: int) -> None:
        self.default = default

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        budget = _stored_budget(study, self.default)
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= budget:
            study.stop()


def _budget_objective(study: optuna.Study, objective: Objective, default: int) -> Objective:
    def run(trial: optuna.Trial) -> Sequence[float]:
        budget = _stored_budget(study, default)
        ahead = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
                 if t.number < trial.number]
        if len(ahead) >= budget:
            trial.set_user_attr(OVER_BUDGET_ATTR, True)
            raise optuna.TrialPruned(f"budget of {budget} complete trials already taken by earlier trials")
        try:
            return list(objective(trial))
        except Exception as exc:
            trial.set_user_attr(ERROR_ATTR, mask_url(f"{type(exc).__name__}: {exc}")[:2000])
            raise
    return run


def optimize(
    study: optuna.Study,
    objective: Objective,
    budget: int,
    *,
    observers: ObserverGroup | None = None,
    max_consecutive_failures: int = 10,
    max_infeasible_trials: int = 50,
    poll_s: float = 1.0,
    storage: optuna.storages.BaseStorage | None = None,
) -> int:
    """Run trials until ``budget`` trials are COMPLETE in the storage; return how many this process ran.

    Args:
        study: the Optuna study (its storage may be shared with other workers).
        objective: the trial objective (records the trial, returns its objective values).
        budget: COMPLETE trials wanted over all processes, used when the study stores none; the
            budget stored on the study wins (a resume elsewhere may change it while this runs).
        observers: told of study start, every trial this process finishes, and study end.
        max_consecutive_failures: stop with :class:`StudyError` after this many failures in a row.
        max_infeasible_trials: stop with :class:`StudyError` when this many trials completed and
            none was feasible (0: never), naming the constraint that failed most.
        poll_s: seconds between checks while other processes' trials hold the rest of the budget.
        storage: the study's RDB storage as opened, to fail trials killed before their first heartbeat.
    """
    observers = observers or ObserverGroup()
    guard = _FailureGuard(max_consecutive_failures)
    infeasible = _InfeasibleGuard(study, max_infeasible_trials)
    ran = 0

    def after(_study: optuna.Study, trial: FrozenTrial) -> None:
        nonlocal ran
        ran += 1
        observers.on_trial_end(study, trial)
        if trial.user_attrs.get(OVER_BUDGET_ATTR):
            study.stop()

    observers.on_study_start(study)
    interrupted = False
    try:
        while True:
            budget = _stored_budget(study, budget)
            counts = state_counts(study)
            if counts["complete"] >= budget:
                break
            if counts["waiting"] == 0 and counts["complete"] + counts["running"] >= budget:
                with warnings.catch_warnings():  # experimental in Optuna 5, and stable since 2.9
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)  # a dead worker's trial frees its budget share
                fail_orphan_trials(study, storage)  # ... and so does one killed before its first heartbeat
                time.sleep(poll_s)
                continue
            study.optimize(_budget_objective(study, objective, budget), catch=(Exception,), gc_after_trial=False,
                           callbacks=[after, _BudgetReached(budget), guard, infeasible])
            if guard.tripped:
                raise StudyError(f"{len(guard.errors)} trials failed in a row; stopping. Last error: {guard.errors[-1]}")
            if infeasible.tripped:
                raise StudyError(infeasible.message())
    except KeyboardInterrupt:
        interrupted = True
        observers.on_interrupt(study)
        raise
    finally:
        if not interrupted:
            observers.on_study_end(study)
    return ran
