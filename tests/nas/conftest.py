"""A tiny single-path supernet and study files for the NAS tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from coexplore.nas import SinglePathSupernet
from tests.search.tiny_study import TINY_OBJECTIVES

TINY_SUPERNET = "tests.nas.conftest:tiny_supernet"
"""A ``module:factory`` supernet: stem 4, blocks 4, 8/2, 8 (blocks.0 and blocks.2 may skip)."""


def tiny_supernet(num_classes: int = 10, in_channels: int = 1) -> SinglePathSupernet:
    """Three MBConv superkernel blocks at width 4-8: trains in about a second on digits."""
    return SinglePathSupernet(num_classes, in_channels, stem=4, blocks=((4, 1), (8, 2), (8, 1)))


def nas_space(**architecture) -> dict:
    """A small joint space with an architecture axis (``architecture`` overrides its fields)."""
    return {
        "hardware": {"pe_rows": {"type": "int", "low": 4, "high": 12, "step": 4},
                     "glb_kib": {"type": "categorical", "choices": [32, 64]}},
        "model": {"pe_type": ["int8"],
                  "architecture": {"kernel": [3, 5], "expand": [3, 6], "skip": ["blocks.0", "blocks.2"],
                                   "per": "block", **architecture}},
    }


def write_nas_study(folder: Path, *, name: str = "tinynas", space: dict | None = None, model: str = TINY_SUPERNET,
                    n_trials: int = 2, **extra) -> Path:
    """Write a tiny NAS study (space and objectives inline) into ``folder``; return its path."""
    data = {
        "name": name, "dataset": "digits", "model": model, "space": space or nas_space(),
        "objectives": TINY_OBJECTIVES, "sampler": {"name": "random"}, "n_trials": n_trials, "seed": 0,
        "tracking": False,
        "proxy": {"pretrain_epochs": 2, "pretrain_lr": 1e-2, "finetune_steps": 4, "threads": 1, "folds": 1,
                  "device": "cpu"},
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
