"""Pareto set and hypervolume of a multi-objective study, over feasible trials only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume
from optuna.trial import FrozenTrial, TrialState


def is_feasible(trial: FrozenTrial) -> bool:
    """A trial is feasible when the PPA model found it feasible and every constraint is <= 0."""
    if trial.user_attrs.get("feasible") is False:
        return False
    named = trial.constraints  # Optuna 5: Trial.set_constraint(name, value)
    legacy = trial.system_attrs.get("constraints") or []  # constraints_func samplers
    return all(c <= 0.0 for c in [*named.values(), *legacy])


def _as_losses(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Flip maximized objectives so that every column is minimized.  ``values``: n x m."""
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return values * sign


def non_dominated_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask (n) of the rows of ``values`` (n x m) that no other row dominates."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    loss = _as_losses(np.asarray(values, dtype=float), directions)
    le = (loss[:, None, :] <= loss[None, :, :]).all(-1)
    lt = (loss[:, None, :] < loss[None, :, :]).any(-1)
    dominated = (le & lt).any(0)
    return ~dominated


def completed_feasible(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Complete trials with values that are feasible."""
    return [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None and is_feasible(t)]


def pareto_trials(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    """Feasible complete trials on the Pareto front, in trial-number order."""
    ok = completed_feasible(trials)
    if not ok:
        return []
    mask = non_dominated_mask(np.array([t.values for t in ok]), directions)
    return [t for t, m in zip(ok, mask) if m]


def hypervolume(values: np.ndarray, directions: Sequence[str], reference_point: Sequence[float]) -> float:
    """Hypervolume dominated by ``values`` (n x m) up to ``reference_point`` (in objective units).

    Points that do not strictly dominate the reference point contribute nothing.
    """
    values = np.asarray(values, dtype=float).reshape(-1, len(directions))
    loss = _as_losses(values, directions)
    ref = _as_losses(np.asarray(reference_point, dtype=float)[None, :], directions)[0]
    loss = loss[(loss < ref).all(1)]
    if len(loss) == 0:
        return 0.0
    return float(compute_hypervolume(loss, ref))


def hypervolume_history(
    trials: Sequence[FrozenTrial], directions: Sequence[str], reference_point: Sequence[float]
) -> list[tuple[int, float]]:
    """(trial number, hypervolume of the feasible front so far) after each finished trial.

    Only the non-dominated points are kept, and the volume is recomputed only when a trial adds one.
    """
    out: list[tuple[int, float]] = []
    front = np.empty((0, len(directions)))
    hv = 0.0
    for t in sorted(trials, key=lambda t: t.number):
        if not t.state.is_finished():
            continue
        if t.state == TrialState.COMPLETE and t.values is not None and is_feasible(t):
            grown = np.vstack([front, np.asarray(t.values, dtype=float)[None, :]])
            mask = non_dominated_mask(grown, directions)
            if mask[-1]:  # the new point is on the front: the volume can only grow
                front = grown[mask]
                hv = hypervolume(front, directions, reference_point)
        out.append((t.number, hv))
    return out


def hypervolume_with(
    trials: Sequence[FrozenTrial], values: Sequence[float] | None,
    directions: Sequence[str], reference_point: Sequence[float],
) -> float:
    """Hypervolume of the feasible complete ``trials`` plus ``values`` (a trial being told; None: none).

    What the driver records on each trial as ``user_attrs["hypervolume"]``.
    """
    front = [t.values for t in completed_feasible(trials)]
    if values is not None:
        front.append(list(values))
    return hypervolume(np.array(front), directions, reference_point) if front else 0.0


def study_directions(study: optuna.Study) -> list[str]:
    """Directions as ``"minimize"``/``"maximize"`` strings."""
    return ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]
