"""Output-stationary systolic array (ShiDianNao-like; SCALE-Sim ``os``), with several outputs per PE."""

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


def outputs_per_pe(sc: np.ndarray, cols: np.ndarray, psum_cap: np.ndarray) -> np.ndarray:
    """Output channels a PE accumulates at once in its psum spad (``D x L``), balanced so that
    the column folds left are as full as possible (1 for a one-word spad: SCALE-Sim's mapping)."""
    cap = np.maximum(1, np.minimum(psum_cap, cdiv(sc, cols)))
    folds = cdiv(sc, cols * cap)
    return np.maximum(1, cdiv(sc, cols * folds))


class OutputStationary(Dataflow):
    """Each PE accumulates ``u`` output pixels (one pixel, ``u`` filters); ifmaps and weights
    stream through.

    Per group the GEMM has ``Sr = N*P*Q`` (ofmap pixels, on rows), ``Sc = Kg`` (on columns) and
    ``T = R*S*Cg`` (the reduction streamed in time): ``ceil(Sr/rows) * ceil(Sc/(cols*u))`` folds of
    ``rows + cols + T*u - 2`` cycles. Members: ``u = 1``, SCALE-Sim v2's model
    (``systolic_compute_os.py``: a fold's demand matrix has ``T + cols - 1`` rows, skewed by
    ``rows - 1``); and ``u`` from :func:`outputs_per_pe`, where each ifmap value a PE receives is
    reused for ``u`` filters, so ifmaps are re-streamed for fewer column folds.
    """

    name = "output_stationary"

    def map(self, x: MappingInputs) -> ArrayCosts:
        u = outputs_per_pe(x.kg + np.zeros_like(x.psum_cap), x.cols, x.psum_cap)
        return stack_members([self._member(x, np.ones_like(u)), self._member(x, u)])

    @staticmethod
    def _member(x: MappingInputs, u: np.ndarray) -> ArrayCosts:
        sr = x.n * x.p_img * x.q
        sc = x.kg
        t = x.r * x.s * x.cg
        row_fold = cdiv(sr, x.rows)
        col_fold = cdiv(sc, x.cols * u)
        cycles = x.groups * row_fold * col_fold * (x.rows + x.cols + t * u - 2)
        g = x.groups
        zero = np.zeros_like(cycles)
        return ArrayCosts(
            cycles=cycles,
            glb_w=g * t * sc * row_fold + zero,  # weights re-streamed for every row fold
            glb_a=g * t * sr * col_fold,  # ifmaps re-streamed for every column fold
            glb_p=x.ofmap_values + zero,  # finished outputs drained once
            spad_w=zero,
            spad_a=x.macs * (1 - 1 / u),  # an ifmap value held for its u filters
            spad_p=2 * x.macs + zero,  # accumulator read + write per MAC
            noc_w=x.macs + zero,  # weight hops down a column once per MAC
            noc_a=x.macs / u,  # ifmap hops along a row once per u MACs
            noc_p=x.ofmap_values + zero,  # outputs shifted out of the array
            reason=np.full(cycles.shape, FITS),
        )
