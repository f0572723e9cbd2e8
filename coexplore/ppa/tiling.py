"""Global-buffer tiling: candidate tiles of a layer between DRAM and the GLB, and their traffic.

A tiling cuts the output channels into tiles of ``k_t``, the output rows (batch folded in) into
tiles of ``p_t`` and, when nothing else fits, the input channels into chunks of ``c_t`` (partial
sums then spill to DRAM). Both loop orders are costed (output rows outer: weights re-read per row
tile; output channels outer: ifmaps re-read per channel tile) and the cheaper is taken. The
candidate set is a small fixed list, so tile geometry is an ``L x M`` array computed once per
workload; design points enter only through bits and capacities (``D x L x M``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (output-channel splits, output-row splits, input-channel splits); 0 means "down to 1".
CANDIDATES: tuple[tuple[int, int, int], ...] = tuple(
    [(sk, sp, 1) for sk in (1, 4, 16, 64, 0) for sp in (1, 4, 0)] + [(0, 0, sc) for sc in (4, 16, 0)]
)
"""The candidate tilings (M = 18): five channel splits x three row splits, plus channel chunks."""


@dataclass(frozen=True)
class TileSet:
    """Per ``L x M``: footprint and DRAM traffic of each candidate, in values per operand.

    Footprints (``fp_*``) must fit the GLB together; ``*_a``/``*_b`` are the weight and ifmap
    values read from DRAM under loop order A (rows outer) and B (channels outer); ``spill`` the
    partial sums written and read back when input channels are chunked; ``ofmap`` the outputs
    written once (the same for every candidate).
    """

    fp_w: np.ndarray
    fp_a: np.ndarray
    fp_p: np.ndarray
    w_a: np.ndarray
    i_a: np.ndarray
    w_b: np.ndarray
    i_b: np.ndarray
    spill: np.ndarray
    ofmap: np.ndarray


def _split(total: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Tile size for each split count (0 = tiles of 1), clipped to [1, total]."""
    tile = np.where(splits == 0, 1, -(-total // np.maximum(splits, 1)))
    return np.clip(tile, 1, total)


def tile_set(layers: dict[str, np.ndarray]) -> TileSet:
    """Candidate GLB tiles of each layer.

    Args:
        layers: :meth:`coexplore.workload.Workload.arrays` (each shape ``L``).
    """
    col = {k: v.astype(np.float64)[:, None] for k, v in layers.items()}
    n, c, k, h, w = col["n"], col["c"], col["k"], col["h"], col["w"]
    r, s, stride, pad, g = col["r"], col["s"], col["stride"], col["padding"], col["groups"]
    p_img, q = col["p"], col["q"]
    cg, kg = c / g, k / g
    pn = n * p_img
    cand = np.array(CANDIDATES, dtype=np.float64)
    k_t = _split(k, cand[None, :, 0])
    p_t = _split(pn, cand[None, :, 1])
    c_t = _split(cg, cand[None, :, 2])
    n_k = np.ceil(k / k_t)
    n_p = np.ceil(pn / p_t)
    n_c = np.ceil(cg / c_t)
    hp, wp = h + 2 * pad, w + 2 * pad
    # Input channels a tile of k_t output channels needs (grouped conv: only its groups').
    c_need = np.minimum(c, cg * np.ceil(k_t / kg))
    c_tile = c_need * c_t / cg
    rows_in = np.where(p_t >= p_img, np.ceil(p_t / p_img) * hp, (p_t - 1) * stride + r)
    halo = np.maximum(1.0, rows_in * n_p / (n * hp))
    ifmap = n * c * h * w
    weights = k * cg * r * s
    ofmap = n * k * p_img * q
    reread_i = np.maximum(1.0, n_k * c_need / c)
    chunked = n_c > 1
    w_a = weights * np.where((n_k * n_c) > 1, n_p, 1.0)
    i_a = ifmap * halo * np.where(chunked, reread_i, 1.0)
    w_b = weights * np.where(chunked & (n_p > 1), n_p, 1.0)
    i_b = ifmap * halo * np.where((n_p > 1) | chunked, reread_i, 1.0)
    return TileSet(
        fp_w=k_t * c_t * r * s,
        fp_a=c_tile * rows_in * wp,
        fp_p=k_t * p_t * q,
        w_a=w_a,
        i_a=i_a,
        w_b=w_b,
        i_b=i_b,
        spill=2.0 * (n_c - 1) * ofmap + np.zeros_like(k_t),
        ofmap=ofmap + np.zeros_like(k_t),
    )
