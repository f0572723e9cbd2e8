"""Global-buffer tiling: candidate tiles of a layer between DRAM and the GLB, and their traffic.

A tiling cuts the output channels into tiles of ``k_t``, the output rows (batch folded in) into
tiles of ``p_t`` and, when nothing else fits, the input channels into chunks of ``c_t`` (partial
sums then spill to DRAM). Both loop orders are costed (output rows outer: weights re-read per row
tile; output channels outer: ifmaps re-read per channel tile) and the cheaper is taken.

Two candidate families:

* a fixed grid of splits (:data:`CANDIDATES`), whose geometry is an ``L x M`` array computed once
  per workload (design points enter only through bits and capacities);
* capacity-fitted tiles (:func:`fitted_tiles`), ``D x L x A``: the largest row tile with one
  output channel, and the largest channel tile with all rows or with one row, each solved in
  closed form from the design's GLB size and the layer's bits, so traffic falls smoothly as the
  buffer grows.

Input footprints and traffic count only the input pixels a layer reads
(:mod:`coexplore.ppa.footprint`): padding is never moved, and strides larger than the filter skip
rows and columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coexplore.ppa.footprint import layer_footprint

# (output-channel splits, output-row splits, input-channel splits); 0 means "down to 1".
CANDIDATES: tuple[tuple[int, int, int], ...] = tuple(
    [(sk, sp, 1) for sk in (1, 4, 16, 64, 0) for sp in (1, 4, 0)] + [(0, 0, sc) for sc in (4, 16, 0)]
)
"""The grid of candidate tilings (M = 18): five channel splits x three row splits, plus channel chunks."""


@dataclass(frozen=True)
class TileSet:
    """Per candidate (``L x M`` or ``D x L x A``): footprint and DRAM traffic, in values per operand.

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


def layer_columns(layers: dict[str, np.ndarray], ndim: int = 2) -> dict[str, np.ndarray]:
    """Layer arrays (shape ``L``), footprint included, as float columns shaped for a trailing
    candidate axis."""
    if "h_used" not in layers:
        layers = {**layers, **layer_footprint(layers)}
    shape = (1,) * (ndim - 2) + (-1, 1)
    return {k: v.astype(np.float64).reshape(shape) for k, v in layers.items()}


def tile_costs(col: dict[str, np.ndarray], k_t: np.ndarray, p_t: np.ndarray, c_t: np.ndarray) -> TileSet:
    """Footprint and traffic of tiles ``k_t x p_t x c_t`` (fields broadcastable to their shape).

    ``col`` is :func:`layer_columns` (footprint included). A tile of ``t`` output rows reads
    ``t * row_step + row_base`` input rows (at most the ``h_used`` rows the layer reads) of
    ``w_used`` columns; successive row tiles of an image re-read the ``row_base`` rows they share.
    """
    n, c, k = col["n"], col["c"], col["k"]
    r, s, g = col["r"], col["s"], col["groups"]
    p_img = col["p"]
    h_used, w_used, step, base = col["h_used"], col["w_used"], col["row_step"], col["row_base"]
    cg, kg = c / g, k / g
    # A row tile is either part of one image's output rows or a number of whole images.
    whole = p_t >= p_img
    images = np.maximum(np.floor(p_t / p_img), 1.0)
    p_t = np.where(whole, images * p_img, p_t)
    n_p = np.where(whole, np.ceil(n / images), n * np.ceil(p_img / p_t))
    n_k = np.ceil(k / k_t)
    n_c = np.ceil(cg / c_t)
    # Input channels a tile of k_t output channels needs (grouped conv: only its groups').
    c_need = np.minimum(c, cg * np.ceil(k_t / kg))
    rows_in = np.where(whole, images * h_used, np.minimum(p_t * step + base, h_used))
    # Rows read per image: each extra row tile re-reads the rows it shares with the previous one.
    tiles_per_image = np.where(whole, 1.0, np.ceil(p_img / p_t))
    rows_read = h_used + (tiles_per_image - 1) * base
    halo = np.maximum(1.0, rows_read / h_used)
    ifmap = col["ifmap_used"]
    weights = k * cg * r * s
    ofmap = n * k * p_img * col["q"]
    reread_i = np.maximum(1.0, n_k * c_need / c)
    chunked = n_c > 1
    return TileSet(
        fp_w=k_t * c_t * r * s,
        fp_a=c_need * c_t / cg * rows_in * w_used,
        fp_p=k_t * p_t * col["q"],
        w_a=weights * np.where((n_k * n_c) > 1, n_p, 1.0),
        i_a=ifmap * halo * np.where(chunked, reread_i, 1.0),
        w_b=weights * np.where(chunked & (n_p > 1), n_p, 1.0),
        i_b=ifmap * halo * np.where((n_p > 1) | chunked, reread_i, 1.0),
        spill=2.0 * (n_c - 1) * ofmap,
        ofmap=ofmap,
    )


def tile_set(layers: dict[str, np.ndarray]) -> TileSet:
    """The grid candidates of each layer (every field ``L x M``).

    Args:
        layers: :meth:`coexplore.workload.Workload.arrays` (each shape ``L``).
    """
    col = layer_columns(layers)
    cand = np.array(CANDIDATES, dtype=np.float64)
    cg = col["c"] / col["groups"]
    ts = tile_costs(
        col,
        _split(col["k"], cand[None, :, 0]),
        _split(col["n"] * col["p"], cand[None, :, 1]),
        _split(cg, cand[None, :, 2]),
    )
    shape = (len(layers["k"]), len(CANDIDATES))
    return TileSet(**{f: np.broadcast_to(getattr(ts, f), shape) for f in TileSet.__dataclass_fields__})


def fitted_tiles(
    col: dict[str, np.ndarray], wb: np.ndarray, ab: np.ndarray, pb: np.ndarray, glb_bits: np.ndarray
) -> TileSet:
    """Capacity-fitted candidates (``D x L x 3``): the largest tiles a GLB of ``glb_bits`` holds.

    Args:
        col: :func:`layer_columns` with ``ndim=3`` (shape ``1 x L x 1``).
        wb, ab, pb: weight / activation / partial-sum bits, ``D x L x 1``.
        glb_bits: GLB capacity in bits, ``D x 1 x 1``.
    """
    c, k, g = col["c"], col["k"], col["groups"]
    r, s, q = col["r"], col["s"], col["q"]
    w_used, h_used, step, base = col["w_used"], col["h_used"], col["row_step"], col["row_base"]
    cg, pn = c / g, col["n"] * col["p"]
    # 1) one output channel, as many output rows as fit (loop order A re-reads weights less).
    fixed = cg * r * s * wb + cg * w_used * ab * base
    p_rows = np.floor((glb_bits - fixed) / (cg * w_used * ab * step + q * pb))
    # 2) all rows resident, as many output channels as fit; 3) one output row, as many channels.
    per_k_all = cg * r * s * wb + pn * q * pb
    k_all = np.floor((glb_bits - c * h_used * col["n"] * w_used * ab) / per_k_all)
    per_k_row = cg * r * s * wb + q * pb
    k_row = np.floor((glb_bits - c * np.minimum(step + base, h_used) * w_used * ab) / per_k_row)
    one = np.ones_like(p_rows)
    k_t = np.concatenate([one, k_all, k_row], axis=2)
    p_t = np.concatenate([p_rows, pn + 0 * one, one], axis=2)
    k_t = np.clip(k_t, 1, k)
    p_t = np.clip(p_t, 1, pn)
    return tile_costs(col, k_t, p_t, cg + np.zeros_like(k_t))
