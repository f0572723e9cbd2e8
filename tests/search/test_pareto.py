"""Pareto set and hypervolume: feasible trials only, hand-computed volumes."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.search.pareto import (
    hypervolume,
    hypervolume_history,
    hypervolume_with,
    non_dominated_mask,
    pareto_trials,
)

MINMIN = ["minimize", "minimize"]


def _study(points, feasible):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=MINMIN)
    for values, ok in zip(points, feasible):
        trial = study.ask()
        trial.set_constraint("c", -1.0 if ok else 1.0)
        study.tell(trial, values)
    return study


def test_hypervolume_of_a_staircase_is_the_sum_of_its_rectangles() -> None:
    pts = np.array([[1, 5], [2, 2], [5, 1], [3, 3]])
    assert hypervolume(pts, MINMIN, [6, 6]) == pytest.approx(5 + 12 + 1)


def test_maximized_objectives_are_flipped() -> None:
    # accuracy (max) vs energy (min): (0.9, 2) against reference (0.5, 4) spans 0.4 x 2.
    assert hypervolume(np.array([[0.9, 2.0]]), ["maximize", "minimize"], [0.5, 4.0]) == pytest.approx(0.8)


def test_points_outside_the_reference_box_add_nothing() -> None:
    assert hypervolume(np.array([[7.0, 1.0]]), MINMIN, [6, 6]) == 0.0


def test_infeasible_trials_are_never_on_the_front() -> None:
    study = _study([[0, 0], [1, 1], [2, 0.5]], [False, True, True])
    assert [t.number for t in pareto_trials(study.trials, MINMIN)] == [1, 2]


def test_hypervolume_history_is_non_decreasing_and_ignores_infeasible() -> None:
    study = _study([[3, 3], [0, 0], [1, 1]], [True, False, True])
    hv = [v for _, v in hypervolume_history(study.trials, MINMIN, [4, 4])]
    assert hv == pytest.approx([1.0, 1.0, 9.0])


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


def test_hypervolume_with_adds_the_trial_being_told() -> None:
    study = _study([[3, 3], [0, 0]], [True, False])
    assert hypervolume_with(study.trials, None, MINMIN, [4, 4]) == pytest.approx(1.0)
    assert hypervolume_with(study.trials, [1, 1], MINMIN, [4, 4]) == pytest.approx(9.0)
