"""Proxy fidelity: rank agreement between the brief fine-tune and the high-fidelity one.

Run: ``.venv/bin/python benchmarks/proxy_fidelity.py [--seeds 0 1 2] [--reference-seeds 0 1]
[--sets fixed random] [--jobs 2] [--cache-dir D]``.

Two plan sets on the default model (digits CNN): ``fixed``, sixteen hand-picked plans spanning PE
types, bit widths and pinning; ``random``, plans drawn at random (Optuna's RandomSampler through
the search space's own ``suggest``, so per-layer bits included) from ``spaces/quickstart.yaml`` and
``spaces/quidam.yaml``, which nobody tuned the proxy on (frozen in ``RANDOM``; ``--redraw``
draws a fresh set). For every seed each plan gets the brief
proxy (``ProxyEvaluator.evaluate(plan)``, what a study runs); the reference is the high-fidelity
fine-tune (``fidelity="high"``: 1,200 steps per fold at 8 bits, 10x the issue-3 brief budget),
averaged over ``--reference-seeds`` (default: seed 0 alone); a brief seed among them shares its FP32
models and batch order with one of the reference's runs, a brief seed that is not is judged
against models pretrained from other initialisations only. With two or more reference
seeds it also prints the reference's self-agreement: tau-b and Spearman between every two
high-fidelity seeds (the ceiling a proxy can reach against one high-fidelity run, when the runs
disagree with each other by that much) and each seed against the mean of the others. Prints
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
    _seed, fidelity, plan, folder, config = task
    if config not in _EVALUATORS:
        _EVALUATORS[config] = ProxyEvaluator(config, cache_dir=folder)
    ev = _EVALUATORS[config]
    r = ev.evaluate(plan, fidelity=fidelity)
    # on a hit from --cache-dir: the seconds the stored result took when it was computed
    seconds = ev.cache.get(r.key).train_seconds if r.cache_hit else r.seconds
    return r.accuracy, seconds, r.cache_hit, r.steps * len(ev.folds)


def measure(args: argparse.Namespace, folder: str) -> tuple[dict, dict, dict, float]:
    """Accuracies ``acc[(set, seed, plan)]`` (brief) and ``acc[(set, ('ref', seed), plan)]``
    (high fidelity), brief seconds ``secs[seed]``, baselines."""
    seeds = sorted(set(args.seeds) | set(args.reference_seeds))
    evs = {s: ProxyEvaluator(_config(s, args), cache_dir=folder) for s in seeds}
    baselines = {s: ev.baseline_accuracy for s, ev in evs.items()}  # pretrain once, here
    for s in args.seeds:  # and the brief recipe's folds, if --brief changes them
        _ = ProxyEvaluator(_config(s, args, brief=True), cache_dir=folder).baseline_accuracy
    drawn = random_plans(evs[seeds[0]], args.per_space, args.plan_seed) if args.redraw else RANDOM
    sets = {name: plans for name, plans in (("fixed", FIXED), ("random", drawn)) if name in args.sets}
    tasks, index = [], []
    for set_name, plans in sets.items():
        for name, plan in plans.items():
            for r in args.reference_seeds:
                tasks.append((r, "high", plan, folder, _config(r, args)))
                index.append((set_name, ("ref", r), name))
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
        if not isinstance(s, tuple):
            steps.append(n_steps)
            secs.setdefault(s, []).append(sec)
    images = sum(len(f.val_y) for f in evs[seeds[0]].folds)  # validation images, all folds
    return sets, acc, {"secs": secs, "steps": steps, "baselines": baselines, "images": images}, elapsed


def _seeds_text(seeds: list[int]) -> str:
    if len(seeds) == 1:
        return f"at seed {seeds[0]}"
    return f"averaged over seeds {', '.join(map(str, seeds))}"


def _agree(x: list[float], y: list[float]) -> tuple[float, float]:
    """Kendall tau-b and Spearman rho between two lists of the plans' accuracies."""
    return kendalltau(x, y)[0], spearmanr(x, y)[0]


def self_agreement(high: dict[int, list[float]]) -> list[tuple[str, float, float]]:
    """(label, tau-b, rho) between every two high-fidelity seeds, their mean and minimum, and
    (three or more seeds) each seed against the mean of the others.

    ``high[seed]`` lists the plans' high-fidelity accuracies at that seed.
    """
    seeds = list(high)
    pairs = [
        (f"{a} vs {b}", *_agree(high[a], high[b])) for i, a in enumerate(seeds) for b in seeds[i + 1 :]
    ]
    rows = list(pairs)
    if len(pairs) > 1:
        rows.append(("pairs: mean", *(statistics.mean(r[k] for r in pairs) for k in (1, 2))))
        rows.append(("pairs: min", *(min(r[k] for r in pairs) for k in (1, 2))))
    if len(seeds) > 2:
        for a in seeds:
            rest = [statistics.mean(v) for v in zip(*(high[b] for b in seeds if b != a))]
            rows.append((f"{a} vs mean of others", *_agree(high[a], rest)))
    return rows


def _without_seed_offsets(high: dict[int, list[float]]) -> dict[int, list[float]]:
    """Each seed's accuracies less their median over the plans: a seed whose FP32 models are better
    lifts every plan alike, which moves no rank, so it is not noise for a ranking."""
    return {seed: [a - statistics.median(accs) for a in accs] for seed, accs in high.items()}


def noise_and_spread(high: dict[int, list[float]], images: int) -> str:
    """The reference's noise against what it has to rank, in validation images: the plans'
    seed-to-seed standard deviation (mean and max over plans; each seed's common offset removed)
    and the range of the plans' seed means."""
    sds = [statistics.stdev(v) * images for v in zip(*_without_seed_offsets(high).values())]
    means = [statistics.mean(v) * images for v in zip(*high.values())]
    return (
        f"high fidelity over {len(high)} seeds, in images of {images}: seed-to-seed SD per plan "
        f"(seed offsets removed) {statistics.mean(sds):.1f} mean / {max(sds):.1f} max; the seed "
        f"means span {max(means) - min(means):.0f} images (middle two quartiles: {_iqr(means):.0f})"
    )


def noise_ceiling(
    high: dict[int, list[float]], runs_averaged: tuple[int, ...], draws: int = 1000
) -> dict[int, float]:
    """Expected tau-b of a noise-free proxy against a reference that averages ``k`` high-fidelity
    runs, for each ``k`` in ``runs_averaged``, simulated: the plans' seed means in ``high`` taken as
    their true accuracies, each run adding Gaussian noise with the seed-to-seed SD pooled over plans
    (each seed's common offset removed first).

    Optimistic where the plans are about equally noisy (the seed means still carry part of that
    noise, which widens the spread a noise-free proxy would have to rank). Where a few plans are far
    noisier than the rest (the fixed set's binary plans) the pooled SD overstates the others' noise
    and the figure comes out low: read it beside the measured seed-to-seed agreement.
    """
    import numpy as np

    runs = np.array(list(_without_seed_offsets(high).values()))  # seeds x plans
    mu = runs.mean(axis=0)
    sigma = float(np.sqrt(runs.var(axis=0, ddof=1).mean()))
    rng = np.random.default_rng(0)
    return {
        k: statistics.mean(
            kendalltau(mu, mu + rng.normal(0, sigma / np.sqrt(k), mu.size))[0] for _ in range(draws)
        )
        for k in runs_averaged
    }


def _iqr(values: list[float]) -> float:
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--reference-seeds", "--reference-seed", type=int, nargs="+", default=[0],
        help="seeds of the high-fidelity reference, averaged (two or more: also its self-agreement)",
    )
    parser.add_argument(
        "--sets", nargs="+", choices=("fixed", "random"), default=["fixed", "random"],
        help="plan sets to measure",
    )
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
    console = Console(width=160)  # wide enough for the tables in a log file
    refs = args.reference_seeds
    cfg, bcfg = _config(refs[0], args), _config(refs[0], args, True)
    changed = " ".join(args.brief)
    summary = Table(
        title=f"proxy fidelity: brief ({bcfg.finetune_steps} steps x (1 + {bcfg.step_scale:g} d)"
        f"{', ' + changed if changed else ''}) vs high ({cfg.high_fidelity.steps} steps x "
        f"(1 + {cfg.high_fidelity.step_scale:g} d)) {_seeds_text(refs)}, digits CNN"
    )
    columns = ["plan set", "plans", "seed", "Kendall tau-b", "Spearman rho"]
    if len(refs) > 1:
        columns.append("tau-b vs one ref seed (mean)")
    for col in (*columns, "brief cost / eval"):
        summary.add_column(col, justify="left" if col == "plan set" else "right")
    pad = [""] * (len(columns) - 5)
    agreement: dict[str, list[tuple[str, float, float]]] = {}
    spread: dict[str, str] = {}
    for set_name, plans in sets.items():
        high = {r: [acc[(set_name, ("ref", r), n)] for n in plans] for r in refs}
        ref = [statistics.mean(v) for v in zip(*high.values())]
        taus, rhos, singles = [], [], []
        for s in args.seeds:
            brief = [acc[(set_name, s, n)] for n in plans]
            taus.append(kendalltau(brief, ref)[0])
            rhos.append(spearmanr(brief, ref)[0])
            one = [statistics.mean(kendalltau(brief, high[r])[0] for r in refs)] if pad else []
            singles.extend(one)
            summary.add_row(
                set_name, str(len(plans)), str(s), f"{taus[-1]:.3f}", f"{rhos[-1]:.3f}", *(f"{x:.3f}" for x in one), ""
            )
        mean_one = [f"{statistics.mean(singles):.3f}"] if pad else []
        min_one = [f"{min(singles):.3f}"] if pad else []
        summary.add_row(set_name, "", "mean", f"{statistics.mean(taus):.3f}", f"{statistics.mean(rhos):.3f}", *mean_one, "")
        summary.add_row(set_name, "", "min", f"{min(taus):.3f}", f"{min(rhos):.3f}", *min_one, "")
        if args.average_seeds:  # one proxy that averages the seeds' accuracies (costs them all)
            avg = [statistics.mean(acc[(set_name, s, n)] for s in args.seeds) for n in plans]
            tau, rho = kendalltau(avg, ref)[0], spearmanr(avg, ref)[0]
            one = [f"{statistics.mean(kendalltau(avg, high[r])[0] for r in refs):.3f}"] if pad else []
            summary.add_row(set_name, "", "averaged", f"{tau:.3f}", f"{rho:.3f}", *one, "")
        summary.add_section()
        if len(refs) > 1:
            agreement[set_name] = self_agreement(high)
            ceiling = noise_ceiling(high, tuple(sorted({1, len(refs), 10, 30})))
            spread[set_name] = (
                f"{noise_and_spread(high, info['images'])}; a noise-free proxy would reach tau-b "
                f"{' / '.join(f'{t:.2f}' for t in ceiling.values())} against a reference averaging "
                f"{' / '.join(map(str, ceiling))} high-fidelity runs (simulated from that noise; optimistic)"
            )
        if args.per_plan:
            per = Table(title=f"{set_name} plans")
            highs = [f"high s{r}" for r in refs] + (["high mean"] if len(refs) > 1 else [])
            for col in ("plan", *(f"brief s{s}" for s in args.seeds), *highs):
                per.add_column(col, justify="left" if col == "plan" else "right")
            for i, n in enumerate(plans):
                cells = [f"{acc[(set_name, s, n)]:.4f}" for s in args.seeds]
                cells += [f"{high[r][i]:.4f}" for r in refs] + ([f"{ref[i]:.4f}"] if len(refs) > 1 else [])
                per.add_row(n, *cells)
            console.print(per)
    if agreement:
        table = Table(title="reference self-agreement: high fidelity at one seed against another")
        for col in ("plan set", "high-fidelity seeds", "Kendall tau-b", "Spearman rho"):
            table.add_column(col, justify="left" if col == "plan set" else "right")
        for set_name, rows in agreement.items():
            for label, tau, rho in rows:
                table.add_row(set_name, label, f"{tau:.3f}", f"{rho:.3f}")
            table.add_section()
        console.print(table)
        for set_name, text in spread.items():
            print(f"{set_name}: {text}")
    all_secs = [x for v in info["secs"].values() for x in v]
    cost = ["", "", *pad]
    if all_secs:
        summary.add_row("brief proxy", "", "seconds", *cost, f"{statistics.mean(all_secs):.1f} mean / {max(all_secs):.1f} max")
    summary.add_row(
        "brief proxy", "", "steps", *cost, f"{statistics.mean(info['steps']):.0f} mean / {max(info['steps'])} max",
    )
    console.print(summary)
    base = ", ".join(f"seed {s} {b:.4f}" for s, b in info["baselines"].items())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    print(f"FP32 (pooled over folds): {base}; {elapsed:.0f} s wall with {args.jobs} job(s); "
          f"load average (1 min) {os.getloadavg()[0]:.2f}; commit {commit or '?'}")


if __name__ == "__main__":
    main()
