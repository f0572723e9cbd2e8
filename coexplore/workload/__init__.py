"""Workloads: layer shapes, extraction from torch modules, the zoo, SCALE-Sim topology import.

``from_module`` is imported on first use, so that reading workloads does not import torch.
"""

from __future__ import annotations

from typing import Any

from coexplore.workload import zoo
from coexplore.workload.layer import Layer, Workload
from coexplore.workload.resolve import resolve
from coexplore.workload.scalesim import from_scalesim_csv, to_scalesim_csv
from coexplore.workload.yaml_io import WorkloadFileError, dump_yaml, load_yaml

__all__ = [
    "Layer",
    "Workload",
    "WorkloadFileError",
    "dump_yaml",
    "from_module",
    "from_scalesim_csv",
    "load_yaml",
    "resolve",
    "to_scalesim_csv",
    "zoo",
]


def __getattr__(name: str) -> Any:
    if name == "from_module":
        from coexplore.workload.extract import from_module

        return from_module
    raise AttributeError(f"module 'coexplore.workload' has no attribute {name!r}")
