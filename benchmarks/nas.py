"""Single-Path NAS on digits (issue 15): does weight sharing rank architectures, and does the
hardware-aware search beat sampling architectures at equal wall-clock?

Three tables, all on the study ``studies/nas-digits.yaml`` (its supernet, proxy recipe, space and
reference point), every network quantized INT8 (weights and activations) on an ``int8`` PE array:

1. Ranking fidelity: ``--archs`` random architectures of the space, each (a) cut out of the trained
   supernet and briefly fine-tuned by the proxy (the search's accuracy), (b) cut out and only
   BatchNorm-re-estimated (weight sharing alone), and (c) trained from scratch (fresh weights, FP32)
   for ``--scratch-factor`` times the brief fine-tune's steps, then quantized INT8 (calibrated).
   Kendall tau-b of (a) and (b) against (c).
2. Fronts at equal wall-clock: the Single-Path NAS lambda sweep (search + evaluation of each
   architecture found) against random architectures and Optuna's TPE over the same 13
   architecture parameters, each given the sweep's wall-clock. Each architecture is costed on
   every ``int8`` design of the space's hardware grid (the PPA model is vectorized), and the
   hypervolume is over accuracy x energy x area of all of them, at the study's reference point.
3. Search cost: seconds each method needs to reach the NAS sweep's hypervolume (samplers run for
   ``--sampler-budget`` times the sweep's wall-clock).

The supernet is pretrained once (cached in ``--cache-dir``; its time is printed, and is shared by
NAS and the samplers alike); every method has its own proxy result cache, so no method profits
from another's fine-tunes.

Run:  nice -n 19 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nas.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from scipy.stats import kendalltau

from coexplore.accuracy import ProxyEvaluator
from coexplore.accuracy.training import correct, reestimate_batchnorm, train
from coexplore.hardware import DesignBatch, DesignPoint
from coexplore.nas import (
    ARCH_CHOICE,
    BlockChoice,
    SinglePathArchitecture,
    ThresholdConfig,
    cost_table,
    decode,
    encode,
    subnetwork,
    threshold_search,
)
from coexplore.ppa import evaluate
from coexplore.quant import QuantPlan, calibrate_quantizers, quantize_model
from coexplore.record.front import hypervolume, non_dominated_mask
from coexplore.search.nas_study import reference_params
from coexplore.search.study_config import load_study
from coexplore.transforms import ModelSide

STUDY = Path(__file__).resolve().parents[1] / "studies" / "nas-digits.yaml"
PLAN = QuantPlan(pe_type="int8")
DIRECTIONS = ["maximize", "minimize", "minimize"]
SKIPPABLE = (0, 2, 4)


class Bench:
    """The study's proxy (one result cache per method), its hardware grid and the PPA costing."""

    def __init__(self, cache_dir: Path) -> None:
        self.cfg = load_study(STUDY)
        self.proxy_cfg = self.cfg.proxy_config().model_copy(update={"threads": 1, "device": "cpu"})
        self.cache_dir = cache_dir
        self.runs = Path(tempfile.mkdtemp(prefix="nas-bench-"))
        start = time.perf_counter()
        base = self.proxy("pretrain")
        base.fp32_model()  # pretrain (or load) the supernet once
        self.pretrain_s = time.perf_counter() - start
        self.baseline = base.baseline_accuracy
        self.names = list(base.layer_names)
        cols = self.cfg.space.hardware_grid()
        keep = [i for i, pe in enumerate(cols["pe_type"]) if pe == "int8"]
        self.grid = DesignBatch.from_columns({k: [v[i] for i in keep] for k, v in cols.items()})
        self.ref = reference_params(self.cfg.space, self.names, "int8")
        hw = {**self.cfg.space.fixed, **{k: v for k, v in self.ref.items() if k in self.cfg.space.hardware}}
        self.design = DesignPoint(pe_type="int8", **hw)
        self.reference_point = [self.cfg.objectives.reference_point[k] for k in ("accuracy", "energy_mj", "area_mm2")]

    def proxy(self, method: str) -> ProxyEvaluator:
        return ProxyEvaluator(self.proxy_cfg, cache_dir=self.cache_dir, cache_url=f"sqlite:///{self.runs}/{method}.db")

    def side(self, method: str) -> ModelSide:
        proxy = self.proxy(method)
        return ModelSide(proxy, {ARCH_CHOICE: SinglePathArchitecture(proxy)})

    def points(self, side: ModelSide, arch: str, accuracy: float) -> np.ndarray:
        """(accuracy, energy_mj, area_mm2) of ``arch`` on every feasible int8 design of the grid."""
        res = evaluate(self.grid, side.workload({ARCH_CHOICE: arch}))
        ok = np.asarray(res.feasible)
        e, a = np.asarray(res.energy_j)[ok] * 1e3, np.asarray(res.area_mm2)[ok]
        return np.column_stack([np.full(len(e), accuracy), e, a])

    def hv(self, point_sets: list[np.ndarray]) -> float:
        if not point_sets:
            return 0.0
        pts = np.vstack(point_sets)
        return hypervolume(pts[non_dominated_mask(pts, DIRECTIONS)], DIRECTIONS, self.reference_point)


def random_arch(rng: np.random.Generator, blocks: int = 5) -> str:
    """A uniformly random architecture of the space (each parameter uniform, as a random sampler draws)."""
    return encode([BlockChoice(int(rng.choice([3, 5])), int(rng.choice([3, 6])), i in SKIPPABLE and bool(rng.random() < 0.5))
                   for i in range(blocks)])


def scratch_accuracy(bench: Bench, proxy: ProxyEvaluator, arch: str, steps: int, seed: int) -> float:
    """The architecture trained from fresh weights in FP32 for ``steps`` steps, then quantized INT8
    (calibrated, BatchNorm re-estimated; no fine-tune): its standalone accuracy. FP32 training runs
    about twice as fast as quantization-aware training here, and INT8 after training loses little."""
    from coexplore.accuracy import build_model

    fold, cfg = proxy.folds[0], bench.proxy_cfg
    torch.manual_seed(seed)
    fresh = build_model(proxy.model_name, proxy.data.num_classes, proxy.input_shape[1])
    model = subnetwork(fresh, decode(arch))
    train(model, fold.train_x, fold.train_y, steps=steps, lr=cfg.pretrain_lr, batch_size=cfg.batch_size, seed=seed,
          num_classes=proxy.data.num_classes)
    model = quantize_model(model, PLAN, inplace=True, layer_names=bench.names)
    calibrate_quantizers(model, fold.train_x[:256])
    reestimate_batchnorm(model, fold.train_x)
    return correct(model, fold.val_x, fold.val_y) / len(fold.val_y)


def shared_only_accuracy(proxy: ProxyEvaluator, arch: str) -> float:
    """The architecture cut out of the supernet, BatchNorm re-estimated, no training (FP32)."""
    fold = proxy.folds[0]
    model = subnetwork(proxy.fp32_model(), decode(arch))
    reestimate_batchnorm(model, fold.train_x)
    return correct(model, fold.val_x, fold.val_y) / len(fold.val_y)


def timed_eval(bench: Bench, side: ModelSide, arch: str) -> tuple[float, float, np.ndarray]:
    start = time.perf_counter()
    acc = float(side.evaluate(PLAN, {ARCH_CHOICE: arch}).accuracy)
    pts = bench.points(side, arch, acc)
    return acc, time.perf_counter() - start, pts


def ranking(bench: Bench, archs: list[str], factor: int, seed: int) -> dict:
    side = bench.side("ranking")
    steps = side.proxy.steps(PLAN)
    brief, shared, scratch, evals = [], [], [], []
    print(f"\n## 1. Ranking fidelity: {len(archs)} random architectures; brief = {steps} fine-tune steps from the "
          f"supernet, scratch = {factor * steps} FP32 steps from fresh weights, then INT8\n")
    print("| architecture | MACs | brief % | shared only % | scratch % | brief s | scratch s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for arch in archs:
        acc, secs, pts = timed_eval(bench, side, arch)
        evals.append((arch, acc, secs, pts))
        brief.append(acc)
        shared.append(shared_only_accuracy(side.proxy, arch))
        t0 = time.perf_counter()
        scratch.append(scratch_accuracy(bench, side.proxy, arch, factor * steps, seed))
        macs = side.workload({ARCH_CHOICE: arch}).macs
        print(f"| {arch} | {macs / 1e3:.0f} k | {brief[-1] * 100:.1f} | {shared[-1] * 100:.1f} | "
              f"{scratch[-1] * 100:.1f} | {secs:.1f} | {time.perf_counter() - t0:.1f} |", flush=True)
    tau_brief = kendalltau(brief, scratch).statistic
    tau_shared = kendalltau(shared, scratch).statistic
    print(f"\nKendall tau-b vs scratch: brief fine-tune {tau_brief:.3f}, weight sharing alone {tau_shared:.3f} "
          f"(scratch accuracies span {min(scratch) * 100:.1f}-{max(scratch) * 100:.1f} %)")
    return {"evals": evals, "tau_brief": tau_brief, "tau_shared": tau_shared}


def nas_sweep(bench: Bench, lambdas: list[float], steps: int) -> dict:
    side = bench.side("nas")
    proxy = side.proxy
    start = time.perf_counter()
    w, a = PLAN.resolve(bench.names)
    table = cost_table(side.transforms[ARCH_CHOICE].skeleton, proxy.input_shape, bench.design,
                       weight_bits=dict(zip(bench.names, w)), act_bits=dict(zip(bench.names, a)))
    cfg = bench.proxy_cfg
    history, seen = [], {}
    for lam in lambdas:
        config = ThresholdConfig(cost_weight=lam, steps=steps, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed,
                                 skippable=SKIPPABLE)
        found = threshold_search(proxy.fp32_model(), proxy.data.train_x, proxy.data.train_y, table, config)
        arch = found.architecture
        if arch not in seen:
            seen[arch] = timed_eval(bench, side, arch)
        acc, secs, pts = seen[arch]
        history.append((time.perf_counter() - start, pts, arch))
        print(f"| {lam:g} | {arch} | {found.relative_cost:.3f} | {acc * 100:.1f} | {found.seconds:.1f} | {secs:.1f} |",
              flush=True)
    return {"seconds": time.perf_counter() - start, "history": history}


def sampler_run(bench: Bench, method: str, budget_s: float, seed: int, first: list | None = None) -> list:
    """(elapsed s, points, architecture) per evaluation until ``budget_s``; ``first`` (already measured
    random evaluations: arch, acc, seconds, points) are replayed at their measured cost. A repeated
    architecture is a proxy cache hit, as in a study."""
    history, elapsed = [], 0.0
    for arch, _, secs, pts in first or []:
        elapsed += secs
        history.append((elapsed, pts, arch))
        if elapsed >= budget_s:
            return history
    side = bench.side(method)
    if method == "random":
        rng = np.random.default_rng(seed + 1000)
        while elapsed < budget_s:
            arch = random_arch(rng)
            _, secs, pts = timed_eval(bench, side, arch)
            elapsed += secs
            history.append((elapsed, pts, arch))
        return history
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=5)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    energy_ref = bench.design

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        nonlocal elapsed
        choices = [BlockChoice(trial.suggest_categorical(f"kernel.blocks.{i}", [3, 5]),
                               trial.suggest_categorical(f"expand.blocks.{i}", [3, 6]),
                               trial.suggest_categorical(f"skip.blocks.{i}", [False, True]) if i in SKIPPABLE else False)
                   for i in range(5)]
        acc, secs, pts = timed_eval(bench, side, encode(choices))
        elapsed += secs
        history.append((elapsed, pts, encode(choices)))
        e = evaluate(DesignBatch.from_points([energy_ref]), side.workload({ARCH_CHOICE: encode(choices)})).energy_j[0]
        return acc, float(e)

    while elapsed < budget_s:
        study.optimize(objective, n_trials=1)
    return history


def hv_at(bench: Bench, history: list, t: float) -> float:
    return bench.hv([h[1] for h in history if h[0] <= t + 1e-9])


def time_to(bench: Bench, history: list, target: float) -> float | None:
    for i, h in enumerate(history):
        if bench.hv([g[1] for g in history[: i + 1]]) >= target * (1 - 1e-9):
            return h[0]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=12, help="random architectures of the ranking table")
    ap.add_argument("--scratch-factor", type=int, default=10, help="scratch training steps / brief fine-tune steps")
    ap.add_argument("--lambdas", default="0,0.3,1,3", help="cost weights of the NAS sweep")
    ap.add_argument("--steps", type=int, default=200, help="threshold-search steps per lambda")
    ap.add_argument("--sampler-budget", type=float, default=2.0, help="samplers' wall-clock, in NAS sweeps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "coexplore-nas-bench"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    bench = Bench(Path(args.cache_dir))
    print(f"supernet ({bench.proxy_cfg.model}): FP32 full-path accuracy {bench.baseline * 100:.1f} %, "
          f"pretrain/load {bench.pretrain_s:.1f} s; reference design {bench.ref}")
    rng = np.random.default_rng(args.seed)
    archs: list[str] = []
    while len(archs) < args.archs:
        a = random_arch(rng)
        if a not in archs:
            archs.append(a)
    rank = ranking(bench, archs, args.scratch_factor, args.seed)

    lambdas = [float(v) for v in args.lambdas.split(",")]
    print(f"\n## 2. Single-Path NAS lambda sweep (cost: energy at the reference design, {args.steps} steps each)\n")
    print("| lambda | architecture | cost / full | brief % | search s | eval s |")
    print("|---:|---|---:|---:|---:|---:|")
    nas = nas_sweep(bench, lambdas, args.steps)
    t_nas = nas["seconds"]
    budget = args.sampler_budget * t_nas
    runs = {"Single-Path NAS sweep": nas["history"],
            "random architectures": sampler_run(bench, "random", budget, args.seed, first=rank["evals"]),
            "TPE over the 13 architecture params": sampler_run(bench, "tpe", budget, args.seed)}
    target = bench.hv([h[1] for h in nas["history"]])
    print(f"\n## 3. Hypervolume (accuracy x energy_mj x area_mm2 over the int8 hardware grid, reference "
          f"{bench.reference_point}) and search cost; NAS sweep wall-clock {t_nas:.0f} s\n")
    print("| method | evaluations (distinct architectures) at NAS's wall-clock | HV there | at the end | HV at the end "
          "| s to reach NAS's HV |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, hist in runs.items():
        equal = [h for h in hist if h[0] <= t_nas + 1e-9]
        reach = time_to(bench, hist, target)
        print(f"| {name} | {len(equal)} ({len({h[2] for h in equal})}) | {hv_at(bench, hist, t_nas):.3e} | "
              f"{len(hist)} ({len({h[2] for h in hist})}) in {hist[-1][0]:.0f} s | {bench.hv([h[1] for h in hist]):.3e} | "
              f"{'not reached' if reach is None else f'{reach:.0f}'} |")
    print(f"\ntotal benchmark wall-clock {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
