"""Feasibility, the Pareto front and its hypervolume, over Optuna trials (optuna and numpy only).

A trial is feasible when every Optuna constraint it carries is <= 0 (the trial record sets one
per objectives-file constraint plus ``feasible``). The front is over feasible COMPLETE trials, with
one entry per evaluated design: two trials whose records say they evaluated the same design
(equal ``effective`` parameters) are one front entry, the earlier trial.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import optuna

# Optuna 5 exposes hypervolume only inside its samplers and plots: this private import is the one
# place coexplore reaches into it (WFG algorithm, exact).
from optuna._hypervolume import compute_hypervolume
from optuna.trial import FrozenTrial, TrialState

from coexplore.record.trial import effective_key, read_record


def study_directions(study: optuna.Study) -> list[str]:
    """Directions as ``"minimize"``/``"maximize"`` strings."""
    return ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]


def is_feasible(trial: FrozenTrial) -> bool:
    """True when every constraint of the trial is <= 0 (Optuna's convention)."""
    return all(c <= 0.0 for c in trial.constraints.values())


def completed_feasible(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """COMPLETE trials with values that are feasible."""
    return [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None and is_feasible(t)]


def _as_losses(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return values * sign


def non_dominated_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask (n) of the rows of ``values`` (n x m) that no other row dominates."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    loss = _as_losses(np.asarray(values, dtype=float), directions)
    le = (loss[:, None, :] <= loss[None, :, :]).all(-1)
    lt = (loss[:, None, :] < loss[None, :, :]).any(-1)
    return ~(le & lt).any(0)


def distinct_designs(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """The trials in number order, keeping the first of those that evaluated the same design."""
    seen: set = set()
    out = []
    for t in sorted(trials, key=lambda t: t.number):
        rec = read_record(t)
        key = effective_key(rec) if rec is not None and rec.effective else ("trial", t.number)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def pareto_trials(trials: Iterable[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    """Feasible complete trials on the Pareto front, one per design, in trial-number order."""
    ok = distinct_designs(completed_feasible(trials))
    if not ok:
        return []
    mask = non_dominated_mask(np.array([t.values for t in ok]), directions)
    return [t for t, m in zip(ok, mask) if m]


def study_front(study: optuna.Study) -> list[FrozenTrial]:
    """The study's front: Optuna's ``best_trials`` (which honours constraints), one per design."""
    return distinct_designs(study.best_trials)


def hypervolume(values: np.ndarray, directions: Sequence[str], reference_point: Sequence[float]) -> float:
    """Hypervolume dominated by ``values`` (n x m) up to ``reference_point``, in objective units.

    Points that do not strictly dominate the reference point contribute nothing.
    """
    values = np.asarray(values, dtype=float).reshape(-1, len(directions))
    loss = _as_losses(values, directions)
    ref = _as_losses(np.asarray(reference_point, dtype=float)[None, :], directions)[0]
    loss = loss[(loss < ref).all(1)]
    return float(compute_hypervolume(loss, ref)) if len(loss) else 0.0


def front_hypervolume(front: Sequence[FrozenTrial], directions: Sequence[str],
                      reference_point: Sequence[float]) -> float:
    """Hypervolume of the values of ``front`` (trials with values)."""
    return hypervolume(np.array([t.values for t in front]), directions, reference_point) if front else 0.0


class FrontTracker:
    """The front of a growing set of trials, folded in as they finish (each fold costs a comparison
    with the front, not with every trial): the front of (front of A) + B is the front of A + B.

    Example:
        >>> tracker = FrontTracker(["maximize", "minimize"], [0.0, 1.0])
        >>> changed = tracker.fold(study.get_trials())  # doctest: +SKIP
    """

    def __init__(self, directions: Sequence[str], reference_point: Sequence[float] | None = None) -> None:
        self.directions = list(directions)
        self.reference_point = None if reference_point is None else list(reference_point)
        self.front: list[FrozenTrial] = []
        self.seen: set[int] = set()
        self.hypervolume = 0.0

    def fold(self, trials: Iterable[FrozenTrial]) -> bool:
        """Fold in the finished trials not seen before; True when the front changed."""
        fresh = [t for t in trials if t.state.is_finished() and t.number not in self.seen]
        self.seen.update(t.number for t in fresh)
        before = {t.number for t in self.front}
        self.front = pareto_trials([*self.front, *fresh], self.directions)
        changed = {t.number for t in self.front} != before
        if changed and self.reference_point is not None:
            self.hypervolume = front_hypervolume(self.front, self.directions, self.reference_point)
        return changed

    @property
    def numbers(self) -> set[int]:
        """Trial numbers on the front."""
        return {t.number for t in self.front}


def hypervolume_history(trials: Iterable[FrozenTrial], directions: Sequence[str],
                        reference_point: Sequence[float]) -> list[tuple[int, float]]:
    """(trial number, hypervolume of the feasible front so far) after each finished trial."""
    tracker = FrontTracker(directions, reference_point)
    out = []
    for t in sorted(trials, key=lambda t: t.number):
        if t.state.is_finished():
            tracker.fold([t])
            out.append((t.number, tracker.hypervolume))
    return out
