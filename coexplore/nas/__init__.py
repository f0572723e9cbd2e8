"""Single-Path NAS: architecture (kernel size, expansion ratio, skip per MBConv block) as a model-side
axis of a study, and the differentiable, hardware-aware threshold search.

- :mod:`~coexplore.nas.settings` — the space's ``model.architecture`` axis and the architecture string (torch-free).
- :mod:`~coexplore.nas.supernet` — the single-path supernet of MBConv superkernels (a proxy model).
- :mod:`~coexplore.nas.cut` — a sub-network cut out of the trained superkernels.
- :mod:`~coexplore.nas.transform` — the architecture as a model-side transform of the proxy.
- :mod:`~coexplore.nas.lut` — per-block, per-choice cost table from the PPA model.
- :mod:`~coexplore.nas.threshold` — the search: learned thresholds on superkernel norms.

Importing this package loads neither torch nor the proxy; the torch-backed names load on first use.
Study files name the supernet as their model: ``model: coexplore.nas:supernet_digits`` (8x8 digits)
or ``coexplore.nas:supernet_32`` (32x32 images).
"""

from __future__ import annotations

import importlib
from typing import Any

from coexplore.nas.settings import (
    ARCH_CHOICE,
    EXPANDS,
    KERNELS,
    LARGEST,
    ArchitectureAxis,
    BlockChoice,
    block_names,
    decode,
    encode,
)

_LAZY = {
    "MBConvBlock": "supernet", "SinglePathSupernet": "supernet", "supernet_digits": "supernet",
    "supernet_32": "supernet",
    "ArchitectureError": "cut", "cut_block": "cut", "is_supernet": "cut", "subnetwork": "cut",
    "SinglePathArchitecture": "transform", "architecture_problems": "transform",
    "CostTable": "lut", "cost_table": "lut",
    "ThresholdConfig": "threshold", "ThresholdResult": "threshold", "threshold_search": "threshold",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"coexplore.nas.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'coexplore.nas' has no attribute {name!r}")


__all__ = [  # noqa: PLE0604 - the lazily loaded names are listed too
    "ARCH_CHOICE", "EXPANDS", "KERNELS", "LARGEST", "ArchitectureAxis", "BlockChoice", "block_names", "decode",
    "encode", *sorted(_LAZY),
]
