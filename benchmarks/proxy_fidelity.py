"""Proxy fidelity: rank agreement between the brief fine-tune and the high-fidelity one.

Run: ``.venv/bin/python benchmarks/proxy_fidelity.py [--seeds 0 1 2] [--jobs 2] [--cache-dir D]``.

Two plan sets on the default model (digits CNN): ``fixed``, sixteen hand-picked plans spanning PE
types, bit widths and pinning; ``random``, plans drawn at random (Optuna's RandomSampler through
the search space's own ``suggest``, so per-layer bits included) from ``spaces/quickstart.yaml`` and
``spaces/quidam.yaml``, which nobody tuned the proxy on (frozen in ``RANDOM``; ``--redraw``
draws a fresh set). For every seed each plan gets the brief
proxy (``ProxyEvaluator.evaluate(plan)``, what a study runs); the reference is the high-fidelity
fine-tune (``fidelity="high"``: 1,200 steps per fold at 8 bits, 10x the issue-3 brief budget) at ``--reference-seed``, so seeds other than the
reference's are also judged against a model pretrained from another initialisation. Prints
Kendall tau-b and Spearman rho per seed and set, their mean and minimum, and the brief proxy's
cost per evaluation: fine-tune steps over all folds, and seconds as measured when each result was
computed (a result from ``--cache-dir`` keeps the seconds of its first run). ``--jobs`` worker processes share the result cache
(one torch thread each); ``--cache-dir`` keeps results between runs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table
from scipy.stats import kendalltau, spearmanr

from coexplore.accuracy import ProxyConfig, ProxyEvaluator
from coexplore.quant import QuantPlan

ROOT = Path(__file__).resolve().parents[1]

FIXED = {
    "int8": QuantPlan(pe_type="int8"),
    "int4": QuantPlan(pe_type="int4"),
    "int w3a3": QuantPlan(pe_type="int4", weight_bits=3, act_bits=3),
    "int w2a2": QuantPlan(pe_type="int4", weight_bits=2, act_bits=2),
    "int w2a2 pin8": QuantPlan(pe_type="int4", weight_bits=2, act_bits=2, pin_first_last=8),
    "int w2a4": QuantPlan(pe_type="int4", weight_bits=2, act_bits=4),
    "int w8a2": QuantPlan(pe_type="int8", weight_bits=8, act_bits=2),
    "int w4a2 pin8": QuantPlan(pe_type="int4", act_bits=2, pin_first_last=8),
    "lightpe1": QuantPlan(pe_type="lightpe1"),
    "lightpe1 w2": QuantPlan(pe_type="lightpe1", weight_bits=2),
    "lightpe1 w3a3": QuantPlan(pe_type="lightpe1", weight_bits=3, act_bits=3),
    "lightpe2": QuantPlan(pe_type="lightpe2"),
    "lightpe2 w4a3": QuantPlan(pe_type="lightpe2", weight_bits=4, act_bits=3),
    "binary": QuantPlan(pe_type="binary"),
    "binary pin8": QuantPlan(pe_type="binary", pin_first_last=8),
    "binary w1a2": QuantPlan(pe_type="binary", act_bits=2),
}
"""The hand-picked set (the one the proxy was first measured on, issue 3)."""

SPACES = ("quickstart", "quidam")
LAYERS = ("features.0", "features.3", "features.7", "classifier")


def _per_layer(pe_type: str, weights: tuple[int, ...], acts: tuple[int, ...]) -> QuantPlan:
    return QuantPlan(
        pe_type=pe_type,
        layer_weight_bits=dict(zip(LAYERS, weights)),
        layer_act_bits=dict(zip(LAYERS, acts)),
    )


RANDOM = {
    f"{space} {pe} w{'/'.join(map(str, w))} a{'/'.join(map(str, a))}": _per_layer(pe, w, a)
    for space, pe, w, a in [
        ("quickstart", "int4", (4, 4, 4, 4), (4, 4, 4, 4)),
        ("quickstart", "lightpe2", (8, 8, 8, 8), (4, 4, 4, 4)),
        ("quickstart", "int8", (8, 8, 8, 8), (8, 8, 8, 8)),
        ("quickstart", "lightpe1", (4, 4, 4, 4), (4, 4, 4, 4)),
        ("quickstart", "lightpe2", (8, 8, 8, 8), (8, 8, 8, 8)),
        ("quickstart", "int8", (4, 4, 4, 4), (8, 8, 8, 8)),
        ("quidam", "int8", (2, 3, 6, 5), (8, 6, 6, 8)),
        ("quidam", "int16", (5, 3, 2, 4), (8, 8, 8, 8)),
        ("quidam", "int16", (2, 5, 6, 6), (8, 4, 4, 8)),
        ("quidam", "lightpe1", (8, 4, 4, 8), (8, 4, 4, 8)),
        ("quidam", "binary", (8, 1, 1, 8), (8, 1, 1, 8)),
        ("quidam", "lightpe1", (8, 4, 4, 8), (8, 8, 8, 8)),
    ]
}
"""The held-out set: six plans from each space, drawn by :func:`random_plans` (plan seed 19) with
the search space of commit 8c22a11, frozen here as per-layer bits so that later changes to how a
space samples do not change the benchmark; ``--redraw`` draws afresh from the current spaces."""


def random_plans(ev: ProxyEvaluator, per_space: int, seed: int) -> dict[str, QuantPlan]:
    """``per_space`` distinct plans from each space in ``SPACES``, drawn as a random-sampler study
    would draw them (distinct: no two share the proxy's cache key)."""
    import optuna

    from coexplore.search.space import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict[str, QuantPlan] = {}
    seen: set[str] = set()
    for name in SPACES:
        space = load_space(ROOT / "spaces" / f"{name}.yaml")
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        drawn = 0
        for _ in range(50 * per_space):
            _, choice = space.suggest(study.ask(), ev.layer_names)
            plan = QuantPlan(**choice.model_dump())
            key = ev.key(plan)
            if key in seen:
                continue
            seen.add(key)
            w, a = plan.resolve(ev.layer_names)
            label = f"{name[:5]} {plan.pe_type} w{'/'.join(map(str, w))} a{'/'.join(map(str, a))}"
            out[label] = plan
            drawn += 1
            if drawn == per_space:
                break
    return out


def _value(text: str) -> object:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _config(seed: int, args: argparse.Namespace, brief: bool = False) -> ProxyConfig:
    """The proxy's default recipe (one torch thread); ``--brief`` overrides only the brief one's."""
    extra = dict(kv.split("=", 1) for kv in args.brief) if brief else {}
    return ProxyConfig(seed=seed, threads=1, **{k: _value(v) for k, v in extra.items()})


_EVALUATORS: dict[ProxyConfig, ProxyEvaluator] = {}


def _run(task: tuple[int, str, QuantPlan, str, ProxyConfig]) -> tuple[float, float, bool, int]:
    """One evaluation in a worker process: (accuracy, seconds, cache hit, steps over all folds)."""
    seed, fidelity, plan, folder, config = task
    if config not in _EVALUATORS:
        _EVALUATORS[config] = ProxyEvaluator(config, cache_dir=folder)
    ev = _EVALUATORS[config]
    r = ev.evaluate(plan, fidelity=fidelity)
    # on a hit from --cache-dir: the seconds the stored result took when it was computed
    seconds = ev.cache.get(r.key).train_seconds if r.cache_hit else r.seconds
    return r.accuracy, seconds, r.cache_hit, r.steps * len(ev.folds)


def measure(args: argparse.Namespace, folder: str) -> tuple[dict, dict, dict, float]:
    """Accuracies ``acc[(set, seed|'ref', plan)]``, brief seconds ``secs[seed]``, baselines."""
    seeds = sorted(set(args.seeds) | {args.reference_seed})
    evs = {s: ProxyEvaluator(_config(s, args), cache_dir=folder) for s in seeds}
    baselines = {s: ev.baseline_accuracy for s, ev in evs.items()}  # pretrain once, here
    for s in args.seeds:  # and the brief recipe's folds, if --brief changes them
        _ = ProxyEvaluator(_config(s, args, brief=True), cache_dir=folder).baseline_accuracy
    drawn = random_plans(evs[seeds[0]], args.per_space, args.plan_seed) if args.redraw else RANDOM
    sets = {"fixed": FIXED, "random": drawn}
    tasks, index = [], []
    for set_name, plans in sets.items():
        for name, plan in plans.items():
            tasks.append((args.reference_seed, "high", plan, folder, _config(args.reference_seed, args)))
            index.append((set_name, "ref", name))
            for s in args.seeds:
                tasks.append((s, "brief", plan, folder, _config(s, args, brief=True)))
                index.append((set_name, s, name))
    start = time.perf_counter()
    # spawn, not fork: a child forked after torch has run can deadlock in its thread pool
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_run, tasks))
    elapsed = time.perf_counter() - start
    acc = {i: r[0] for i, r in zip(index, results)}
    secs: dict = {}
    steps: list[int] = []
    for (set_name, s, _), (_, sec, hit, n_steps) in zip(index, results):
        if s != "ref":
            steps.append(n_steps)
            secs.setdefault(s, []).append(sec)
    return sets, acc, {"secs": secs, "steps": steps, "baselines": baselines}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reference-seed", type=int, default=0)
    parser.add_argument("--redraw", action="store_true", help="draw the random set afresh")
    parser.add_argument("--per-space", type=int, default=6, help="random plans per space (--redraw)")
    parser.add_argument("--plan-seed", type=int, default=19, help="seed of the draw (--redraw)")
    parser.add_argument(
        "--brief", nargs="*", default=[], metavar="FIELD=VALUE",
        help="ProxyConfig overrides for the brief proxy only (ablations), e.g. distill_weight=0",
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep results here")
    parser.add_argument("--per-plan", action="store_true", help="also print every plan's accuracies")
    parser.add_argument(
        "--average-seeds", action="store_true",
        help="also rank by the mean over --seeds (seed averaging, at the cost of every seed)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(args.cache_dir or tmp)
        sets, acc, info, elapsed = measure(args, folder)
    console = Console()
    cfg, bcfg = _config(args.reference_seed, args), _config(args.reference_seed, args, True)
    changed = " ".join(args.brief)
    summary = Table(
        title=f"proxy fidelity: brief ({bcfg.finetune_steps} steps x (1 + {bcfg.step_scale:g} d)"
        f"{', ' + changed if changed else ''}) vs high ({cfg.high_fidelity.steps} steps x (1 + {cfg.high_fidelity.step_scale:g} d)) at seed "
        f"{args.reference_seed}, digits CNN"
    )
    for col in ("plan set", "plans", "seed", "Kendall tau-b", "Spearman rho", "brief s / eval"):
        summary.add_column(col, justify="left" if col == "plan set" else "right")
    for set_name, plans in sets.items():
        ref = [acc[(set_name, "ref", n)] for n in plans]
        taus, rhos = [], []
        for s in args.seeds:
            brief = [acc[(set_name, s, n)] for n in plans]
            taus.append(kendalltau(brief, ref)[0])
            rhos.append(spearmanr(brief, ref)[0])
            summary.add_row(set_name, str(len(plans)), str(s), f"{taus[-1]:.3f}", f"{rhos[-1]:.3f}", "")
        summary.add_row(set_name, "", "mean", f"{statistics.mean(taus):.3f}", f"{statistics.mean(rhos):.3f}", "")
        summary.add_row(set_name, "", "min", f"{min(taus):.3f}", f"{min(rhos):.3f}", "")
        if args.average_seeds:  # one proxy that averages the seeds' accuracies (costs them all)
            avg = [statistics.mean(acc[(set_name, s, n)] for s in args.seeds) for n in plans]
            tau, rho = kendalltau(avg, ref)[0], spearmanr(avg, ref)[0]
            summary.add_row(set_name, "", "averaged", f"{tau:.3f}", f"{rho:.3f}", "")
        summary.add_section()
        if args.per_plan:
            per = Table(title=f"{set_name} plans")
            for col in ("plan", *(f"brief s{s}" for s in args.seeds), "high"):
                per.add_column(col, justify="left" if col == "plan" else "right")
            for n in plans:
                per.add_row(n, *(f"{acc[(set_name, s, n)]:.4f}" for s in args.seeds), f"{acc[(set_name, 'ref', n)]:.4f}")
            console.print(per)
    all_secs = [x for v in info["secs"].values() for x in v]
    if all_secs:
        summary.add_row("brief proxy", "", "all", "", "", f"{statistics.mean(all_secs):.1f} mean / {max(all_secs):.1f} max")
    summary.add_row(
        "brief proxy", "", "all", "", "steps / eval",
        f"{statistics.mean(info['steps']):.0f} mean / {max(info['steps'])} max",
    )
    console.print(summary)
    base = ", ".join(f"seed {s} {b:.4f}" for s, b in info["baselines"].items())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"FP32 (pooled over folds): {base}; {elapsed:.0f} s wall with {args.jobs} job(s); "
          f"load average (1 min) {os.getloadavg()[0]:.2f}; commit {commit or '?'}")


if __name__ == "__main__":
    main()
