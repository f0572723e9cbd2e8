"""Single-Path NAS inside a study: search architectures by gradient, record each as a trial of it.

For each cost weight lambda, :func:`nas_study_search` runs the differentiable threshold search
(:func:`coexplore.nas.threshold_search`) on the study's trained supernet and training data, with
the runtime term replaced by a cost table from the PPA model at the study's reference hardware
point (:func:`reference_params`: each hardware axis at the middle of its grid, the first PE type,
the widest bits). The architecture it ends with, plus that point's parameters, is enqueued as a
trial of the same study and evaluated by the study's own evaluator: the sub-network cut out of the
supernet, quantized and fine-tuned by the proxy (cached in the study storage), costed by the PPA
model, written by the one record path (source ``nas``). So NAS's architectures sit on the study's
Pareto front and are in the history the sampler models when the study resumes. An architecture the
study already holds at that point is not evaluated twice.

Example:
    >>> cfg = load_study("studies/nas-digits.yaml")  # doctest: +SKIP
    >>> results = nas_study_search(cfg, "sqlite:///runs.db", [0.0, 2.0])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from coexplore.hardware.design import DesignPoint
from coexplore.nas.settings import ARCH_CHOICE, PARAMS, block_names
from coexplore.record import SOURCE_NAS, write_record
from coexplore.search.configio import ConfigError
from coexplore.search.driver import ensure_study
from coexplore.search.enqueued import find_trial, run_enqueued
from coexplore.search.observers import ObserverGroup, StudyObserver

if TYPE_CHECKING:
    from coexplore.search.space import SearchSpace
    from coexplore.search.study_config import StudyConfig
    from coexplore.search.transformed import TransformTrialEvaluator

NAS_FACTS_ATTR = "nas"
"""User attribute of a trial enqueued by the NAS search: its facts (lambda, cost metric, relative cost)."""


class NasStudyError(RuntimeError):
    """The NAS search cannot run on this study (the message says why and what to change)."""


@dataclass
class NasTrialResult:
    """One lambda of the sweep: the architecture found and the study trial that holds its evaluation.

    ``duplicate`` is True when the study already held that trial (it was not evaluated again).
    """

    cost_weight: float
    architecture: str
    relative_cost: float
    search_seconds: float
    trial: optuna.trial.FrozenTrial
    duplicate: bool = False


def reference_params(space: SearchSpace, layer_names: list[str], pe_type: str | None = None) -> dict[str, Any]:
    """The trial parameters of the point the search costs on, architecture excluded: each hardware
    axis at the middle of its grid; ``pe_type`` (default the space's first), the widest bits, and
    the other transforms at their first choice (no pruning, ViP off)."""
    model = space.model
    params: dict[str, Any] = {name: p.grid_values()[(len(p.grid_values()) - 1) // 2] for name, p in space.hardware.items()}
    if pe_type is not None and pe_type not in model.pe_type:
        raise ConfigError([f"--pe-type: {pe_type!r} is not in the space's model.pe_type ({', '.join(model.pe_type)})"])
    for name, dist in space.model_distributions(layer_names).items():
        kind = name.split(".", 1)[0]
        if kind in PARAMS:
            continue
        if name == "pe_type":
            params[name] = pe_type or dist.choices[0]
        elif kind in ("weight_bits", "act_bits"):
            params[name] = max(dist.choices)
        else:
            params[name] = dist.choices[0]
    return space.canonical_params(params)


class _NasObjective:
    """The study's evaluator on one enqueued trial, its record marked as NAS's (source and facts)."""

    def __init__(self, evaluator: TransformTrialEvaluator) -> None:
        self.evaluator = evaluator

    def __call__(self, trial: optuna.Trial) -> list[float]:
        hw, choice = self.evaluator.space.suggest(trial, self.evaluator.layer_names)
        record = self.evaluator.evaluate(hw, choice)
        facts = trial.user_attrs.get(NAS_FACTS_ATTR)
        if facts:
            record = replace(record, source=SOURCE_NAS, extra={**record.extra, **facts})
        write_record(trial, record)
        return record.values


def nas_study_search(
    cfg: StudyConfig,
    storage_url: str,
    cost_weights: Sequence[float],
    *,
    steps: int = 200,
    metric: str = "energy",
    pe_type: str | None = None,
    evaluator: TransformTrialEvaluator | None = None,
    observers: Iterable[StudyObserver] = (),
    on_start: Callable[[str], None] | None = None,
    on_result: Callable[[NasTrialResult], None] | None = None,
) -> list[NasTrialResult]:
    """Run a Single-Path NAS lambda sweep on a study and record every architecture as a trial of it.

    Args:
        cfg: a resolved study whose space has ``model.architecture`` (its model a supernet).
        storage_url: the study storage (the study is created there when absent).
        cost_weights: the lambdas of the sweep, one search each.
        steps: search steps per lambda.
        metric: the cost table's metric, ``energy`` or ``latency``.
        pe_type: the reference point's PE type (default: the space's first).
        evaluator: the study's evaluator (default: built on the study's proxy).
        observers: told of every trial recorded (e.g. MLflow), as in a study run.
        on_start: called once the study and the cost table are ready, with a line saying what runs.
        on_result: called after each lambda (progress output).

    Raises:
        NasStudyError: the space has no ``model.architecture``, or the reference point cannot run the supernet.
        ConfigError: ``pe_type`` is not one of the space's.
    """
    from coexplore.accuracy import torch_settings
    from coexplore.nas import ThresholdConfig, cost_table, threshold_search
    from coexplore.nas.threshold import unit_indices
    from coexplore.search.evaluate import build_evaluator

    space = cfg.space
    axis = getattr(space.model, "architecture", None) if not space.hybrid else None
    if axis is None:
        raise NasStudyError(f"study {cfg.name}: its space has no model.architecture section; the NAS search "
                            "chooses kernel size and expansion ratio per block (see spaces/nas-digits.yaml)")
    if pe_type is not None:  # a bad option is refused before anything is built or created
        reference_params(space, [], pe_type)
    if evaluator is None:
        evaluator = build_evaluator(cfg, storage_url)
    proxy, names = evaluator.proxy, list(evaluator.layer_names)
    transform = evaluator.model_side.transforms[ARCH_CHOICE]
    ref = reference_params(space, names, pe_type)
    study = ensure_study(cfg, storage_url, sampler=optuna.samplers.RandomSampler(seed=cfg.seed))
    hw, choice = space.suggest(optuna.trial.FixedTrial(ref | _largest(axis, names, space.model.groups)), names)
    w, a = evaluator.plan(choice).resolve(names)
    try:
        table = cost_table(transform.skeleton, proxy.input_shape, DesignPoint(pe_type=choice.pe_type, **hw),
                           weight_bits=dict(zip(names, w)), act_bits=dict(zip(names, a)), metric=metric)
    except ValueError as exc:
        raise NasStudyError(f"study {cfg.name}: {exc}") from None
    blocks = block_names(names)
    units = unit_indices(axis.units(names, space.model.groups), blocks)
    skippable = tuple(blocks.index(b) for b in axis.skippable(blocks))
    if on_start is not None:
        on_start(f"Single-Path NAS on study {cfg.name}: {len(cost_weights)} searches x {steps} steps, "
                 f"cost {metric} at {', '.join(f'{k}={v}' for k, v in ref.items())}")
    group, objective = ObserverGroup(observers), _NasObjective(evaluator)
    group.on_study_start(study)
    results: list[NasTrialResult] = []
    cfg_proxy = proxy.config
    try:
        for lam in cost_weights:
            config = ThresholdConfig(cost_weight=float(lam), steps=steps, lr=cfg_proxy.lr, batch_size=cfg_proxy.batch_size,
                                     seed=cfg.seed, search_kernel=len(axis.kernel) > 1,
                                     search_expand=len(axis.expand) > 1, fixed_kernel=max(axis.kernel),
                                     fixed_expand=max(axis.expand), units=units, skippable=skippable)
            with torch_settings(proxy.threads):
                found = threshold_search(proxy.fp32_model().to(proxy.device), proxy.data.train_x.to(proxy.device),
                                         proxy.data.train_y.to(proxy.device), table, config)
            params = {**ref, **_arch_params(axis, found.choices, names, space.model.groups)}
            trial, duplicate = find_trial(study, params), True
            if trial is None or trial.state != TrialState.COMPLETE:
                facts = {"nas_cost_weight": float(lam), "nas_metric": table.metric,
                         "nas_relative_cost": round(found.relative_cost, 6), "nas_search_seconds": round(found.seconds, 2)}
                trial, duplicate = run_enqueued(study, objective, params, NAS_FACTS_ATTR, facts, group, error=NasStudyError), False
            res = NasTrialResult(float(lam), found.architecture, found.relative_cost, found.seconds, trial, duplicate)
            results.append(res)
            if on_result is not None:
                on_result(res)
    finally:
        group.on_study_end(study)
    return results


def _largest(axis: Any, names: list[str], groups: dict[str, list[str]]) -> dict[str, Any]:
    """Architecture parameters of the full path (largest kernel and ratio, nothing skipped)."""
    return {n: (False if n.startswith("skip") else max(choices)) for n, (choices, _) in axis.param_names(names, groups).items()}


def _arch_params(axis: Any, choices: Sequence[Any], names: list[str], groups: dict[str, list[str]]) -> dict[str, Any]:
    """The architecture's trial parameters (a unit's decision: its first block's; the search ties them)."""
    index = {b: i for i, b in enumerate(block_names(names))}
    out: dict[str, Any] = {}
    for name, (_, members) in axis.param_names(names, groups).items():
        c = choices[index[members[0]]]
        kind = name.split(".", 1)[0]
        out[name] = bool(c.skip) if kind == "skip" else int(c.kernel if kind == "kernel" else c.expand)
    return out
