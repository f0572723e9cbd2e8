"""The dataflow contract: map every layer onto the PE array and count cycles and accesses.

A dataflow sees a batch of design points that all use it (``D`` rows) and all layers (``L``
columns) at once. It returns, per ``D x L x M``, the compute cycles of one precision pass and the
number of values each operand moves at each level below the global buffer, for each of its ``M``
intra-array mappings (which loops are unrolled on rows and columns, which run in time inside a
PE, given the design point's scratchpads). Member 0 is always the dataflow's reference mapping
(SCALE-Sim's for the systolic ones); the evaluator picks one member per ``D x L`` by the study's
criterion (:mod:`coexplore.ppa.mapper`). The GLB <-> DRAM tiling is common to all dataflows
(``coexplore.ppa.tiling``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

# Reason codes of an array-level mapping that does not fit (0 = fits).
FITS = 0
IFMAP_SPAD_TOO_SMALL = 1
FILTER_SPAD_TOO_SMALL = 2


@dataclass(frozen=True)
class MappingInputs:
    """What a dataflow needs; layer fields are ``1 x L``, design fields ``D x 1``, capacities ``D x L``.

    ``p`` is the number of output rows over the whole batch (``n * p_image``) where a dataflow
    folds the batch into rows (row stationary); ``n``, ``p_img`` are kept for the systolic ones.
    ``*_cap`` are spad capacities in values of the operating precision (packed words);
    ``load_per_cycle`` the values per cycle the GLB port delivers to PE register files (``D x L``;
    unlimited by default, each PE then loads one value per cycle).
    """

    n: np.ndarray
    c: np.ndarray
    k: np.ndarray
    r: np.ndarray
    s: np.ndarray
    p_img: np.ndarray
    q: np.ndarray
    groups: np.ndarray
    macs: np.ndarray
    ifmap_values: np.ndarray  # input values the layer reads once (true footprint)
    weight_values: np.ndarray
    ofmap_values: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    ifmap_cap: np.ndarray
    filter_cap: np.ndarray
    psum_cap: np.ndarray
    load_per_cycle: np.ndarray | float = np.inf  # values/cycle the GLB port can load into PE register files

    @property
    def cg(self) -> np.ndarray:
        """Input channels per group."""
        return self.c // self.groups

    @property
    def kg(self) -> np.ndarray:
        """Output channels per group."""
        return self.k // self.groups


@dataclass(frozen=True)
class ArrayCosts:
    """Per ``D x L x M`` (``M`` mapping members): cycles of one pass and value counts per operand
    and level.

    ``glb_*`` count values read from or written to the global buffer by the array, ``spad_*``
    scratchpad / PE-register accesses, ``noc_*`` inter-PE or bus deliveries; ``w`` weights,
    ``a`` activations (ifmap), ``p`` partial sums (at accumulator width); ``preload_w`` the
    weights the array must hold before its first MAC (they cannot overlap with compute).
    """

    cycles: np.ndarray
    glb_w: np.ndarray
    glb_a: np.ndarray
    glb_p: np.ndarray
    spad_w: np.ndarray
    spad_a: np.ndarray
    spad_p: np.ndarray
    noc_w: np.ndarray
    noc_a: np.ndarray
    noc_p: np.ndarray
    reason: np.ndarray
    preload_w: np.ndarray | float = 0.0


class Dataflow(ABC):
    """One way of mapping a layer onto a 2D PE array (Eyeriss row stationary, TPU systolic...)."""

    name: str = ""

    @abstractmethod
    def map(self, x: MappingInputs) -> ArrayCosts:
        """Cycles and access counts of every layer on every design point for each mapping member
        (``D x L x M`` arrays; member 0 the reference mapping)."""


def stack_members(members: list[ArrayCosts]) -> ArrayCosts:
    """Stack ``D x L`` member costs into ``D x L x M`` arrays (member order kept)."""
    names = ArrayCosts.__dataclass_fields__
    shape = np.broadcast_shapes(*(np.shape(getattr(m, f)) for m in members for f in names))
    return ArrayCosts(**{
        f: np.stack([np.broadcast_to(getattr(m, f), shape) for m in members], axis=-1) for f in names
    })


def cdiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ceiling division of non-negative integers (as int64 or float arrays)."""
    return -(-a // b)
