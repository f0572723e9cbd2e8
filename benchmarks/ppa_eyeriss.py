"""The Eyeriss chip on AlexNet's convolutional layers: our figures against the published ones.

Eyeriss (Chen et al., JSSC 2017, Table V): AlexNet CONV1-5 at batch 4 on 168 PEs at 200 MHz,
65 nm, 16-bit fixed point: 115.3 ms per batch (34.7 frames/s) at 278 mW of chip power (DRAM
not included), i.e. 32.1 mJ on chip per batch. We evaluate ``examples/eyeriss.yaml`` (12x14 PEs,
12/224/24-word spads, 108 KiB GLB, row stationary, 65 nm) on the zoo's AlexNet CONV layers
(torchvision shapes, 224x224 input) at batch 4 and require each figure within a factor of two
(``BOUNDS``): an analytical model with a published technology table should land near, not on,
a measured chip.

Usage:
    .venv/bin/python benchmarks/ppa_eyeriss.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coexplore.hardware import DesignBatch, load_design
from coexplore.ppa import evaluate
from coexplore.workload import Workload, zoo

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = {"latency_ms": 115.3, "chip_energy_mj": 278e-3 * 115.3, "chip_power_mw": 278.0}
BOUNDS = (0.5, 2.0)


def alexnet_conv(batch: int = 4) -> Workload:
    """AlexNet's five convolutional layers at ``batch``."""
    layers = tuple(dataclasses.replace(layer, n=batch) for layer in zoo.get("alexnet").layers
                   if layer.kind == "conv")
    return Workload(f"alexnet-conv-b{batch}", layers)


def figures() -> dict[str, float]:
    """Our latency (ms), chip energy (mJ, DRAM excluded) and chip power (mW) for the batch."""
    design = load_design(ROOT / "examples" / "eyeriss.yaml")
    res = evaluate(DesignBatch.from_points([design]), alexnet_conv())
    chip_j = float(res.energy_j[0] - res.energy_breakdown_j["dram"][0])
    latency = float(res.latency_s[0])
    return {"latency_ms": latency * 1e3, "chip_energy_mj": chip_j * 1e3, "chip_power_mw": chip_j / latency * 1e3}


def main() -> None:
    ours = figures()
    print(f"{'figure':<18}{'ours':>10}{'Eyeriss':>10}{'ratio':>8}  within {BOUNDS[0]}-{BOUNDS[1]}x")
    for key, published in PUBLISHED.items():
        ratio = ours[key] / published
        ok = BOUNDS[0] <= ratio <= BOUNDS[1]
        print(f"{key:<18}{ours[key]:>10.1f}{published:>10.1f}{ratio:>8.2f}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
