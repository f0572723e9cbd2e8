"""Proxy cost at CIFAR scale: seconds per pretraining epoch and per proxy evaluation, ResNet-20 and
MobileNetV2 on 32x32 inputs, from a user checkpoint (so nothing is pretrained).

Run: ``.venv/bin/python benchmarks/proxy_cifar_scale.py [--models resnet20 mobilenetv2]
[--steps 10] [--slice 2000] [--val-samples 1000] [--device auto] [--threads N] [--out rows.json]``.

The data is *generated*: CIFAR-10 python batches of the real size (50,000 training images in five
``data_batch_*`` files, 10,000 test images, 3x32x32 uint8, random pixels and labels), written to a
temporary folder and read by the registered ``cifar10`` loader (45,000 train / 5,000 validation).
Random pixels make every accuracy meaningless; the timings are those of real CIFAR-10, since the
work per image does not depend on the pixel values. The checkpoint is the model's initial weights
saved as a ``state_dict``; the evaluator is built from it as a study would (data loaded and hashed,
checkpoint read and fitted).

Each phase of an evaluation is timed on a slice and scaled linearly to its full size, as stated in
the output: training steps (batch 64; FP32 for pretraining, quantized with distillation for the
fine-tune) over ``--steps`` steps; inference, BatchNorm re-estimation and validation per image over
``--slice`` images. One evaluation = quantize + fine-tune (the int8 plan's step budget) + BatchNorm
re-estimation over the 45,000 training images + validation (5,000, or ``--val-samples``). One-off
per evaluator: set-up, the baseline (5,000 images) and the teacher's logits (45,000). Wall and CPU
seconds are both printed: on a shared machine the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from coexplore.accuracy import ProxyConfig, ProxyEvaluator, build_model
from coexplore.accuracy.datasets import load_cifar10
from coexplore.accuracy.training import correct, logits, reestimate_batchnorm, torch_settings, train
from coexplore.quant import QuantPlan, calibrate_quantizers, quantize_model


def write_cifar_format(folder: Path, seed: int = 0) -> None:
    """Five training batches of 10,000 and a test batch of 10,000 random 3x32x32 images."""
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (10_000, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, 10_000).tolist()}
        with (folder / name).open("wb") as fh:
            pickle.dump(batch, fh, protocol=2)


class Clock:
    """Wall and CPU seconds of a block (CPU: this process, every thread)."""

    def __enter__(self) -> Clock:  # noqa: PYI034
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_model(name: str, data_dir: Path, work: Path, args: argparse.Namespace) -> dict:
    """Seconds of each phase of one proxy evaluation, timed on a slice and scaled to the full size."""
    row: dict = {"model": name}
    ckpt = work / f"{name}.pt"
    torch.manual_seed(0)
    torch.save(build_model(name, 10, 3).state_dict(), ckpt)
    config = ProxyConfig(model=name, dataset="cifar10", data_dir=data_dir, checkpoint=ckpt, device=args.device,
                         threads=args.threads)
    with Clock() as c:
        ev = ProxyEvaluator(config, cache_dir=work / f"cache-{name}")
    row["setup"] = (c.wall, c.cpu)
    row["threads"], row["device"], row["macs_per_image"] = ev.threads, str(ev.device), ev.macs_per_sample
    fold, n = ev.folds[0], args.slice
    x, y = fold.train_x.to(ev.device), fold.train_y.to(ev.device)
    row["n_train"], row["n_val"] = len(y), len(fold.val_y)
    plan = QuantPlan(pe_type="int8")
    row["finetune_steps"] = ev.steps(plan)
    row["steps_per_epoch"] = len(y) // 64
    with torch_settings(ev.threads):
        model = ev.fp32_model().to(ev.device)
        train(model, x, y, steps=2, lr=1e-3, batch_size=64, seed=0, num_classes=10)  # warm-up
        with Clock() as c:
            train(model, x, y, steps=args.steps, lr=1e-3, batch_size=64, seed=0, num_classes=10)
        row["pretrain_step"] = (c.wall / args.steps, c.cpu / args.steps)
        with Clock() as c:
            teacher = logits(ev.fp32_model().to(ev.device), x[:n])
        row["inference_per_image"] = (c.wall / n, c.cpu / n)
        with Clock() as c:
            q = quantize_model(ev.fp32_model().to(ev.device), plan, inplace=True, layer_names=ev.layer_names)
            calibrate_quantizers(q, x[:256])
        row["quantize"] = (c.wall, c.cpu)
        with Clock() as c:
            train(q, x[:n], y[:n], steps=args.steps, lr=1e-3, batch_size=64, seed=1, num_classes=10,
                  quant_lr=1e-4, teacher_logits=teacher, distill_weight=1.0, temperature=2.0)
        row["finetune_step"] = (c.wall / args.steps, c.cpu / args.steps)
        with Clock() as c:
            reestimate_batchnorm(q, x[:n])
        row["bn_per_image"] = (c.wall / n, c.cpu / n)
        with Clock() as c:
            correct(q, x[:n], y[:n])
        row["validate_per_image"] = (c.wall / n, c.cpu / n)
    ev.close()
    scale = lambda pair, k: (pair[0] * k, pair[1] * k)
    row["pretrain_epoch"] = scale(row["pretrain_step"], row["steps_per_epoch"])
    row["teacher_logits"] = scale(row["inference_per_image"], row["n_train"])
    row["baseline"] = scale(row["inference_per_image"], row["n_val"])
    row["finetune"] = scale(row["finetune_step"], row["finetune_steps"])
    row["bn_reestimate"] = scale(row["bn_per_image"], row["n_train"])
    row["validate_full"] = scale(row["validate_per_image"], row["n_val"])
    row["validate_subset"] = scale(row["validate_per_image"], min(args.val_samples, row["n_val"]))
    parts = ("quantize", "finetune", "bn_reestimate")
    row["evaluation_full"] = tuple(sum(row[k][i] for k in parts) + row["validate_full"][i] for i in (0, 1))
    row["evaluation_subset"] = tuple(sum(row[k][i] for k in parts) + row["validate_subset"][i] for i in (0, 1))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["resnet20", "mobilenetv2"])
    parser.add_argument("--steps", type=int, default=10, help="training steps timed (pretrain and fine-tune)")
    parser.add_argument("--slice", type=int, default=2000, help="images timed for inference and BatchNorm")
    parser.add_argument("--val-samples", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the proxy's choice)")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = work / "cifar-10-batches-py"
        data_dir.mkdir()
        write_cifar_format(data_dir)
        t0 = time.perf_counter()
        load_cifar10(data_dir)
        load_s = time.perf_counter() - t0
        rows = []
        for name in args.models:
            rows.append(time_model(name, data_dir, work, args))
            print(json.dumps(rows[-1]), flush=True)
    meta = {"load_average_before": load_before, "load_average_after": os.getloadavg(),
            "cifar10_load_s": load_s, "torch": torch.__version__, "cpus": os.cpu_count()}
    print(json.dumps(meta))
    for r in rows:
        print(f"{r['model']} ({r['threads']} threads, {r['device']}), wall s (CPU s):")
        for k in ("pretrain_epoch", "setup", "teacher_logits", "baseline", "quantize", "finetune", "bn_reestimate",
                  "validate_full", "validate_subset", "evaluation_full", "evaluation_subset"):
            print(f"  {k:18s} {r[k][0]:9.1f} ({r[k][1]:.1f})")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "meta": meta}, indent=1))


if __name__ == "__main__":
    main()
