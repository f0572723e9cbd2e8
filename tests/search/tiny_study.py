"""A tiny real study (digits, a few fine-tune steps, a handful of trials) for end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import yaml

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
        "heartbeat_interval": 1, "grace_period": 3,
        "proxy": {"pretrain_epochs": 1, "finetune_steps": finetune_steps, "threads": 1},
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
