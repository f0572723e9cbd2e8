"""ENOS lambda sweep vs single-operator baselines (and a TPE search at equal time), on digits.

Prints three tables: the ENOS front (one search per lambda, then the discrete fine-tune), the
single-operator baselines (same total training steps as one search plus its fine-tune), and the
comparison at equal energy: for each baseline, the most accurate ENOS assignment that costs no
more energy. ENOS (Nasrin et al., arXiv:2104.05217) reports +10-20% accuracy at equal energy on
CIFAR. With ``--tpe``, an Optuna TPE search over the same per-layer choices (each trial a
fine-tune of a sampled assignment) gets the sweep's wall time, and both fronts' hypervolumes are
printed (accuracy up, energy down, reference: accuracy 0 and the costliest baseline's energy).

Run:  .venv/bin/python benchmarks/enos_front.py [--mode single|bilevel] [--steps 100] [--tpe]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import optuna
import torch

from coexplore.accuracy import ProxyConfig, ProxyEvaluator
from coexplore.cim import CimMacro
from coexplore.cim.choices import DEFAULT_CHOICES
from coexplore.enos import PARAM_PREFIX, EnosCandidate, EnosConfig, EnosRunner, front
from coexplore.hardware import DesignPoint
from coexplore.record import compute_metrics
from coexplore.record.front import hypervolume


def _row(c) -> str:
    short = " ".join(a.replace("@digital", "@d").replace("@cim", "@c") for a in c.assignment)
    return (f"| {c.label:<22} | {c.accuracy * 100:6.1f} | {c.cost.energy_j * 1e6:8.3f} | "
            f"{c.cost.latency_s * 1e6:8.1f} | {c.cost.area_mm2:6.2f} | {short} |")


def _metrics(c: EnosCandidate) -> dict:
    """Every registry metric of a candidate, its digital/CIM split and whether the proxy had it cached."""
    raw = {"accuracy": c.accuracy, "baseline_accuracy": c.baseline_accuracy, **c.cost.raw_totals(c.macs)}
    return {**compute_metrics(raw), **c.cost.breakdown(), "proxy_cache_hit": c.cache_hit}


HEADER = "| run | acc % | energy uJ | latency us | area mm2 | assignment |\n|---|---|---|---|---|---|"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 0.3, 1.0, 3.0, 10.0])
    ap.add_argument("--mode", choices=["single", "bilevel"], default="single")
    ap.add_argument("--steps", type=int, default=100, help="search steps per lambda")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--finetune-steps", type=int, default=120)
    ap.add_argument("--choices", nargs="+", default=list(DEFAULT_CHOICES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", default=".cache/enos-bench")
    ap.add_argument("--tpe", action="store_true", help="also run TPE over the choices for the sweep's time")
    ap.add_argument("--json", type=Path, default=None, help="write every result here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    proxy = ProxyEvaluator(ProxyConfig(threads=args.threads, finetune_steps=args.finetune_steps),
                           cache_dir=args.cache_dir)
    runner = EnosRunner(proxy, DesignPoint(), CimMacro(), choices=args.choices)
    print(f"digits_cnn, FP32 accuracy {runner.baseline_accuracy * 100:.1f}%, layers {runner.layer_names}")
    print(f"design: {DesignPoint().pe_rows}x{DesignPoint().pe_cols} digital array + {CimMacro()!r}\n")

    start = time.perf_counter()
    enos = [runner.search(EnosConfig(energy_weight=lam, mode=args.mode, steps=args.steps, warmup_steps=args.warmup))
            for lam in args.lambdas]
    sweep_s = time.perf_counter() - start
    # the baselines fine-tune as long as one search plus its fine-tune: the same recipe with more
    # steps (the same FP32 checkpoint; results cached apart, the step count is in the cache key)
    budget = args.steps + args.finetune_steps
    long_proxy = ProxyEvaluator(ProxyConfig(threads=args.threads, finetune_steps=budget), cache_dir=args.cache_dir)
    bases = [EnosRunner(long_proxy, DesignPoint(), CimMacro(), choices=args.choices).baseline(c) for c in args.choices]

    level = "bi-level" if args.mode == "bilevel" else "single-level"
    print(f"ENOS {level} sweep ({sweep_s:.0f} s for {len(args.lambdas)} searches)")
    print(HEADER)
    for c in enos:
        print(_row(c))
    print(f"\nSingle-operator baselines ({budget} fine-tune steps each)")
    print(HEADER)
    for b in bases:
        print(_row(b))

    print("\nAt equal energy: best ENOS accuracy at or below each baseline's energy")
    print("| baseline | energy uJ | baseline acc % | ENOS acc % | gain (points) |\n|---|---|---|---|---|")
    gains = []
    for b in bases:
        ok = [c for c in enos if c.cost.energy_j <= b.cost.energy_j * (1 + 1e-9)]
        if not ok:
            print(f"| {b.label} | {b.cost.energy_j * 1e6:.3f} | {b.accuracy * 100:.1f} | - | - |")
            continue
        best = max(ok, key=lambda c: c.accuracy)
        gains.append(best.accuracy - b.accuracy)
        print(f"| {b.label} | {b.cost.energy_j * 1e6:.3f} | {b.accuracy * 100:.1f} | {best.accuracy * 100:.1f} "
              f"| {(best.accuracy - b.accuracy) * 100:+.1f} |")
    if gains:
        print(f"mean gain {np.mean(gains) * 100:+.1f} points, median {np.median(gains) * 100:+.1f}")

    ref = [0.0, max(b.cost.energy_j for b in bases)]
    dirs = ["maximize", "minimize"]
    pts = lambda cs: np.array([[c.accuracy, c.cost.energy_j] for c in cs])
    hv_enos = hypervolume(pts(front(enos)), dirs, ref)
    print(f"\nhypervolume (acc x energy below {ref[1] * 1e6:.3f} uJ): ENOS {hv_enos * 1e6:.4f}", end="")
    results: dict = {"enos": [_metrics(c) | {"assignment": c.assignment, "label": c.label} for c in enos],
                     "baselines": [_metrics(b) | {"assignment": b.assignment, "label": b.label} for b in bases],
                     "sweep_seconds": sweep_s, "hv_enos": hv_enos}
    if args.tpe:
        tpe = _tpe(runner, args, sweep_s)
        hv_tpe = hypervolume(pts(front(tpe)), dirs, ref)
        print(f", TPE {hv_tpe * 1e6:.4f} ({len(tpe)} trials in {sweep_s:.0f} s)")
        results["tpe"] = [_metrics(c) | {"assignment": c.assignment} for c in tpe]
        results["hv_tpe"] = hv_tpe
    else:
        print()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


def _tpe(runner: EnosRunner, args: argparse.Namespace, seconds: float) -> list:
    """Multi-objective TPE over the per-layer choices for ``seconds``; each trial the proxy's fine-tune."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    out = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        a = [trial.suggest_categorical(f"{PARAM_PREFIX}{n}", list(args.choices)) for n in runner.layer_names]
        c = runner.evaluate_assignment(a, f"tpe #{trial.number}")
        out.append(c)
        return c.accuracy, c.cost.energy_j

    study.optimize(objective, timeout=seconds)
    return out


if __name__ == "__main__":
    main()
