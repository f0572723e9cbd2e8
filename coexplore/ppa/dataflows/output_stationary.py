"""Output-stationary systolic array (ShiDianNao-like; SCALE-Sim ``os``)."""

from __future__ import annotations

import numpy as np

from coexplore.ppa.dataflows._base import FITS, ArrayCosts, Dataflow, MappingInputs, cdiv


class OutputStationary(Dataflow):
    """Each PE accumulates one output pixel of one filter; ifmaps and weights stream through.

    Per group the GEMM has ``Sr = N*P*Q`` (ofmap pixels, on rows), ``Sc = Kg`` (on columns) and
    ``T = R*S*Cg`` (the reduction streamed in time): ``ceil(Sr/rows) * ceil(Sc/cols)`` folds of
    ``rows + cols + T - 2`` cycles (SCALE-Sim v2 ``systolic_compute_os.py``: a fold's demand
    matrix has ``T + cols - 1`` rows, skewed by ``rows - 1``).
    """

    name = "output_stationary"

    def map(self, x: MappingInputs) -> ArrayCosts:
        sr = x.n * x.p_img * x.q
        sc = x.kg
        t = x.r * x.s * x.cg
        row_fold = cdiv(sr, x.rows)
        col_fold = cdiv(sc, x.cols)
        cycles = x.groups * row_fold * col_fold * (x.rows + x.cols + t - 2)
        g = x.groups
        zero = np.zeros_like(cycles)
        return ArrayCosts(
            cycles=cycles,
            glb_w=g * t * sc * row_fold,  # weights re-streamed for every row fold
            glb_a=g * t * sr * col_fold,  # ifmaps re-streamed for every column fold
            glb_p=x.ofmap_values + zero,  # finished outputs drained once
            spad_w=zero,
            spad_a=zero,
            spad_p=2 * x.macs + zero,  # accumulator read + write per MAC
            noc_w=x.macs + zero,  # weight hops down a column once per MAC
            noc_a=x.macs + zero,  # ifmap hops along a row once per MAC
            noc_p=x.ofmap_values + zero,  # outputs shifted out of the array
            reason=np.full(cycles.shape, FITS),
        )
