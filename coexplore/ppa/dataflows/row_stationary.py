"""Row-stationary dataflow (Eyeriss, Chen et al. ISCA 2016 / JSSC 2017)."""

from __future__ import annotations

import numpy as np

from coexplore.ppa.dataflows._base import (
    FILTER_SPAD_TOO_SMALL,
    FITS,
    IFMAP_SPAD_TOO_SMALL,
    ArrayCosts,
    Dataflow,
    MappingInputs,
    cdiv,
    stack_members,
)


class RowStationary(Dataflow):
    """Each PE runs a 1D convolution of one filter row over one ifmap row.

    A logical PE set is ``R`` PE rows (filter rows) by ``E`` PE columns (output rows; the batch
    is folded into output rows). Sets are replicated ``t = rows // R`` times vertically and
    ``h = cols // E`` times horizontally; larger filters / maps fold in time. Inside a PE the
    scratchpads hold ``q`` channels of an ifmap row window (``q*S <= ifmap_spad``), ``p*q`` filter
    rows (``p*q*S <= filter_spad``) and ``p`` partial sums (``p <= psum_spad``). The spad tiling
    is the largest legal one: in this model more in-PE reuse only removes GLB and NoC accesses and
    never costs cycles, so it is the minimum-energy-delay legal spad tiling (one member).
    """

    name = "row_stationary"

    def map(self, x: MappingInputs) -> ArrayCosts:
        pn = x.n * x.p_img  # output rows over the batch
        cg, kg = x.cg, x.kg
        s = x.s + np.zeros_like(x.ifmap_cap)
        reason = np.where(
            x.ifmap_cap < s, IFMAP_SPAD_TOO_SMALL, np.where(x.filter_cap < s, FILTER_SPAD_TOO_SMALL, FITS)
        )
        # Largest legal spad tiling (at least 1 so infeasible points still get numbers).
        q = np.maximum(1, np.minimum(cg, np.minimum(x.ifmap_cap // s, x.filter_cap // s)))
        p = np.maximum(1, np.minimum(kg, np.minimum(x.psum_cap, x.filter_cap // (q * s))))
        # Array mapping.
        t = np.where(x.r <= x.rows, np.maximum(1, x.rows // x.r), 1)
        h = np.where(pn <= x.cols, np.maximum(1, x.cols // pn), 1)
        r_fold = cdiv(x.r, x.rows)
        c_fold = cdiv(pn, x.cols)
        planes = x.k * cg  # (k, c) 2D convolutions, each over the whole batch
        cycles = cdiv(planes, t * h) * r_fold * c_fold * x.s * x.q
        r_eff = np.minimum(x.r, x.rows)
        e_eff = np.minimum(pn, x.cols)
        # GLB traffic: weights are reloaded per column fold; an ifmap is re-read once per group of
        # p filters held in the spads; partial sums leave the array once per q*t channels.
        glb_w = x.weight_values * c_fold
        glb_a = x.ifmap_values * cdiv(kg, p)
        chan_rounds = cdiv(cg, q * t)
        glb_p = x.ofmap_values * (2 * chan_rounds - 1)
        zero = np.zeros_like(cycles)
        return stack_members([ArrayCosts(
            cycles=cycles,
            glb_w=glb_w,
            glb_a=glb_a,
            glb_p=glb_p,
            spad_w=x.macs + zero,  # filter spad read per MAC
            spad_a=x.macs + zero,  # ifmap spad read per MAC
            spad_p=2 * x.macs + zero,  # psum spad read + write per MAC
            noc_w=glb_w * e_eff,  # a filter row is broadcast to the E PEs of its row
            noc_a=glb_a * r_eff,  # an ifmap row goes diagonally to R PEs
            noc_p=x.ofmap_values * cdiv(cg, q) * (r_eff - 1) + glb_p,  # vertical accumulation
            reason=reason,
        )])
