"""Virtual pooling (issue 16): accuracy and energy/latency with ViP on each eligible layer group, and
the front a study finds with the ViP knob against without it at equal wall-clock.

Run: ``.venv/bin/python benchmarks/vip.py [--part digits|resnet|resnet-accuracy|hv|all] [--seeds 0]
[--hv-seconds 120] [--resnet-steps 200 40]``.

* ``digits``: the digits CNN with ViP off, on ``features.0``, on ``features.3`` and on both (the
  only 8x8 maps; ``features.7``'s 4x4 map is not eligible); accuracy after the proxy's brief
  fine-tune of ``studies/vip-digits.yaml`` (INT8, 4 folds, 120 steps per fold, distillation, ViP in
  the forward pass), MACs, energy and latency at two design points. The paper's claim to hold it
  against: under 1.5 points of accuracy lost (VGG-16, ImageNet) for 2.1x speed-up.
* ``resnet``: ResNet-20 on 32x32 inputs, ViP on each stage (32x32, 16x16, 8x8 maps): MACs, energy
  and latency at two design points.
* ``resnet-accuracy``: ResNet-20's accuracy with ViP per stage, on the digits upsampled to 32x32
  (no CIFAR-10 copy on this machine): FP32 trained briefly, each variant fine-tuned the same steps
  with distillation (about 0.5 s per step at batch 32 on one shared core).
* ``hv``: ``studies/vip-digits.yaml`` with and without ``model.vip``, TPE, same seed and wall-clock
  budget, FP32 checkpoints made before the clock starts; hypervolume of the feasible front at the
  study's reference point.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from coexplore.accuracy import ResNet20
from coexplore.hardware import DesignPoint
from coexplore.ppa import evaluate_point
from coexplore.transforms.vip import eligible_layers, rewrite_workload
from coexplore.workload import Workload, from_module

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = {"12x14 PEs, 108 KiB": DesignPoint(pe_type="int8", weight_bits=8, act_bits=8),
           "8x8 PEs, 32 KiB": DesignPoint(pe_type="int8", weight_bits=8, act_bits=8, pe_rows=8, pe_cols=8, glb_kib=32)}
console = Console(highlight=False)


def _cost_columns(base: Workload, wl: Workload) -> list[str]:
    cells = [f"{wl.macs / 1e6:.3f}", f"{base.macs / wl.macs:.2f}x"]
    for design in DESIGNS.values():
        a, b = evaluate_point(design, base), evaluate_point(design, wl)
        cells += [f"{b.energy_j[0] * 1e6:.3f} ({b.energy_j[0] / a.energy_j[0]:.2f})",
                  f"{b.latency_s[0] * 1e6:.1f} ({b.latency_s[0] / a.latency_s[0]:.2f})"]
    return cells


def _cost_table(title: str, first: list[str]) -> Table:
    table = Table(title=title)
    for col in (*first, "MMACs", "MAC cut"):
        table.add_column(col, justify="right")
    for name in DESIGNS:
        table.add_column(f"energy uJ (ratio), {name}", justify="right")
        table.add_column(f"latency us (ratio), {name}", justify="right")
    return table


def digits_part(seeds: list[int]) -> None:
    from coexplore.accuracy import ProxyEvaluator
    from coexplore.quant import QuantPlan
    from coexplore.search.study_config import load_study
    from coexplore.transforms import ModelSide, VirtualPooling

    cfg = load_study(ROOT / "studies" / "vip-digits.yaml")
    choices = {"off": "", "features.0": "features.0", "features.3": "features.3", "both": "features.0,features.3"}
    table = _cost_table("digits CNN (8x8): ViP per eligible layer, INT8", ["ViP on", "seed", "accuracy %", "drop pts"])
    for seed in seeds:
        cache = Path(os.environ.get("COEXPLORE_PROXY_CACHE_DIR", ROOT / "coexplore-runs" / "proxy-cache"))
        cache.mkdir(parents=True, exist_ok=True)
        proxy = ProxyEvaluator(cfg.proxy_config().model_copy(update={"seed": seed}), cache_dir=cache)
        side = ModelSide(proxy, {"vip_layers": VirtualPooling(proxy, ["features.0", "features.3"])})
        plan, base = QuantPlan(pe_type="int8"), proxy.workload()
        ref = None
        for label, value in choices.items():
            t0 = time.perf_counter()
            acc = float(side.evaluate(plan, {"vip_layers": value}).accuracy)
            ref = acc if ref is None else ref
            console.print(f"seed {seed} ViP {label}: accuracy {acc:.4f} ({time.perf_counter() - t0:.0f} s)", markup=False)
            wl = side.workload({"vip_layers": value})
            table.add_row(label, str(seed), f"{100 * acc:.2f}", f"{100 * (ref - acc):.2f}", *_cost_columns(base, wl))
    console.print(table)


def resnet_part() -> None:
    net = ResNet20(in_channels=3)
    base = from_module(net, (1, 3, 32, 32), "resnet20")
    ok = eligible_layers(net, base)
    maps = {l.name: l.p for l in base.layers}
    stages = {"32x32 (conv1, layer1)": [n for n in ok if maps[n] == 32],
              "16x16 (layer2)": [n for n in ok if maps[n] == 16],
              "8x8 (layer3)": [n for n in ok if maps[n] == 8]}
    stages["32x32 + 16x16"] = stages["32x32 (conv1, layer1)"] + stages["16x16 (layer2)"]
    table = _cost_table("ResNet-20 (32x32): ViP per stage, INT8 (accuracy: --part resnet-accuracy)",
                        ["ViP on", "convs"])
    table.add_row("off", "0", *_cost_columns(base, base))
    for label, layers in stages.items():
        table.add_row(label, str(len(layers)), *_cost_columns(base, rewrite_workload(base, layers)))
    console.print(table)


def resnet_accuracy_part(pretrain: int, finetune: int, batch: int = 32) -> None:
    """ResNet-20 on the digits upsampled to 32x32 (bilinear; no CIFAR-10 copy here): FP32 trained
    ``pretrain`` Adam steps, then each ViP stage (and ViP off, for the same steps) fine-tuned
    ``finetune`` steps with the FP32 model's soft labels; FP32 accuracy on the validation split."""
    import copy

    import torch.nn.functional as F

    from coexplore.accuracy.datasets import load_digits
    from coexplore.accuracy.training import accuracy, logits, train
    from coexplore.transforms.vip import vip_conv

    torch.set_num_threads(1)
    data = load_digits()
    up = lambda x: F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x, y, vx, vy = up(data.train_x), data.train_y, up(data.val_x), data.val_y
    torch.manual_seed(0)
    net = ResNet20(in_channels=1)
    t0 = time.perf_counter()
    train(net, x, y, steps=pretrain, lr=3e-3, batch_size=batch, seed=0, num_classes=10, phase="pretrain")
    fp32 = accuracy(net, vx, vy)
    console.print(f"ResNet-20 on 32x32 digits: FP32 {fp32:.4f} after {pretrain} steps "
                  f"({time.perf_counter() - t0:.0f} s)", markup=False)
    teacher = logits(net, x)
    base = from_module(net, (1, 1, 32, 32), "resnet20")
    ok, maps = eligible_layers(net, base), {l.name: (l.p, l.q) for l in base.layers}
    stages = {"off": [], "32x32": [n for n in ok if maps[n][0] == 32], "16x16": [n for n in ok if maps[n][0] == 16],
              "8x8": [n for n in ok if maps[n][0] == 8]}
    table = Table(title=f"ResNet-20, digits upsampled to 32x32: ViP per stage, {finetune} fine-tune steps each")
    for col in ("ViP on", "accuracy before fine-tune %", "accuracy %", "drop pts", "MAC cut"):
        table.add_column(col, justify="right")
    ref = None
    for label, layers in stages.items():
        model = copy.deepcopy(net)
        modules = dict(model.named_modules())
        for n in layers:
            vip_conv(modules[n], maps[n])
        before = accuracy(model, vx, vy)
        train(model, x, y, steps=finetune, lr=1e-3, batch_size=batch, seed=1, num_classes=10,
              teacher_logits=teacher, distill_weight=0.5, temperature=2.0, phase="fine-tune")
        acc = accuracy(model, vx, vy)
        ref = acc if ref is None else ref
        table.add_row(label, f"{100 * before:.2f}", f"{100 * acc:.2f}", f"{100 * (ref - acc):.2f}",
                      f"{base.macs / rewrite_workload(base, layers).macs:.2f}x")
        console.print(f"ViP {label}: {before:.4f} -> {acc:.4f}", markup=False)
    console.print(table)


def hv_part(seeds: list[int], seconds: float, latency: bool = False) -> None:
    import optuna

    from coexplore.record import read_record
    from coexplore.record.front import front_hypervolume, study_front
    from coexplore.search.evaluate import build_evaluator
    from coexplore.search.samplers import make_sampler
    from coexplore.search.study_config import load_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = load_study(ROOT / "studies" / "vip-digits.yaml").model_copy(update={"tracking": False})
    if latency:  # what ViP buys is speed: accuracy vs latency vs area, at a digits-scale reference point
        from coexplore.search.objectives import parse_objectives

        cfg = cfg.model_copy(update={"objectives": parse_objectives({
            "objectives": [{"metric": "accuracy", "direction": "maximize"},
                           {"metric": "latency_ms", "direction": "minimize"},
                           {"metric": "area_mm2", "direction": "minimize"}],
            "constraints": ["accuracy_drop <= 10"],
            "reference_point": {"accuracy": 0.8, "latency_ms": 0.1, "area_mm2": 1.5}})})
    obj = cfg.objectives
    plain = cfg.space.model.model_copy(update={"vip": None})
    arms = {"without ViP": cfg.model_copy(update={"space": cfg.space.model_copy(update={"model": plain})}),
            "with ViP (per layer)": cfg}
    table = Table(title=f"{'accuracy/latency/area' if latency else 'vip-digits'} objectives, TPE, "
                        f"{seconds:.0f} s wall-clock per study")
    for col in ("study", "seed", "trials", "proxy runs", "hypervolume", "front size", "front with ViP"):
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
                t0, runs = time.perf_counter(), 0
                while time.perf_counter() - t0 < seconds:
                    trial = study.ask()
                    study.tell(trial, ev(trial))
                    runs += int(getattr(read_record(study.trials[-1]), "proxy_cache_hit", None) is False)
                front = study_front(study)
                hv = front_hypervolume(front, obj.directions, obj.reference)
                with_vip = sum(bool(read_record(t).effective.get("vip_layers")) for t in front)
                table.add_row(name, str(seed), str(len(study.trials)), str(runs), f"{hv:.6f}", str(len(front)),
                              str(with_vip))
                console.print(f"{name} seed {seed}: {len(study.trials)} trials, HV {hv:.6f}", markup=False)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["digits", "resnet", "resnet-accuracy", "hv", "all"], default="all")
    parser.add_argument("--resnet-steps", type=int, nargs=2, default=[200, 40], metavar=("PRETRAIN", "FINETUNE"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--hv-seconds", type=float, default=120.0)
    parser.add_argument("--hv-latency", action="store_true", help="hv part: accuracy/latency/area objectives")
    args = parser.parse_args()
    if args.part in ("resnet", "all"):
        resnet_part()
    if args.part in ("resnet-accuracy", "all"):
        resnet_accuracy_part(*args.resnet_steps)
    if args.part in ("digits", "all"):
        digits_part(args.seeds)
    if args.part in ("hv", "all"):
        hv_part(args.seeds, args.hv_seconds, args.hv_latency)


if __name__ == "__main__":
    main()
