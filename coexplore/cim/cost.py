"""Energy and latency of running layers on CIM macros, vectorized over the layers (NumPy).

Per layer (shapes ``L``), with ``Rd = (c / groups) * r * s`` the reduction length and ``slices =
ceil(w / cell_bits)`` the columns one weight spans:

- the weights occupy ``tiles = groups * ceil(Rd / rows) * ceil((k / groups) * slices / cols)``
  macro-sized tiles; a layer is *resident* when its tiles fit the ``n_macros`` macros (by default;
  :func:`coexplore.cim.hybrid_cost` decides residency for the whole network);
- every output needs one ADC conversion per row tile, weight slice and input pass
  (``a`` passes for bit-serial inputs, 1 otherwise);
- array energy is ``e_bit * w * a`` per MAC (``e_bit`` fitted to published macros), ADC energy
  per conversion, DAC energy per multi-bit row drive (none for bit-serial inputs or the
  multiplication-free ``l1`` operator), a digital shift-add per conversion;
- activations move as on the digital side (``coexplore.ppa``): the layer reads its input map from
  DRAM and writes its output map back once, and reads inputs from the on-chip buffer once per
  column tile;
- a resident layer's weights are written once when the network is loaded (``load_once_j``, not
  charged per inference); a layer that does not fit is reloaded every inference, in
  ``rounds = ceil(tiles / n_macros)`` rounds: its weights come from DRAM and are written into the
  cells (compute waits for the writes), and every round after the first re-reads the input map
  and spills and re-reads the partial sums, from the buffer when input map plus partial sums fit
  ``buffer_bytes``, else from DRAM. This is where weight reloading makes CIM costlier than a
  digital array, whose dataflow tiles the layer over its global buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from coexplore.cim.macro import CIM_OPERATORS, CimMacro
from coexplore.cim.technology import CimTechnology, load_cim_technology
from coexplore.workload.layer import Workload

ENERGY_COMPONENTS: tuple[str, ...] = ("array", "adc", "dac", "accumulate", "buffer", "dram", "cell_write")
"""Energy components of a CIM layer (``dram`` holds activation, weight and spill traffic to DRAM)."""


@dataclass(frozen=True)
class CimLayerCost:
    """Per-layer CIM cost, every array of shape ``L`` (layers of the workload, in order).

    ``energy_j`` is per inference of the workload (its batch ``n`` included) and equals the sum of
    ``energy_breakdown_j`` over :data:`ENERGY_COMPONENTS`.
    """

    layer_names: tuple[str, ...]
    energy_j: np.ndarray
    latency_s: np.ndarray
    cycles: np.ndarray
    energy_breakdown_j: dict[str, np.ndarray]
    conversions: np.ndarray
    tiles: np.ndarray
    resident: np.ndarray
    load_once_j: np.ndarray
    weight_bits: np.ndarray
    act_bits: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _per_layer(value: int | Sequence[int] | np.ndarray, n_layers: int, what: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.int64), (n_layers,)).copy()
    if (arr < 1).any() or (arr > 16).any():
        raise ValueError(f"CIM cost: {what} must be within 1..16 per layer, got {arr.tolist()}")
    return arr


def _operator_codes(operator: str | Sequence[str], n_layers: int) -> np.ndarray:
    names = [operator] * n_layers if isinstance(operator, str) else list(operator)
    if len(names) != n_layers:
        raise ValueError(f"CIM cost: {len(names)} operators given for {n_layers} layers")
    bad = sorted({o for o in names if o not in CIM_OPERATORS})
    if bad:
        raise ValueError(f"CIM cost: unknown operator(s) {bad}; allowed: {list(CIM_OPERATORS)}")
    return np.array([CIM_OPERATORS.index(o) for o in names], dtype=np.int64)


def cim_tiles(macro: CimMacro, workload: Workload, weight_bits: int | Sequence[int] | np.ndarray = 8,
              operator: str | Sequence[str] = "mac") -> np.ndarray:
    """Macro-sized weight tiles each layer occupies (shape ``L``); it fits when ``<= n_macros``."""
    return _geometry(macro, workload.arrays(), _operator_codes(operator, len(workload)),
                     _per_layer(weight_bits, len(workload), "weight_bits"))["tiles"]


def _geometry(macro: CimMacro, a: dict[str, np.ndarray], op: np.ndarray, wb: np.ndarray) -> dict[str, np.ndarray]:
    """Weight tiling of each layer; ``a`` is :meth:`Workload.arrays` of the workload."""
    wb_eff = np.where(op == CIM_OPERATORS.index("binary"), 1, wb)
    slices = -(-wb_eff // macro.cell_bits)
    g = a["groups"]
    rd = (a["c"] // g) * a["r"] * a["s"]
    kg = a["k"] // g
    row_tiles = -(-rd // macro.rows)
    col_tiles = -(-(kg * slices) // macro.cols)
    return {"wb_eff": wb_eff, "slices": slices, "rd": rd, "kg": kg, "row_tiles": row_tiles, "col_tiles": col_tiles,
                "tiles": g * row_tiles * col_tiles}


def cim_layer_costs(
    macro: CimMacro,
    workload: Workload,
    *,
    operator: str | Sequence[str] = "mac",
    weight_bits: int | Sequence[int] | np.ndarray = 8,
    act_bits: int | Sequence[int] | np.ndarray = 8,
    resident: Sequence[bool] | np.ndarray | None = None,
    tech: CimTechnology | None = None,
    dram_gbps: float = 25.6,
    dram_bit_j: float | None = None,
    buffer_bit_j: float | None = None,
    buffer_bytes: float = float("inf"),
) -> CimLayerCost:
    """Energy and latency of every layer of ``workload`` run on ``macro`` (vectorized over layers).

    Args:
        macro: the CIM macro array.
        workload: the layers (their batch ``n`` is one inference).
        operator: ``mac``, ``binary`` (1-bit weights) or ``l1`` (multiplication-free), one for all
            layers or one per layer.
        weight_bits: bits per weight, scalar or per layer (ignored for ``binary``).
        act_bits: bits per input activation, scalar or per layer.
        resident: per layer, whether its weights stay in the macros across inferences; default: the
            layer alone fits (``tiles <= n_macros``).
        tech: CIM technology figures (default: the packaged 45 nm file).
        dram_gbps: DRAM bandwidth (GB/s) that weight reloads stream through.
        dram_bit_j, buffer_bit_j: DRAM and on-chip buffer energy per bit (default: the CIM
            technology file's); a hybrid passes the digital side's so both sides share one memory.
        buffer_bytes: on-chip buffer that holds a reloaded layer's input map and partial sums
            between rounds (a hybrid passes the digital global buffer).

    Example:
        >>> from coexplore.workload import Layer, Workload
        >>> wl = Workload("one", (Layer("fc", kind="linear", c=64, k=10),))
        >>> cost = cim_layer_costs(CimMacro(), wl, operator="l1")
        >>> bool(cost.resident[0]) and cost.energy_j.shape == (1,)
        True
    """
    tech = tech or load_cim_technology()
    n_layers = len(workload)
    op = _operator_codes(operator, n_layers)
    wb = _per_layer(weight_bits, n_layers, "weight_bits")
    ab = _per_layer(act_bits, n_layers, "act_bits")
    a = workload.arrays()
    geo = _geometry(macro, a, op, wb)
    g, macs = a["groups"], a["macs"].astype(np.float64)
    npq = (a["n"] * a["p"] * a["q"]).astype(np.float64)

    is_l1 = op == CIM_OPERATORS.index("l1")
    passes = np.where(is_l1 | (not macro.bit_serial), 1, ab).astype(np.float64)
    uses_dac = ~is_l1 & (not macro.bit_serial) & (ab > 1)

    conversions = npq * g * geo["row_tiles"] * geo["kg"] * geo["slices"] * passes
    row_drives = npq * g * geo["rd"] * geo["col_tiles"] * passes
    tiles = geo["tiles"]
    resident_arr = tiles <= macro.n_macros if resident is None else np.asarray(resident, dtype=bool)
    if resident_arr.shape != (n_layers,):
        raise ValueError(f"CIM cost: resident must have one entry per layer ({n_layers})")

    mem = tech.memory
    dram_j = mem.dram_bit_j if dram_bit_j is None else dram_bit_j
    sram_j = mem.sram_bit_j if buffer_bit_j is None else buffer_bit_j
    rounds = -(-tiles // macro.n_macros)
    extra_rounds = np.where(resident_arr, 0, rounds - 1)
    weight_count = a["k"] * geo["rd"]
    cell_bits_written = weight_count * geo["slices"] * np.minimum(macro.cell_bits, geo["wb_eff"])
    weight_dram_bits = weight_count * geo["wb_eff"]
    load_j = weight_dram_bits * dram_j + cell_bits_written * mem.sram_bit_j
    ifmap_bits = (a["n"] * a["c"] * a["h"] * a["w"] * ab).astype(np.float64)
    ofmap_bits = npq * a["k"] * ab
    psum_bits = npq * a["k"] * mem.psum_bits
    # Rounds after the first re-read the input map and spill + re-read the partial sums.
    refetch_bits = extra_rounds * (ifmap_bits + 2 * psum_bits)
    on_chip = (ifmap_bits + psum_bits) / 8 <= buffer_bytes

    breakdown = {
        "array": macs * tech.e_bit_j * geo["wb_eff"] * ab,
        "adc": conversions * tech.adc_energy_j(macro.adc_bits),
        "dac": np.where(uses_dac, row_drives * tech.dac_energy_j(ab), 0.0),
        "accumulate": conversions * mem.accumulate_j,
        "buffer": (ifmap_bits * geo["col_tiles"] + ofmap_bits + np.where(on_chip, refetch_bits, 0.0)) * sram_j,
        "dram": (ifmap_bits + ofmap_bits + np.where(resident_arr, 0.0, weight_dram_bits)
                 + np.where(on_chip, 0.0, refetch_bits)) * dram_j,
        "cell_write": np.where(resident_arr, 0.0, cell_bits_written * mem.sram_bit_j),
    }
    energy = np.sum([breakdown[c] for c in ENERGY_COMPONENTS], axis=0)

    clock_s = 1.0 / (macro.clock_mhz * 1e6)
    t_op = max(clock_s, float(tech.adc_delay_s(macro.adc_bits, macro.rows)))
    compute_s = npq * passes * t_op * rounds
    load_s = np.maximum(rounds * macro.rows * clock_s, weight_dram_bits / 8 / (dram_gbps * 1e9))
    dram_s = breakdown["dram"] / dram_j / 8 / (dram_gbps * 1e9)
    latency = np.maximum(compute_s + np.where(resident_arr, 0.0, load_s), dram_s)

    return CimLayerCost(
        layer_names=tuple(workload.layer_names),
        energy_j=energy,
        latency_s=latency,
        cycles=np.ceil(latency / clock_s),
        energy_breakdown_j=breakdown,
        conversions=conversions,
        tiles=tiles,
        resident=resident_arr,
        load_once_j=np.where(resident_arr, load_j, 0.0),
        weight_bits=geo["wb_eff"],
        act_bits=ab,
        extra={"macs": macs, "utilization": geo["rd"] * geo["kg"] * geo["slices"]
               / (geo["row_tiles"] * macro.rows * geo["col_tiles"] * macro.cols), "compute_s": compute_s, "rounds": rounds.astype(np.float64),
               "weight_dram_bytes": np.where(resident_arr, 0.0, weight_dram_bits / 8)},
    )
