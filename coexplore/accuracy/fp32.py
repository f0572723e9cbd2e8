"""Where the proxy's FP32 model comes from, and its baseline accuracy.

Either pretrained by the proxy, once per cross-validation fold and cached on disk by a key of
model, architecture, data, fold and recipe; or a user's trained checkpoint
(:mod:`coexplore.accuracy.checkpoint`), with one fold (the user's own train / validation split:
the network trained on its own split, so other folds would validate it on images it has seen).
With ``val_samples`` every fold validates on a fixed random subset of its validation split; the
baseline is measured on the same images, so the drop compares like with like.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from coexplore.accuracy.cache import load_checkpoint, save_checkpoint, stable_hash
from coexplore.accuracy.checkpoint import cached_baseline, file_sha256, fit, read_state_dict
from coexplore.accuracy.datasets import SPLIT_SEED
from coexplore.accuracy.training import correct, torch_settings, train

if TYPE_CHECKING:
    from coexplore.accuracy.evaluator import ProxyEvaluator
    from coexplore.accuracy.folds import Fold


def subset_validation(folds: list[Fold], val_samples: int | None) -> list[Fold]:
    """``folds`` with each validation split cut to ``val_samples`` images (a fixed random subset,
    the same for every seed and plan, in the split's order); None: unchanged."""
    if val_samples is None:
        return folds
    out = []
    for f in folds:
        if len(f.val_y) <= val_samples:
            out.append(f)
            continue
        keep = np.sort(np.random.default_rng(SPLIT_SEED + 2).permutation(len(f.val_y))[:val_samples])
        idx = torch.from_numpy(keep)
        out.append(replace(f, val_x=f.val_x[idx], val_y=f.val_y[idx]))
    return out


def fp32_keys(ev: ProxyEvaluator, architecture: list, version: int) -> list[str]:
    """One key per fold: a pretrained checkpoint's (file name and validity), or the user
    checkpoint's (its content hash, the architecture and the data), which salts every result key."""
    cfg, data_print = ev.config, ev.data.fingerprint()
    if cfg.checkpoint is not None:
        identity = {"v": version, "model": ev.model_name, "architecture": architecture,
                    "checkpoint_sha256": file_sha256(cfg.checkpoint), "data": data_print}
        return [stable_hash(identity)]
    return [
        stable_hash(
            {
                "v": version,
                "model": ev.model_name,
                # parameter names and shapes: a changed architecture never loads a stale checkpoint
                "architecture": architecture,
                "dataset": cfg.dataset,
                "data": data_print,
                "fold": fold.name,
                "recipe": cfg.pretrain_recipe(),
            }
        )
        for fold in ev.folds
    ]


def checkpoint_path(ev: ProxyEvaluator, fold: int) -> Path:
    """The cache file of fold ``fold``'s pretrained FP32 model."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", ev.model_name)
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", ev.config.dataset)[-40:]
    return ev.cache_dir / f"fp32-{slug}-{dataset}-{ev._pretrain_keys[fold][:16]}.pt"


def ensure_fp32(ev: ProxyEvaluator, fold: int) -> dict:
    """Fold ``fold``'s FP32 weights (``{"key", "state_dict", ...}``): the user's checkpoint, or
    the cached pretrained one (pretraining once when missing)."""
    if fold not in ev._checkpoints:
        key = ev._pretrain_keys[fold]
        if ev.config.checkpoint is not None:
            state, fmt = read_state_dict(ev.config.checkpoint)
            with torch.random.fork_rng(devices=[]):
                skeleton = ev._new_model()
            state = fit(skeleton, state, f"checkpoint: {ev.config.checkpoint}")
            ckpt = {"key": key, "state_dict": state, "model": ev.model_name, "format": fmt}
        else:
            path = checkpoint_path(ev, fold)
            ckpt = load_checkpoint(path)
            if ckpt is None or ckpt.get("key") != key:
                ckpt = pretrain(ev, fold)
                save_checkpoint(path, ckpt)
        ev._checkpoints[fold] = ckpt
    return ev._checkpoints[fold]


def pretrain(ev: ProxyEvaluator, fold: int) -> dict:
    """Pretrain fold ``fold``'s FP32 model by the config's recipe; validated on the whole split."""
    cfg, f, full = ev.config, ev.folds[fold], ev.full_folds[fold]
    train_x, train_y = f.train_x.to(ev.device), f.train_y.to(ev.device)
    steps_per_epoch = max(1, len(train_y) // min(cfg.batch_size, len(train_y)))
    with torch_settings(ev.threads):
        model = ev._new_model().to(ev.device)
        train(
            model, train_x, train_y,
            steps=cfg.pretrain_epochs * steps_per_epoch,
            lr=cfg.pretrain_lr,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            num_classes=ev.data.num_classes,
            weight_decay=cfg.weight_decay,
            phase="pretrain" if len(ev.folds) == 1 else f"pretrain fold {fold}",
            progress=ev.progress,
        )
        hits = correct(model, full.val_x.to(ev.device), full.val_y.to(ev.device))
    ev.training_runs += 1
    return {
        "key": ev._pretrain_keys[fold],
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "val_accuracy": hits / max(len(full.val_y), 1),
        "val_correct": hits,
        "model": ev.model_name,
    }


def baseline_correct(ev: ProxyEvaluator, fold: int) -> int:
    """Validation images of fold ``fold`` (its subset with ``val_samples``) the FP32 model gets
    right: a user checkpoint's measured once and cached by its content hash; a pretrained model's
    stored with it (full split) or measured once per evaluator (subset)."""
    if fold in ev._baseline_hits:
        return ev._baseline_hits[fold]
    ckpt, f = ensure_fp32(ev, fold), ev.folds[fold]

    def measure() -> tuple[int, int]:
        with torch_settings(ev.threads):
            model = ev.fp32_model(fold).to(ev.device)
            return correct(model, f.val_x.to(ev.device), f.val_y.to(ev.device)), len(f.val_y)

    if ev.config.checkpoint is not None:
        key = stable_hash({"baseline": ckpt["key"], "val_samples": ev.config.val_samples})
        hits = cached_baseline(ev.cache_dir, key, measure)[0]
    elif ev.config.val_samples is None:
        hits = int(ckpt.get("val_correct", round(ckpt["val_accuracy"] * len(f.val_y))))
    else:
        hits = measure()[0]
    ev._baseline_hits[fold] = hits
    return hits
