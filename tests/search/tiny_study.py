"""A tiny real study (digits, a few fine-tune steps, a handful of trials) and a tiny real proxy, for end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from coexplore.accuracy import DigitsCNN, ProxyConfig, ProxyEvaluator

TINY_SPACE = {
    "hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4},
                 "glb_kib": {"type": "int", "low": 16, "high": 128, "log": True},
                 "dram_gbps": {"type": "categorical", "choices": [6.4, 25.6]}},
    "model": {"pe_type": ["int8", "int4"], "weight_bits": {"choices": [4, 8]}},
}
TINY_OBJECTIVES = {
    "objectives": ["accuracy", "energy_mj", "area_mm2"],
    "constraints": ["area_mm2 <= 2"],
    "reference_point": {"accuracy": 0.0, "energy_mj": 0.1, "area_mm2": 2.0},
}
TINY_MODEL = "tests.search.tiny_study:tiny_cnn"
"""The proxy model of :func:`tiny_proxy`: the digits CNN at width 4 (same layer names, 1/16 of the MACs)."""


def tiny_cnn(num_classes: int = 10, in_channels: int = 1) -> DigitsCNN:
    """The digits CNN at width 4 (a ``module:factory`` model for :class:`ProxyConfig`)."""
    return DigitsCNN(num_classes, in_channels, width=4)


def tiny_proxy_config(**over) -> ProxyConfig:
    """A proxy recipe that pretrains in about two seconds and fine-tunes in a fraction of one: one
    fold, ten epochs of pretraining, 20 fine-tune steps, one thread, on the CPU."""
    settings = {"model": TINY_MODEL, "dataset": "digits", "folds": 1, "pretrain_epochs": 10, "pretrain_lr": 1e-2,
                "finetune_steps": 20, "lr": 3e-3, "threads": 1, "device": "cpu", **over}
    return ProxyConfig(**settings)


def tiny_proxy(cache_dir: Path, cache_url: str | None = None, **over) -> ProxyEvaluator:
    """A real :class:`ProxyEvaluator` on :func:`tiny_proxy_config` (its checkpoint in ``cache_dir``;
    a new ``cache_url`` gives an empty result cache over the same checkpoint)."""
    return ProxyEvaluator(tiny_proxy_config(**over), cache_dir=cache_dir, cache_url=cache_url)


def write_tiny_study(folder: Path, *, name: str = "tiny", n_trials: int = 6, sampler: str = "random",
                     finetune_steps: int = 3, per_layer: bool = False, **extra) -> Path:
    """Write a study file (space and objectives inline) into ``folder`` and return its path.

    ``per_layer`` makes weight bits a per-layer choice: many distinct plans, so trials take proxy time.
    """
    space = yaml.safe_load(yaml.safe_dump(TINY_SPACE))
    if per_layer:
        space["model"]["weight_bits"]["per"] = "layer"
    data = {
        "name": name, "dataset": "digits", "model": "digits_cnn", "space": space, "objectives": TINY_OBJECTIVES,
        "sampler": {"name": sampler}, "n_trials": n_trials, "seed": 1, "tracking": False,
        "heartbeat_interval": 1, "grace_period": 3, "hardware_search": "joint",  # one design per trial
        "proxy": {"pretrain_epochs": 1, "finetune_steps": finetune_steps, "threads": 1, "folds": 1},
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
