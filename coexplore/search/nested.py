"""Nested search (``hardware_search: sweep``): the sampler chooses the model side, the PPA model
solves the hardware exactly.

Only the model-side choices (PE type, bits) change accuracy, and one proxy fine-tune costs seconds
to minutes while the vectorized PPA model evaluates about a million layer-designs per second. So per
step: the study's sampler proposes a model-side choice; the proxy runs once (or hits its cache); the
PPA model evaluates every hardware design of the space for that PE type at once (or ``samples``
random grid points plus ``refine_rounds`` rounds of grid neighbours of their front, when the PE
type's grid exceeds ``max_points``); the designs on that choice's own Pareto front are recorded as
COMPLETE trials (``study.add_trial`` of :func:`coexplore.record.frozen_trial`, ``source="sweep"``)
with their full parameters, so samplers (and a later joint resume) learn from them. A choice
without a feasible design records its least-violating one, so samplers learn it is infeasible.

Budget: ``n_trials`` counts model-side choices swept (each costs at most one proxy evaluation),
over all workers; the search also stops once every model-side choice of an enumerable space is
swept. The sampler proposes on a model-side view of the study (an in-memory study holding every
recorded trial's model parameters and values): a proposal already swept is replaced by an unswept
choice drawn at random, since its hardware is already solved.

MLflow: a recorded trial carries ``extra["sweep_front"]`` (on the study's front when recorded), and
observers are told of those trials only; the rest stay in the storage and the export.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.trial import TrialState

from coexplore.hardware.design import DesignBatch
from coexplore.record import compute_metrics, frozen_trial, read_record
from coexplore.record.front import hypervolume, non_dominated_mask, study_front
from coexplore.search.evaluate import PPA_TOTALS
from coexplore.search.observers import ObserverGroup
from coexplore.search.study import BUDGET_ATTR, StudyError

if TYPE_CHECKING:
    from coexplore.record import TrialRecord
    from coexplore.search.evaluate import TrialEvaluator
    from coexplore.search.observers import StudyObserver
    from coexplore.search.study_config import SweepSettings

SOURCE_SWEEP = "sweep"
"""``TrialRecord.source`` of trials recorded by a hardware sweep."""


@dataclass
class SweepResult:
    """One model-side choice solved: the designs to record, PPA evaluations spent."""
    records: list[tuple[dict[str, Any], TrialRecord]]
    ppa_evaluations: int
    proxy_cache_hit: bool


def choice_key(params: dict[str, Any]) -> str:
    """A stable identity of a model-side choice from its (canonical) parameters."""
    return json.dumps(params, sort_keys=True, default=str)


class HardwareSweep:
    """Solves the hardware of one model-side choice with the vectorized PPA model.

    Args:
        evaluator: the study's trial evaluator (proxy, PPA model, workload, record path).
        settings: grid limit, samples and refinement rounds.
        seed: seed of the random grid points (large grids only).
    """

    def __init__(self, evaluator: TrialEvaluator, settings: SweepSettings, seed: int = 0) -> None:
        self.ev = evaluator
        self.space = evaluator.space
        self.s = settings
        self.rng = np.random.default_rng(seed)
        self.names = list(self.space.hardware)
        self.values = [self.space.hardware[n].grid_values() for n in self.names]
        self.shape = tuple(len(v) for v in self.values)
        self.size = int(np.prod(self.shape)) if self.shape else 1
        self._batches: dict[str, DesignBatch] = {}

    def _hw(self, flat: np.ndarray) -> list[dict[str, Any]]:
        idx = np.unravel_index(flat, self.shape) if self.shape else ()
        return [{**self.space.fixed, **{n: self.values[a][idx[a][i]] for a, n in enumerate(self.names)}}
                for i in range(len(flat))]

    def _measure(self, flat: np.ndarray, pe: str, wl: np.ndarray, al: np.ndarray,
                 acc: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """(objective values n x m, total constraint violation n; 0 = feasible) of grid points."""
        whole = len(flat) == self.size
        batch = self._batches.get(pe) if whole else None
        if batch is None:
            rows = [{"pe_type": pe, **{n: h[n] for n in self.names}} for h in self._hw(flat)]
            batch = DesignBatch.from_columns(self.space._columns(rows))
            if whole:
                self._batches[pe] = batch
        res = self.ev.ppa_evaluate(batch, self.ev.workload, weight_bits=wl, act_bits=al)
        n = len(flat)
        raw = {k: np.asarray(getattr(res, k), dtype=float) for k in PPA_TOTALS}
        raw.update(accuracy=np.full(n, acc[0]), baseline_accuracy=np.full(n, acc[1]))
        m = compute_metrics(raw)
        obj = self.ev.objectives
        vals = np.stack([np.where(np.isfinite(np.asarray(m[k], dtype=float)), m[k], r)
                         for k, r in zip(obj.names, obj.reference)], axis=1)
        viol = np.where(np.asarray(res.feasible, dtype=bool), 0.0, 1.0)
        for c in obj.parsed_constraints():
            v = np.asarray(m[c.metric], dtype=float) if c.metric in m else np.full(n, np.nan)
            d = (v - c.bound) if c.op == "<=" else (c.bound - v)
            d = np.where(np.isfinite(d), d / (abs(c.bound) or 1.0), 1.0)
            viol += np.maximum(d, 0.0)
        return vals, viol

    def _front(self, flat: np.ndarray, vals: np.ndarray, viol: np.ndarray) -> np.ndarray:
        """Grid points on the front of the feasible ones (distinct values); the least violating
        point when none is feasible."""
        ok = np.flatnonzero(viol <= 0)
        if not len(ok):
            return flat[[int(np.argmin(viol))]]
        _, first = np.unique(vals[ok], axis=0, return_index=True)
        ok = ok[first]
        return flat[ok[non_dominated_mask(vals[ok], self.ev.objectives.directions)]]

    def grid_points(self) -> np.ndarray:
        """The flat grid indices a sweep starts from: all, or ``samples`` random ones."""
        if self.size <= self.s.max_points:
            return np.arange(self.size)
        return np.unique(self.rng.integers(0, self.size, self.s.samples))

    def _neighbours(self, flat: np.ndarray) -> np.ndarray:
        idx = np.stack(np.unravel_index(flat, self.shape), axis=1)
        out = []
        for a in range(len(self.shape)):
            for step in (-1, 1):
                nb = idx.copy()
                nb[:, a] += step
                nb = nb[(nb[:, a] >= 0) & (nb[:, a] < self.shape[a])]
                out.append(np.ravel_multi_index(tuple(nb.T), self.shape))
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def solve(self, params: dict[str, Any], choice: Any, extra: dict[str, Any] | None = None) -> SweepResult:
        """Ask the proxy once, sweep the hardware, and build the record of each front design."""
        t0 = time.perf_counter()
        proxy_result = self.ev.proxy.evaluate(self.ev.plan(choice))
        proxy_s = time.perf_counter() - t0
        wl, al = self.ev._layer_bits(self.ev.plan(choice))
        acc = (float(proxy_result.accuracy), float(proxy_result.baseline_accuracy))
        flat = self.grid_points()
        vals, viol = self._measure(flat, choice.pe_type, wl, al, acc)
        for _ in range(self.s.refine_rounds if self.size > self.s.max_points else 0):
            new = np.setdiff1d(self._neighbours(self._front(flat, vals, viol)), flat)
            if not len(new):
                break
            v2, c2 = self._measure(new, choice.pe_type, wl, al, acc)
            flat, vals, viol = np.concatenate([flat, new]), np.concatenate([vals, v2]), np.concatenate([viol, c2])
        front = self._front(flat, vals, viol)
        out = []
        for i, hw in enumerate(self._hw(front)):
            rec = self.ev.record(hw, choice, proxy_result, proxy_seconds=proxy_s if i == 0 else 0.0,
                                 cache_hit=bool(proxy_result.cache_hit) if i == 0 else True, source=SOURCE_SWEEP,
                                 extra={**(extra or {}), "ppa_evaluations": len(flat) if i == 0 else 0})
            out.append(({**params, **{n: hw[n] for n in self.names}}, rec))
        return SweepResult(out, len(flat), bool(proxy_result.cache_hit))


class BoundOrder:
    """Ranks unswept model-side choices by the hypervolume their hardware front would add to the
    study's front at the best accuracy seen so far (at least the FP32 baseline): accuracy is the only
    unknown, so this is what sweeping the choice could gain at most, up to proxy noise. The nested
    loop sweeps the largest gain first and stops once no unswept choice can add anything.

    Args:
        sweeper: the sweep (its PPA evaluations of each choice's grid, done once per choice).
        everything: every model-side choice as canonical parameters.
    """

    def __init__(self, sweeper: HardwareSweep, everything: list[dict[str, Any]]) -> None:
        self.sw = sweeper
        self.params = {choice_key(p): p for p in everything}
        self.fronts: dict[str, tuple[np.ndarray, Any]] = {}
        self._values: dict[tuple, np.ndarray] = {}
        self.ppa_evaluations = 0

    def _optimistic(self, key: str, acc: tuple[float, float]) -> np.ndarray:
        """Feasible objective values of ``key``'s hardware front at accuracy ``acc``."""
        ev, layers = self.sw.ev, self.sw.ev.layer_names
        if key not in self.fronts:
            choice = self.sw.space.model_choice(self.params[key], layers)
            bits = self.sw.ev._layer_bits(ev.plan(choice))
            flat = self.sw.grid_points()
            vals, viol = self.sw._measure(flat, choice.pe_type, *bits, acc)
            self.ppa_evaluations += len(flat)
            self.fronts[key] = (self.sw._front(flat, vals, viol), (choice.pe_type, *bits))
        if (key, acc) not in self._values:  # re-measured only when the best accuracy seen moves
            flat, (pe, wl, al) = self.fronts[key]
            vals, viol = self.sw._measure(flat, pe, wl, al, acc)
            self._values[(key, acc)] = vals[viol <= 0]
        return self._values[(key, acc)]

    def _bits(self, key: str) -> int:
        w, a = self.sw.ev.plan(self.sw.space.model_choice(self.params[key], self.sw.ev.layer_names)).resolve(
            self.sw.ev.layer_names)
        return sum(w) + sum(a)

    def pick(self, study: optuna.Study, unswept: list[str]) -> tuple[str | None, float]:
        """(the unswept choice of largest optimistic gain, that gain); the most precise one (gain
        inf) before any accuracy is known; (None, 0) when none can gain."""
        recs = [r for r in (read_record(t) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
                if r is not None and "accuracy" in r.metrics]
        if not recs:  # nothing known yet: the most precise choice, the accuracy anchor of the front
            return max(unswept, key=self._bits), float("inf")
        base = max(r.metrics.get("baseline_accuracy", 0.0) for r in recs)
        acc = (max(base, max(r.metrics["accuracy"] for r in recs)), base)
        obj = self.sw.ev.objectives
        front = np.array([t.values for t in study_front(study)], dtype=float).reshape(-1, len(obj.names))
        hv0 = hypervolume(front, obj.directions, obj.reference)
        best: tuple[str | None, float] = (None, 0.0)  # (None, 0): nothing left can improve the front
        for key in unswept:
            vals = self._optimistic(key, acc)
            gain = hypervolume(np.concatenate([front, vals]), obj.directions, obj.reference) - hv0 if len(vals) else 0.0
            if gain > best[1] * (1 + 1e-9):
                best = (key, gain)
        return best


def swept_choices(trials: Iterable[optuna.trial.FrozenTrial]) -> dict[str, list[optuna.trial.FrozenTrial]]:
    """Model-side choice key -> the sweep trials recorded for it."""
    out: dict[str, list] = {}
    for t in trials:
        rec = read_record(t) if t.state == TrialState.COMPLETE else None
        if rec is not None and rec.source == SOURCE_SWEEP and "model_choice" in rec.extra:
            out.setdefault(rec.extra["model_choice"], []).append(t)
    return out


@dataclass
class NestedStats:
    """What one process did in nested mode."""

    choices_swept: int = 0
    proxy_evaluations: int = 0
    ppa_evaluations: int = 0
    trials_recorded: int = 0
    front_final: bool = False

    def lines(self) -> list[str]:
        out = [(f"nested search (hardware_search: sweep): {self.choices_swept} model-side choices swept,"
                f" {self.proxy_evaluations} proxy evaluations, {self.ppa_evaluations} PPA design evaluations,"
                f" {self.trials_recorded} trials recorded (each choice's hardware front)")]
        if self.front_final:
            out.append("stopped early: no unswept model-side choice can add to the front, even at the best accuracy seen")
        return out


def run_nested(study: optuna.Study, evaluator: TrialEvaluator, budget: int, settings: SweepSettings, *,
               seed: int = 0, observers: Iterable[StudyObserver] | ObserverGroup = (),
               max_consecutive_failures: int = 10,
               on_choice: Callable[[NestedStats], None] | None = None) -> NestedStats:
    """Sweep model-side choices proposed by ``study.sampler`` until ``budget`` choices are swept.

    Args:
        study: the study (its sampler proposes; its storage receives the trials).
        evaluator: the study's :class:`~coexplore.search.evaluate.TrialEvaluator`.
        budget: model-side choices to sweep over all workers (``study.user_attrs["n_trials"]`` wins).
        settings: how one choice's hardware is solved.
        seed: seed of the replacement draws and of the random grid points.
        observers: told of study start/end and of each recorded trial on the study's front.
        max_consecutive_failures: raise :class:`StudyError` after this many failed sweeps in a row.
        on_choice: called with the running totals after each choice is recorded (progress, benchmarks).
    """
    obs = observers if isinstance(observers, ObserverGroup) else ObserverGroup(observers)
    space, layers = evaluator.space, evaluator.layer_names
    dists = {**space.model_distributions(layers), **space.hardware_distributions()}
    model_dists = space.model_distributions(layers)
    everything = space.model_params(layers)
    rng = np.random.default_rng(seed)
    sweeper = HardwareSweep(evaluator, settings, seed)
    bound = BoundOrder(sweeper, everything) if settings.order == "bound" and everything is not None else None
    bound_ppa = 0
    view = optuna.create_study(directions=study.directions, sampler=study.sampler)
    seen: set[int] = set()
    stats, errors, failed = NestedStats(), [], set()
    obs.on_study_start(study)
    interrupted = False
    try:
        while True:
            trials = study.get_trials(deepcopy=False)
            swept = swept_choices(trials)
            budget = int(study.user_attrs.get(BUDGET_ATTR, budget))
            left = None if everything is None else [p for p in everything
                                                    if choice_key(p) not in swept and choice_key(p) not in failed]
            if len(swept) >= budget or left == []:
                break
            key, gain = bound.pick(study, [choice_key(p) for p in left]) if bound else (None, 1.0)
            if gain <= 0:
                stats.front_final = True
                break  # no unswept choice can add to the front, even at the best accuracy seen
            if key is not None:
                params = bound.params[key]
            else:
                params = _propose(view, space, layers, _view_trials(trials, swept, seen, model_dists), model_dists)
                key = choice_key(params)
                if key in swept or key in failed:
                    if not left:
                        break  # a repeat in a space too large to enumerate: nothing new to ask for
                    params = left[int(rng.integers(len(left)))]
                    key = choice_key(params)
            result = _sweep(sweeper, params, key, errors, failed, max_consecutive_failures)
            if bound is not None:
                stats.ppa_evaluations += bound.ppa_evaluations - bound_ppa
                bound_ppa = bound.ppa_evaluations
            if result is not None:
                _count(stats, result)
                _record(study, result, dists, obs, stats)
                if on_choice is not None:
                    on_choice(stats)
    except KeyboardInterrupt:
        interrupted = True
        obs.on_interrupt(study)
        raise
    finally:
        if not interrupted:
            obs.on_study_end(study)
    return stats


def _propose(view: optuna.Study, space: Any, layers: list[str], new: list, model_dists: dict[str, Any]) -> dict:
    """The sampler's proposal on the model-side view, after adding the ``new`` trials to it."""
    for t in new:
        view.add_trial(optuna.trial.create_trial(params={k: t.params[k] for k in model_dists},
                                                 distributions=model_dists, values=t.values, constraints=t.constraints))
    proposal = view.ask()
    params, _ = space.suggest_model(proposal, layers)
    view.tell(proposal, state=TrialState.FAIL)  # its outcome reaches the view as recorded trials
    return space.canonical_params(params)


def _sweep(sweeper: HardwareSweep, params: dict[str, Any], key: str, errors: list[str], failed: set[str],
           limit: int) -> SweepResult | None:
    """Solve one choice; a failing choice fails alone (None), ``limit`` failures in a row stop the study."""
    try:
        result = sweeper.solve(params, sweeper.space.model_choice(params, sweeper.ev.layer_names),
                               {"model_choice": key})
    except Exception as exc:  # a failing choice fails alone, like a failed trial
        failed.add(key)
        errors.append(f"{type(exc).__name__}: {exc}")
        if len(errors) >= limit:
            raise StudyError(f"{len(errors)} sweeps failed in a row; stopping. Last error: {errors[-1]}") from exc
        return None
    errors.clear()
    return result


def _count(stats: NestedStats, result: SweepResult) -> None:
    stats.choices_swept += 1
    stats.proxy_evaluations += int(not result.proxy_cache_hit)
    stats.ppa_evaluations += result.ppa_evaluations


def _view_trials(trials: list, swept: dict[str, list], seen: set, names: Iterable[str]) -> list:
    """Trials new to the sampler's model-side view: per swept choice its extreme trials per objective
    (a few points say what the choice reaches and keep model-based samplers cheap), and every joint
    trial. ``seen`` (trial numbers and choice keys already in the view) is updated."""
    out = []
    for key, ts in swept.items():
        if key not in seen:
            seen.add(key)
            ok = [t for t in ts if all(v <= 0 for v in t.constraints.values())] or ts
            vals = np.array([t.values for t in ok], dtype=float)
            pick = {ok[int(i)].number for i in (*vals.argmin(0), *vals.argmax(0))}
            out += [t for t in ok if t.number in pick]
    for t in trials:
        rec = read_record(t) if t.state == TrialState.COMPLETE and t.number not in seen else None
        if rec is not None and rec.source != SOURCE_SWEEP and all(k in t.params for k in names):
            seen.add(t.number)
            out.append(t)
    return out


def _record(study: optuna.Study, result: SweepResult, dists: dict[str, Any], obs: ObserverGroup,
            stats: NestedStats) -> None:
    """Add a choice's front designs as COMPLETE trials; tell observers of those on the study's front."""
    front_vals = [t.values for t in study_front(study)]
    recs = [r for _, r in result.records]
    cand = np.array(front_vals + [r.values for r in recs if r.feasible], dtype=float).reshape(-1, len(study.directions))
    flags = iter(non_dominated_mask(cand, [d.name.lower() for d in study.directions])[len(front_vals):].tolist())
    before = len(study.get_trials(deepcopy=False))
    for params, rec in result.records:
        rec.extra["sweep_front"] = bool(next(flags)) if rec.feasible else False
        study.add_trial(frozen_trial(rec, params, {k: dists[k] for k in params}))
    stats.trials_recorded += len(result.records)
    for t in study.get_trials(deepcopy=False)[before:]:
        rec = read_record(t)
        if rec is not None and rec.source == SOURCE_SWEEP and rec.extra.get("sweep_front"):
            obs.on_trial_end(study, t)
