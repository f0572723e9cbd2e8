"""The GLB tiling chosen per design point and layer, and the cycles a layer takes.

Latency of a layer: the largest of its compute cycles, its DRAM transfer (reads and writes on one
bus, or each on its own channel) and its GLB port time, plus the first tile's fill when the
design point does not overlap it with compute. The tiling is the legal candidate (its tile fits
the GLB) of minimum energy-delay product; all arrays ``D x L`` (or ``D x L x candidates``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coexplore.ppa.tiling import TileSet, fitted_tiles

_CHUNK = 512  # design points per block of the D x L x M stage (keeps blocks cache-sized)


def _traffic_bits(tiles: TileSet, pick, wb: np.ndarray, ab: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """DRAM bits of the candidates ``pick`` selects (the cheaper loop order of each)."""
    order_a = pick(tiles.w_a) * wb + pick(tiles.i_a) * ab
    order_b = pick(tiles.w_b) * wb + pick(tiles.i_b) * ab
    return np.minimum(order_a, order_b) + pick(tiles.spill) * pb + pick(tiles.ofmap) * ab


@dataclass(frozen=True)
class _Block:
    """One block of design points for the candidate search: every array ``D' x L x 1``."""

    wb: np.ndarray
    ab: np.ndarray
    pb: np.ndarray
    glb_bits: np.ndarray
    bits_per_cycle: np.ndarray
    base_pj: np.ndarray
    fill_pj_per_bit: np.ndarray
    leak_pj_per_cycle: np.ndarray
    comp_cycles: np.ndarray
    array_port_bits: np.ndarray
    port_bits_per_cycle: np.ndarray
    first_fill: np.ndarray
    preload_bits: np.ndarray
    duplex: np.ndarray


def _fill_bits(ts: TileSet, pick, wb: np.ndarray, ab: np.ndarray, preload_bits: np.ndarray) -> np.ndarray:
    """Bits loaded before compute starts: a candidate's first tile (its weights and inputs), and
    at least the weights the array holds for its first fold."""
    return np.maximum(pick(ts.fp_w) * wb + pick(ts.fp_a) * ab, preload_bits)


def _write_bits(ts: TileSet, pick, ab: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """DRAM bits written by a candidate: outputs, and half of the partial-sum spill traffic."""
    return pick(ts.ofmap) * ab + 0.5 * pick(ts.spill) * pb


def _layer_cycles(comp: np.ndarray, dram_bits: np.ndarray, write_bits: Callable[[], np.ndarray],
                  fill_bits: Callable[[], np.ndarray], b) -> np.ndarray:
    """Cycles of a layer: the largest of compute, DRAM transfer (reads and writes on one bus, or
    each on its own channel) and GLB port time (the port carries the array's accesses and the
    DRAM transfers), plus the non-overlapped first fill. ``write_bits`` and ``fill_bits`` are
    computed only when some design point of the block needs them."""
    dram = dram_bits
    if b.duplex.any():
        w = write_bits()
        dram = np.where(b.duplex > 0, np.maximum(dram_bits - w, w), dram_bits)
    cyc = np.maximum(comp, dram / b.bits_per_cycle)
    if (b.port_bits_per_cycle > 0).any():
        port = (b.array_port_bits + dram_bits) / np.maximum(b.port_bits_per_cycle, 1)
        cyc = np.maximum(cyc, np.where(b.port_bits_per_cycle > 0, port, 0.0))
    if b.first_fill.any():
        cyc = cyc + b.first_fill * fill_bits() / b.bits_per_cycle
    return cyc


def _rank(ts: TileSet, pick: Callable[[np.ndarray], np.ndarray], b: _Block) -> tuple[np.ndarray, ...]:
    """Min-EDP legal candidate of ``ts`` per ``D' x L``: (index, its EDP, any fits, all bits,
    first-fill bits or None when no design point of the block fills first)."""
    bits = _traffic_bits(ts, pick, b.wb, b.ab, b.pb)
    foot = pick(ts.fp_w) * b.wb + pick(ts.fp_a) * b.ab + pick(ts.fp_p) * b.pb
    fill = _fill_bits(ts, pick, b.wb, b.ab, b.preload_bits) if b.first_fill.any() else None
    ok = foot <= b.glb_bits
    cyc = _layer_cycles(b.comp_cycles, bits, lambda: _write_bits(ts, pick, b.ab, b.pb), lambda: fill, b)
    edp = np.where(ok, (b.base_pj + bits * b.fill_pj_per_bit + cyc * b.leak_pj_per_cycle) * cyc, np.inf)
    any_ok = ok.any(axis=2)
    # Nothing fits: keep the smallest-footprint tile (the point is flagged).
    idx = np.where(any_ok, np.argmin(edp, axis=2), np.argmin(foot, axis=2))[:, :, None]
    return idx[:, :, 0], np.take_along_axis(edp, idx, 2)[:, :, 0], any_ok, bits, fill


def choose_tiling(
    grid: TileSet, col3: dict[str, np.ndarray], wb: np.ndarray, ab: np.ndarray, pb: np.ndarray,
    glb_bits: np.ndarray, base_pj: np.ndarray, comp_cycles: np.ndarray,
    fill_pj_per_bit: np.ndarray, bits_per_cycle: np.ndarray, leak_pj_per_cycle: np.ndarray,
    array_port_bits: np.ndarray, port_bits_per_cycle: np.ndarray, first_fill: np.ndarray,
    preload_bits: np.ndarray, duplex: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min-EDP legal GLB tiling per ``D x L``: (DRAM bits, cycles, fits) of the chosen candidate.

    Candidates are the grid (``grid``, ``L x M``) and the capacity-fitted tiles of ``col3``
    (``D x L x 3``); the search runs in blocks of design points. The other args are ``D x L``
    (``wb``, ``ab``, ``pb``, ``base_pj``, ``comp_cycles``, ``array_port_bits``, ``preload_bits``)
    or ``D x 1``.
    """
    d, n_layers = wb.shape
    best = np.empty((d, n_layers), dtype=np.intp)
    use_fitted = np.empty((d, n_layers), dtype=bool)
    fitted_bits = np.empty((d, n_layers))
    fitted_fill = np.empty((d, n_layers))
    fits = np.empty((d, n_layers), dtype=bool)
    args = (wb, ab, pb, glb_bits, bits_per_cycle, base_pj, fill_pj_per_bit, leak_pj_per_cycle, comp_cycles,
            array_port_bits, port_bits_per_cycle, first_fill, preload_bits, duplex)
    for lo in range(0, d, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        b = _Block(*(np.broadcast_to(a[sl], (min(d, lo + _CHUNK) - lo, n_layers))[:, :, None] for a in args))
        g_idx, g_edp, g_ok, _, _ = _rank(grid, lambda a: a[None], b)
        f_idx, f_edp, f_ok, f_bits, f_fill = _rank(fitted_tiles(col3, b.wb, b.ab, b.pb, b.glb_bits), lambda a: a, b)
        best[sl] = g_idx
        use_fitted[sl] = f_edp < g_edp
        fitted_bits[sl] = np.take_along_axis(f_bits, f_idx[:, :, None], 2)[:, :, 0]
        if f_fill is not None:
            fitted_fill[sl] = np.take_along_axis(f_fill, f_idx[:, :, None], 2)[:, :, 0]
        fits[sl] = g_ok | f_ok
    cols = np.arange(n_layers)[None, :]
    pick = lambda a: a[cols, best]
    traffic = np.where(use_fitted, fitted_bits, _traffic_bits(grid, pick, wb, ab, pb))
    b = _Block(*args)
    # Fitted tiles never chunk input channels, so they write the outputs only.
    cycles = np.ceil(_layer_cycles(
        comp_cycles, traffic,
        lambda: np.where(use_fitted, pick(grid.ofmap) * ab, _write_bits(grid, pick, ab, pb)),
        lambda: np.where(use_fitted, fitted_fill, _fill_bits(grid, pick, wb, ab, preload_bits)), b,
    ))
    return traffic, cycles, fits
