"""The front: feasibility from Optuna constraints, one entry per design, hand-computed hypervolumes."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import FloatDistribution

from coexplore.record import TrialRecord, frozen_trial
from coexplore.record.front import (
    FrontTracker,
    front_hypervolume,
    hypervolume,
    hypervolume_history,
    is_feasible,
    non_dominated_mask,
    pareto_trials,
    study_front,
)

MINMIN = ["minimize", "minimize"]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(points, feasible):
    study = optuna.create_study(directions=MINMIN)
    for values, ok in zip(points, feasible):
        trial = study.ask()
        trial.set_constraint("c", -1.0 if ok else 1.0)
        study.tell(trial, values)
    return study


def _add_design(study, values, x, feasible=True):
    """A trial holding a record of design ``x`` (its ``effective`` parameters)."""
    rec = TrialRecord(values=list(values), metrics={}, constraints={"feasible": 0.0 if feasible else 1.0},
                      effective={"x": x})
    study.add_trial(frozen_trial(rec, {"x": x}, {"x": FloatDistribution(0, 10)}))


def test_hypervolume_of_a_staircase_is_the_sum_of_its_rectangles() -> None:
    pts = np.array([[1, 5], [2, 2], [5, 1], [3, 3]])
    assert hypervolume(pts, MINMIN, [6, 6]) == pytest.approx(5 + 12 + 1)


def test_maximized_objectives_are_flipped() -> None:
    # accuracy (max) vs energy (min): (0.9, 2) against reference (0.5, 4) spans 0.4 x 2.
    assert hypervolume(np.array([[0.9, 2.0]]), ["maximize", "minimize"], [0.5, 4.0]) == pytest.approx(0.8)


def test_points_outside_the_reference_box_add_nothing() -> None:
    assert hypervolume(np.array([[7.0, 1.0]]), MINMIN, [6, 6]) == 0.0
    assert hypervolume(np.zeros((0, 2)), MINMIN, [6, 6]) == 0.0


def test_a_trial_is_feasible_only_when_every_constraint_is_at_most_zero() -> None:
    study = optuna.create_study(directions=MINMIN)
    for cons in ({"a": 0.0, "b": -2.0}, {"a": 0.0, "b": 1e-9}, {}):
        trial = study.ask()
        for name, value in cons.items():
            trial.set_constraint(name, value)
        study.tell(trial, [1.0, 1.0])
    assert [is_feasible(t) for t in study.trials] == [True, False, True]


def test_infeasible_trials_are_never_on_the_front() -> None:
    study = _study([[0, 0], [1, 1], [2, 0.5]], [False, True, True])
    assert [t.number for t in pareto_trials(study.trials, MINMIN)] == [1, 2]


def test_failed_and_pruned_trials_are_never_on_the_front() -> None:
    study = _study([[3, 3]], [True])
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    study.tell(study.ask(), state=optuna.trial.TrialState.PRUNED)
    assert [t.number for t in pareto_trials(study.trials, MINMIN)] == [0]


def test_two_trials_of_the_same_design_are_one_front_entry_the_earlier() -> None:
    study = optuna.create_study(directions=MINMIN)
    _add_design(study, [1, 1], x=2.0)
    _add_design(study, [1, 1], x=2.0)  # the same design evaluated again (another worker, ENOS)
    _add_design(study, [1, 1], x=3.0)  # a different design with the same values
    assert [t.number for t in pareto_trials(study.trials, MINMIN)] == [0, 2]
    assert [t.number for t in study_front(study)] == [0, 2]


def test_study_front_honours_constraints_set_by_the_record() -> None:
    study = optuna.create_study(directions=MINMIN)
    _add_design(study, [0, 0], x=1.0, feasible=False)  # dominates everything, but infeasible
    _add_design(study, [1, 2], x=2.0)
    _add_design(study, [2, 1], x=3.0)
    _add_design(study, [3, 3], x=4.0)
    assert [t.number for t in study_front(study)] == [1, 2]
    assert [t.number for t in pareto_trials(study.trials, MINMIN)] == [1, 2]


def test_hypervolume_history_is_non_decreasing_and_ignores_infeasible() -> None:
    study = _study([[3, 3], [0, 0], [1, 1]], [True, False, True])
    hv = [v for _, v in hypervolume_history(study.trials, MINMIN, [4, 4])]
    assert hv == pytest.approx([1.0, 1.0, 9.0])


def test_front_tracker_says_when_the_front_changed_and_keeps_its_hypervolume() -> None:
    study = _study([[3, 3], [0, 0], [1, 1], [2, 2]], [True, False, True, True])
    tracker = FrontTracker(MINMIN, [4, 4])
    changed = [tracker.fold([t]) for t in study.trials]
    assert changed == [True, False, True, False]
    assert tracker.numbers == {2} and tracker.hypervolume == pytest.approx(9.0)
    assert tracker.fold(study.trials) is False, "trials already folded in are not counted twice"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10)), min_size=1, max_size=30))
def test_front_points_are_mutually_non_dominated_and_dominate_the_rest(points) -> None:
    v = np.array(points)
    mask = non_dominated_mask(v, MINMIN)
    front = v[mask]
    assert mask.any()
    for p in v[~mask]:
        assert any((f <= p).all() and (f < p).any() for f in front)
    for a in front:
        assert not any((b <= a).all() and (b < a).any() for b in front)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.floats(0, 5), st.booleans()), min_size=1, max_size=15))
def test_hypervolume_history_equals_the_volume_recomputed_from_scratch(rows) -> None:
    study = _study([r[:2] for r in rows], [r[2] for r in rows])
    history = hypervolume_history(study.trials, MINMIN, [6, 6])
    for number, hv in history:
        so_far = [r[:2] for r in rows[: number + 1] if r[2]]
        expected = hypervolume(np.array(so_far), MINMIN, [6, 6]) if so_far else 0.0
        assert hv == pytest.approx(expected)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.floats(0, 5), st.booleans()), min_size=1, max_size=15),
       st.integers(1, 5))
def test_folding_in_batches_gives_the_front_of_all_trials(rows, batch) -> None:
    study = _study([r[:2] for r in rows], [r[2] for r in rows])
    tracker = FrontTracker(MINMIN, [6, 6])
    for i in range(0, len(study.trials), batch):
        tracker.fold(study.trials[i:i + batch])
    expected = pareto_trials(study.trials, MINMIN)
    assert tracker.numbers == {t.number for t in expected}
    assert tracker.hypervolume == pytest.approx(front_hypervolume(expected, MINMIN, [6, 6]))
