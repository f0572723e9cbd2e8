"""Weight-stationary systolic array (TPU; SCALE-Sim ``ws``), with in-PE temporal reduction."""

from __future__ import annotations

import numpy as np

from coexplore.ppa.dataflows._base import (
    FITS,
    ArrayCosts,
    Dataflow,
    MappingInputs,
    cdiv,
    stack_members,
)


def reduction_per_pe(sr: np.ndarray, rows: np.ndarray, filter_cap: np.ndarray) -> np.ndarray:
    """Reduction elements a PE runs in time with its weight register file (``D x L``).

    The largest count the filter spad holds, balanced so that the row folds it leaves are as full
    as possible: ``f = ceil(Sr / (rows * folds))`` with ``folds = ceil(Sr / (rows * cap))``.
    A spad of one word gives ``f = 1`` (SCALE-Sim's mapping).
    """
    cap = np.maximum(1, np.minimum(filter_cap, cdiv(sr, rows)))
    folds = cdiv(sr, rows * cap)
    return np.maximum(1, cdiv(sr, rows * folds))


class WeightStationary(Dataflow):
    """Each PE holds ``f`` weights of one output channel; ifmaps flow across rows, partial sums
    down columns.

    Per group the layer is the GEMM ``(T x Sr) @ (Sr x Sc)`` with ``Sr = R*S*Cg`` (filter size),
    ``Sc = Kg`` and ``T = N*P*Q`` (ofmap pixels). With ``f`` reduction elements per PE it runs in
    ``ceil(Sr/(rows*f)) * ceil(Sc/cols)`` folds of ``load + T*f + rows + cols - 2`` cycles: load
    the weights, stream ``T`` ifmap rows of ``f`` values each, fill and drain the skew.

    Members:

    0. SCALE-Sim v2's compute model (``scalesim/compute/systolic_compute_ws.py``: a fold's filter
       demand matrix has ``rows`` + ``rows + cols + T - 2`` rows): ``f = 1``, weights shifted down
       the columns (``load = rows``), partial sums leave the array every row fold.
    1. With a weight register file (``filter_spad > 1``): ``f`` from :func:`reduction_per_pe`;
       ``f`` products accumulate in the PE's output register before a partial sum moves on, so
       the reduction runs in time inside the PE and far fewer partial sums spill to the global
       buffer; the register files are written through their own ports from the GLB port
       (``load = max(f, weights of the fold / load_per_cycle)``). With a one-word spad this
       member is member 0.
    """

    name = "weight_stationary"

    def map(self, x: MappingInputs) -> ArrayCosts:
        sr = x.r * x.s * x.cg
        one = np.ones_like(x.filter_cap)
        rf = x.filter_cap > 1
        f_rf = np.where(rf, reduction_per_pe(sr, x.rows, x.filter_cap), one)
        held = np.minimum(sr, x.rows * f_rf) * np.minimum(x.kg, x.cols)  # weights of one fold
        bus = np.maximum(f_rf, np.ceil(held / x.load_per_cycle))
        return stack_members([
            self._member(x, one, x.rows + 0 * one),
            self._member(x, f_rf, np.where(rf, bus, x.rows)),
        ])

    @staticmethod
    def _member(x: MappingInputs, f: np.ndarray, load: np.ndarray) -> ArrayCosts:
        sr = x.r * x.s * x.cg
        sc = x.kg
        t = x.n * x.p_img * x.q
        row_fold = cdiv(sr, x.rows * f)
        col_fold = cdiv(sc, x.cols)
        cycles = x.groups * row_fold * col_fold * (load + t * f + x.rows + x.cols - 2)
        g = x.groups
        psum_writes = g * t * sc * row_fold  # each fold writes T x used columns (SCALE-Sim ofmap)
        psum_reads = g * t * sc * (row_fold - 1)  # re-read to accumulate across row folds
        zero = np.zeros_like(cycles)
        return ArrayCosts(
            cycles=cycles,
            glb_w=x.weight_values + zero,  # every weight loaded into the array once
            glb_a=g * t * sr * col_fold,  # SCALE-Sim ifmap reads: T x used rows per fold
            glb_p=psum_writes + psum_reads,
            spad_w=x.macs + zero,  # the stationary weight register (file) is read once per MAC
            spad_a=zero,
            spad_p=2 * x.macs * (1 - 1 / f),  # output register read + write between hand-offs
            noc_w=x.weight_values * (x.rows + 1) / 2 + zero,  # shifted down to its row: rows/2 hops on average
            noc_a=x.macs + zero,  # ifmap hops PE to PE along a row once per MAC
            noc_p=x.macs / f,  # a partial sum hops down a column once per f MACs
            reason=np.full(cycles.shape, FITS),
            preload_w=np.minimum(sr, x.rows * f) * np.minimum(sc, x.cols) + zero,
        )
