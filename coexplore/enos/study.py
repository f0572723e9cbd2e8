"""ENOS inside a study: search assignments by gradient, then evaluate each as a trial of the SAME study.

For each energy weight lambda, :func:`enos_study_search` runs the differentiable search
(:func:`~coexplore.enos.search.enos_search`) on the study's model and data, with the energy table
of one hybrid design taken from the study's space (:func:`reference_hardware`), and enqueues the
assignment it ends with, plus that design's parameters, as a trial of the study. The trial is then
evaluated by the study's own evaluator (:class:`~coexplore.enos.evaluator.HybridTrialEvaluator`):
the hybrid cost model and the assignment's proxy fine-tune (cached in the study storage), with the
same metrics and user_attrs as every other trial. So ENOS's points compete on the study's Pareto
front and are in the history that the study's Bayesian sampler models when it resumes. An
assignment the study already holds with the same hardware is not evaluated twice.

Example:
    >>> from coexplore.search.study_config import load_study
    >>> cfg = load_study("studies/enos-digits.yaml")
    >>> results = enos_study_search(cfg, "sqlite:///runs.db", [0.0, 1.0])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from coexplore.accuracy import torch_settings
from coexplore.cim.macro import CimMacro
from coexplore.enos.evaluator import ENOS_FACTS_ATTR, HybridTrialEvaluator, hybrid_evaluator
from coexplore.enos.runner import EnosRunner
from coexplore.enos.search import EnosConfig, enos_search
from coexplore.hardware.design import DesignPoint
from coexplore.search.driver import ensure_study
from coexplore.search.enqueued import find_trial, run_enqueued
from coexplore.search.observers import ObserverGroup, StudyObserver
from coexplore.search.operators import CIM_PARAM

if TYPE_CHECKING:
    from coexplore.search.space import SearchSpace
    from coexplore.search.study_config import StudyConfig


class EnosStudyError(RuntimeError):
    """ENOS cannot run on this study (the message says why and what to change)."""


@dataclass
class EnosTrialResult:
    """One lambda of the sweep: the searched assignment and the study trial that holds its evaluation.

    ``duplicate`` is True when the study already held that trial (it was not evaluated again).
    """

    energy_weight: float
    mode: str
    assignment: list[str]
    expected_energy_j: float
    trial: optuna.trial.FrozenTrial
    duplicate: bool = False


def _middle(values: list[Any]) -> Any:
    return values[(len(values) - 1) // 2]


def reference_hardware(space: SearchSpace) -> dict[str, Any]:
    """The hardware ENOS searches on: each searched axis at the middle of its grid (trial params).

    Hardware axes are named as in the space, CIM axes ``cim.<field>``; fixed values are not params.
    """
    params = {name: _middle(p.grid_values()) for name, p in space.hardware.items()}
    params.update({f"{CIM_PARAM}{name}": _middle(p.grid_values()) for name, p in space.cim.items()})
    return params


def _design(space: SearchSpace, params: dict[str, Any]) -> tuple[DesignPoint, CimMacro]:
    hw = {**space.fixed, **{k: v for k, v in params.items() if k in space.hardware}}
    cim = {**space.cim_fixed, **{k[len(CIM_PARAM):]: v for k, v in params.items() if k.startswith(CIM_PARAM)}}
    return DesignPoint(**hw), CimMacro(**cim)


def enos_study_search(
    cfg: StudyConfig,
    storage_url: str,
    energy_weights: Sequence[float],
    *,
    mode: str = "bilevel",
    steps: int = 150,
    evaluator: HybridTrialEvaluator | None = None,
    observers: Iterable[StudyObserver] = (),
    on_result: Callable[[EnosTrialResult], None] | None = None,
) -> list[EnosTrialResult]:
    """Run an ENOS lambda sweep on a hybrid study and record every assignment as a trial of it.

    Args:
        cfg: a resolved study whose space has an ``operators`` section.
        storage_url: the study storage (created with the study when absent).
        energy_weights: the lambdas of the sweep, one search each.
        mode: ``single`` or ``bilevel`` (:class:`~coexplore.enos.EnosConfig`).
        steps: search steps per lambda (the first fifth, at most 30, train the weights only).
        evaluator: the study's hybrid evaluator (default: built on the study's proxy).
        observers: told of every trial recorded (e.g. MLflow), as in a study run.
        on_result: called after each lambda (progress output).

    Raises:
        EnosStudyError: the study's space has no ``operators`` section.
    """
    space = cfg.space
    if not space.hybrid:
        raise EnosStudyError(f"study {cfg.name}: its space has no operators section; ENOS searches per-layer "
                             "operator choices (see spaces/enos.yaml)")
    study = ensure_study(cfg, storage_url, sampler=optuna.samplers.RandomSampler(seed=cfg.seed))
    if evaluator is None:
        evaluator = hybrid_evaluator(cfg, storage_url)
    hw_params = reference_hardware(space)
    design, macro = _design(space, hw_params)
    runner = EnosRunner(evaluator.proxy, design, macro, choices=space.operators.choices, bits=space.operators.bits)
    evaluator.runner = runner
    group = ObserverGroup(observers)
    group.on_study_start(study)
    results: list[EnosTrialResult] = []
    threads = int(getattr(evaluator.proxy, "threads", 1) or 1)
    try:
        for lam in energy_weights:
            config = EnosConfig(energy_weight=float(lam), mode=mode, steps=steps, warmup_steps=min(30, steps // 5),
                                lr=runner.lr, batch_size=runner.batch_size, seed=runner.seed,
                                regularization_weight=runner.regularization_weight)
            with torch_settings(threads):
                found = enos_search(runner.supernet(), runner.data.train_x, runner.data.train_y, runner.table.energy_j,
                                    config, num_classes=runner.data.num_classes)
            params = {**hw_params, **space.operators.params_for(found.assignment, runner.layer_names)}
            trial, duplicate = find_trial(study, params), True
            if trial is None or trial.state != TrialState.COMPLETE:
                facts = {"enos_energy_weight": float(lam), "enos_mode": mode,
                         "enos_expected_energy_j": float(found.expected_energy_j)}
                trial = run_enqueued(study, evaluator, params, ENOS_FACTS_ATTR, facts, group, error=EnosStudyError)
                duplicate = False
            decided = {layer: params[p] for p, layers in space.operators.param_names(runner.layer_names).items()
                       for layer in layers}
            assignment = [decided[layer] for layer in runner.layer_names]
            res = EnosTrialResult(float(lam), mode, assignment, float(found.expected_energy_j), trial, duplicate)
            results.append(res)
            if on_result is not None:
                on_result(res)
    finally:
        group.on_study_end(study)
    return results
