"""Workloads: layer shapes, extraction from torch modules, the zoo, SCALE-Sim topology import."""

from coexplore.workload.layer import Layer, Workload

__all__ = ["Layer", "Workload"]
