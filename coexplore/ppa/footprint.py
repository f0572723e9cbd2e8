"""The true input footprint of a layer: the input pixels its outputs actually read.

A strided convolution whose stride exceeds its (dilated) filter extent skips input rows and
columns (a stride-2 1x1 convolution reads a quarter of its input map); padding is generated at
the array's edge, never moved; groups read only their own channels (handled by the tiling). Data
movement is costed from these footprints, not from the full input map.

Per axis, with input size ``h``, padding ``pad``, filter ``r``, stride ``u``, dilation ``d`` and
``p`` outputs, the input indices read are ``{o*u + i*d - pad : o < p, i < r}`` within ``[0, h)``.
"""

from __future__ import annotations

import numpy as np


def used_extent(
    size: np.ndarray, pad: np.ndarray, kernel: np.ndarray, stride: np.ndarray, dilation: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """Distinct input indices read along one axis (exact), per layer.

    Args:
        size, pad, kernel, stride, dilation, out: per-layer integers, shape ``L``.

    Returns:
        ``L`` int64: how many of the ``size`` real (unpadded) input rows the layer reads.

    Example:
        >>> int(used_extent(np.array([28]), np.array([0]), np.array([1]), np.array([2]),
        ...                 np.array([1]), np.array([14]))[0])
        14
    """
    args = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (size, pad, kernel, stride, dilation, out)))
    size, pad, kernel, stride, dilation, out = args
    n = size.shape[0]
    span = int(np.max((out - 1) * stride + (kernel - 1) * dilation + 1, initial=1))
    # Offsets o*u + i*d for every layer (L x span), then keep the real (unpadded) ones.
    hit = np.zeros((n, span), dtype=bool)
    o = np.arange(int(np.max(out, initial=1)))[None, :]
    rows = np.broadcast_to(np.arange(n)[:, None], (n, o.shape[1]))
    for i in range(int(np.max(kernel, initial=1))):
        ok = (i < kernel[:, None]) & (o < out[:, None])
        hit[rows[ok], (o * stride[:, None] + i * dilation[:, None])[ok]] = True
    idx = np.arange(span)[None, :] - pad[:, None]
    return np.sum(hit & (idx >= 0) & (idx < size[:, None]), axis=1).astype(np.int64)


def row_step(kernel: np.ndarray, stride: np.ndarray, dilation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows read by a tile of ``t`` consecutive outputs: ``t * step + base`` (per layer).

    Overlapping windows (stride below the dilated extent) read ``(t-1)*stride + extent`` rows;
    disjoint windows read ``t * kernel`` rows (an upper bound under dilation).

    Returns:
        ``(step, base)``, each shape of the inputs.

    Example:
        >>> row_step(np.array([3, 1]), np.array([1, 2]), np.array([1, 1]))
        (array([1, 1]), array([2, 0]))
    """
    extent = (kernel - 1) * dilation + 1
    overlap = stride < extent
    step = np.where(overlap, stride, kernel)
    base = np.where(overlap, extent - stride, 0)
    return step, base


def layer_footprint(layers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Footprint arrays of a workload (each shape ``L``), to merge into its layer arrays.

    Args:
        layers: :meth:`coexplore.workload.Workload.arrays`; a ``dilation`` array is used when
            present (default 1).

    Returns:
        ``h_used``, ``w_used`` (real input rows / columns read), ``row_step``, ``row_base``
        (rows read by a tile of output rows, see :func:`row_step`) and ``ifmap_used`` (input
        values read once: ``n * c * h_used * w_used``).
    """
    dil = layers.get("dilation", np.ones_like(layers["r"]))
    h_used = used_extent(layers["h"], layers["padding"], layers["r"], layers["stride"], dil, layers["p"])
    w_used = used_extent(layers["w"], layers["padding"], layers["s"], layers["stride"], dil, layers["q"])
    step, base = row_step(layers["r"], layers["stride"], dil)
    return {
        "h_used": h_used, "w_used": w_used, "row_step": step, "row_base": base,
        "ifmap_used": layers["n"] * layers["c"] * h_used * w_used,
    }
