"""Weight-stationary systolic array (TPU; SCALE-Sim ``ws``)."""

from __future__ import annotations

import numpy as np

from coexplore.ppa.dataflows._base import FITS, ArrayCosts, Dataflow, MappingInputs, cdiv


class WeightStationary(Dataflow):
    """Each PE holds one weight; ifmaps flow across rows, partial sums down columns.

    Per group the layer is the GEMM ``(T x Sr) @ (Sr x Sc)`` with ``Sr = R*S*Cg`` (filter size),
    ``Sc = Kg`` and ``T = N*P*Q`` (ofmap pixels). It runs in ``ceil(Sr/rows) * ceil(Sc/cols)``
    folds of ``2*rows + cols + T - 2`` cycles each: load the weights (``rows``), stream ``T``
    ifmap rows, fill and drain the skew (``rows + cols - 2``). This is SCALE-Sim v2's compute
    model (``scalesim/compute/systolic_compute_ws.py``: the filter demand matrix of a fold has
    ``rows`` + ``rows + cols + T - 2`` rows).
    """

    name = "weight_stationary"

    def map(self, x: MappingInputs) -> ArrayCosts:
        sr = x.r * x.s * x.cg
        sc = x.kg
        t = x.n * x.p_img * x.q
        row_fold = cdiv(sr, x.rows)
        col_fold = cdiv(sc, x.cols)
        cycles = x.groups * row_fold * col_fold * (2 * x.rows + x.cols + t - 2)
        g = x.groups
        psum_writes = g * t * sc * row_fold  # each fold writes T x used columns (SCALE-Sim ofmap)
        psum_reads = g * t * sc * (row_fold - 1)  # re-read to accumulate across row folds
        zero = np.zeros_like(cycles)
        return ArrayCosts(
            cycles=cycles,
            glb_w=x.weight_values + zero,  # every weight loaded into the array once
            glb_a=g * t * sr * col_fold,  # SCALE-Sim ifmap reads: T x used rows per fold
            glb_p=psum_writes + psum_reads,
            spad_w=x.macs + zero,  # the stationary weight register is read once per MAC
            spad_a=zero,
            spad_p=zero,
            noc_w=x.weight_values * (x.rows + 1) / 2 + zero,  # shifted down to its row: rows/2 hops on average
            noc_a=x.macs + zero,  # ifmap hops PE to PE along a row once per MAC
            noc_p=x.macs + zero,  # partial sum hops down a column once per MAC
            reason=np.full(cycles.shape, FITS),
        )
