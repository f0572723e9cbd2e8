"""LeGR filter pruning (issue 14): accuracy per ranking method, cost of learning, and the
hypervolume a study gains from the pruning axis.

Run: ``.venv/bin/python benchmarks/prune_legr.py [--part accuracy|resnet|hv|all] [--seeds 0 1 2]
[--hv-seconds 240]``.

* ``accuracy``: the digits CNN at 25/50/70% of its MACs removed by LeGR (learned at 70%), the
  unlearned global L2 ranking and uniform per-layer pruning; accuracy after the proxy's brief
  fine-tune (INT8, 4 folds, 120 steps per fold, distillation) for each seed of the proxy (the FP32
  pretraining, the LeGR evolution and the fine-tunes all follow the seed). Also the cost of
  learning: seconds and fine-tunes of the evolution, against one proxy evaluation.
* ``resnet``: ResNet-20 on 32x32 inputs, timing only on generated data (no CIFAR-10 copy on this
  machine, so no accuracy figure): MAC budgets met per method and level, seconds per fine-tune
  step of the pruned networks, and what learning the ranking would cost at our budget and with
  LeGR's 400 candidates (its ResNet-56 CIFAR-10 script scores them with no fine-tune, tau-hat = 0;
  the cost is shown at 200 steps each for scale).
* ``hv``: the quickstart study with and without ``model.prune`` (levels 0/0.25/0.5/0.7, LeGR),
  same sampler, seed and wall-clock budget, both joint (one design per trial) and on one proxy
  fold; hypervolume of the feasible front at the quickstart's reference point. The FP32
  checkpoint is made before the clock starts; learning the ranking counts against the pruning
  study's budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from coexplore.accuracy import ProxyConfig, ProxyEvaluator, ResNet20, torch_settings
from coexplore.quant import QuantPlan
from coexplore.transforms import (
    Evolution,
    FilterPruning,
    ModelSide,
    PruneSettings,
    channel_graph,
    channel_scores,
    keep_counts,
    prune_model,
)
from coexplore.transforms.ranking import keep_indices
from coexplore.workload import from_module

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (0.25, 0.5, 0.7)
METHODS = ("legr", "l2", "uniform")
console = Console(highlight=False)


def accuracy_part(seeds: list[int]) -> None:
    rows: dict[tuple[str, float], list[float]] = {}
    learn: list[tuple[float, int, float, float]] = []
    per_eval: list[float] = []
    base: list[float] = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            proxy = ProxyEvaluator(ProxyConfig(seed=seed), cache_dir=folder)
            base.append(proxy.baseline_accuracy)
            t0 = time.perf_counter()
            proxy.evaluate(QuantPlan(pe_type="int8"))
            per_eval.append(time.perf_counter() - t0)
            for method in METHODS:
                pruning = FilterPruning(proxy, PruneSettings(method=method, learn_level=0.7,
                                                             evolution=Evolution(seed=seed)))
                pruning.prepare()
                if pruning.learned is not None:
                    lr = pruning.learned
                    learn.append((lr.seconds, lr.fine_tunes, lr.fitness, lr.identity_fitness))
                side = ModelSide(proxy, {"prune": pruning})
                for level in LEVELS:
                    r = side.evaluate(QuantPlan(pe_type="int8"), {"prune": level})
                    rows.setdefault((method, level), []).append(r.accuracy)
                    console.print(f"seed {seed} {method} {level:.0%}: {r.accuracy:.4f} {pruning.channels(level)}",
                                  markup=False)
            proxy.close()
    table = Table(title=f"digits CNN, INT8, accuracy after the brief fine-tune (mean ± sd over seeds {seeds}); "
                        f"unpruned FP32 {statistics.mean(base):.4f}")
    table.add_column("MACs removed")
    for m in METHODS:
        table.add_column(m, justify="right")
    for level in LEVELS:
        table.add_row(f"{level:.0%}", *(_ms(rows[(m, level)]) for m in METHODS))
    console.print(table)
    secs = [x[0] for x in learn]
    console.print(f"LeGR learning: {statistics.mean(secs):.1f} s mean ({min(secs):.1f}-{max(secs):.1f}) for "
                  f"{learn[0][1]} candidates x {Evolution().steps} steps on fold 0; fitness (held-out accuracy at "
                  f"70%) learned {statistics.mean(x[2] for x in learn):.4f} vs L2 {statistics.mean(x[3] for x in learn):.4f}; "
                  f"one proxy evaluation (4 folds x 120 steps) {statistics.mean(per_eval):.1f} s; "
                  f"load average {os.getloadavg()[0]:.1f}", markup=False)


def _ms(v: list[float]) -> str:
    return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"


def resnet_part(steps: int = 3, batch: int = 64) -> None:
    torch.manual_seed(0)
    shape = (1, 3, 32, 32)
    graph = channel_graph(ResNet20(), shape)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    table = Table(title="ResNet-20, 32x32, generated data (timing only: no CIFAR-10 copy here)")
    for col in ("method", "MACs removed", "MACs / (1 - level) x unpruned", "ranking at budget, ms",
                f"CPU s per fine-tune step (batch {batch})"):
        table.add_column(col, justify="right")

    def step_seconds(model: torch.nn.Module) -> float:
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        model.train()
        with torch_settings(1):  # CPU time of one thread: comparable however loaded the machine is
            t0 = time.process_time()
            for _ in range(steps):
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return (time.process_time() - t0) / steps

    full = step_seconds(ResNet20())
    table.add_row("none", "0%", "1.000", "-", f"{full:.3f}")
    seconds_70 = full
    for method in ("l2", "uniform"):
        for level in LEVELS:
            model = ResNet20()
            t0 = time.perf_counter()
            scores = channel_scores(model, graph)
            counts = keep_counts(graph, scores, level, uniform=method == "uniform")
            rank_ms = 1e3 * (time.perf_counter() - t0)
            prune_model(model, graph, keep_indices(scores, counts))
            ratio = from_module(model, shape).macs / ((1 - level) * graph.total_macs)
            s = step_seconds(model)
            if method == "l2" and level == 0.7:
                seconds_70 = s
            table.add_row(method, f"{level:.0%}", f"{ratio:.4f}", f"{rank_ms:.0f}", f"{s:.3f}")
    console.print(table)
    ours, paper = Evolution(), (400, 200)
    console.print(f"learning cost at 70% (CPU s per step {seconds_70:.3f}, one thread): our budget {ours.generations} x "
                  f"{ours.steps} steps = {ours.generations * ours.steps * seconds_70 / 60:.1f} min; LeGR's "
                  f"{paper[0]} candidates x {paper[1]} steps = {paper[0] * paper[1] * seconds_70 / 3600:.1f} h "
                  f"on this CPU (load average {os.getloadavg()[0]:.1f})", markup=False)


def hv_part(seeds: list[int], seconds: float) -> None:
    import optuna

    from coexplore.record import read_record
    from coexplore.record.front import front_hypervolume, study_front
    from coexplore.search.evaluate import build_evaluator
    from coexplore.search.model_axes import PruneAxis
    from coexplore.search.samplers import make_sampler
    from coexplore.search.study_config import load_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = load_study(ROOT / "studies" / "quickstart.yaml")
    obj = cfg.objectives
    pruned_model = cfg.space.model.model_copy(update={"prune": PruneAxis(levels=[0, 0.25, 0.5, 0.7])})
    # one design per trial in both arms; one fold (a quarter of the default proxy cost) so that a few
    # minutes buy enough trials on a loaded machine
    cfg = cfg.model_copy(update={"hardware_search": "joint", "proxy": {**cfg.proxy, "folds": 1}})
    arms = {"without pruning": cfg,
            "with pruning (LeGR)": cfg.model_copy(update={"space": cfg.space.model_copy(update={"model": pruned_model})})}
    table = Table(title=f"quickstart objectives, TPE, {seconds:.0f} s wall-clock per study")
    for col in ("study", "seed", "trials", "proxy runs", "hypervolume", "front size", "CPU s"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            for name, arm in arms.items():
                url = f"sqlite:///{folder}/{seed}-{len(name)}.db"
                os.environ["COEXPLORE_PROXY_CACHE_DIR"] = f"{folder}/ckpt-{seed}"  # FP32 shared by both arms
                arm = arm.model_copy(update={"seed": seed})
                ev = build_evaluator(arm, url)
                ev.proxy.baseline_accuracy  # noqa: B018 - pretrain before the clock starts
                study = optuna.create_study(directions=obj.directions, storage=url, sampler=make_sampler(
                    arm.sampler, seed=seed, directions=obj.directions, reference_point=obj.reference))
                cpu0, t0, runs = time.process_time(), time.perf_counter(), 0
                while time.perf_counter() - t0 < seconds:
                    trial = study.ask()
                    values = ev(trial)
                    study.tell(trial, values)
                    runs += int(getattr(read_record(study.trials[-1]), "proxy_cache_hit", None) is False)
                front = study_front(study)
                hv = front_hypervolume(front, obj.directions, obj.reference)
                table.add_row(name, str(seed), str(len(study.trials)), str(runs), f"{hv:.6f}", str(len(front)),
                              f"{time.process_time() - cpu0:.0f}")
                console.print(f"{name} seed {seed}: {len(study.trials)} trials, HV {hv:.6f}", markup=False)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["accuracy", "resnet", "hv", "all"], default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hv-seconds", type=float, default=240.0)
    args = parser.parse_args()
    if args.part in ("accuracy", "all"):
        accuracy_part(args.seeds)
    if args.part in ("resnet", "all"):
        resnet_part()
    if args.part in ("hv", "all"):
        hv_part(args.seeds[:2], args.hv_seconds)


if __name__ == "__main__":
    main()
