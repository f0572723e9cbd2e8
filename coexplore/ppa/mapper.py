"""The intra-array mapper: pick one mapping member per design point and layer by a criterion.

Each dataflow offers ``M`` mappings of a layer onto the PE array (``D x L x M`` costs; member 0
is the reference mapping, SCALE-Sim's for the systolic arrays). The mapper prices every member
with the design point's technology costs and keeps, per ``D x L``, the one with the lowest

* ``"energy"``: array-side energy (MACs, spads, NoC, GLB accesses) plus leakage over the
  member's lower-bound latency;
* ``"latency"``: lower-bound latency, ties broken by energy;
* ``"edp"`` (the default): their product, compulsory DRAM energy included.

The lower-bound latency of a member is the largest of its compute cycles, the compulsory DRAM
transfer (every weight, input pixel and output moved once) and its GLB port time; the GLB
tiling chosen afterwards only adds DRAM traffic, which every member shares, so ranking the
members on this bound chooses the mapping jointly with the tiling's compulsory part.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from coexplore.ppa.dataflows import ArrayCosts

CRITERIA: tuple[str, ...] = ("edp", "energy", "latency")
"""Mapping criteria, as accepted by :func:`coexplore.ppa.evaluate` (``criterion=``)."""


def member_energy_pj(
    arr: ArrayCosts, wb: np.ndarray, ab: np.ndarray, pb: np.ndarray,
    e_fi: np.ndarray, e_if: np.ndarray, e_ps: np.ndarray, e_noc: np.ndarray, e_glb: np.ndarray,
) -> dict[str, np.ndarray]:
    """Array-side energy (pJ) of every member by component: ``spad``, ``noc``, ``glb``.

    Args:
        arr: member costs, ``D x L x M`` (or ``D x L``).
        wb, ab, pb: weight / activation / partial-sum bits, ``D x L``.
        e_fi, e_if, e_ps: filter / ifmap / psum spad energy per bit (node-scaled), ``D x 1``.
        e_noc, e_glb: NoC and GLB energy per bit (node-scaled), ``D x 1``.
    """
    x = (lambda a: a[..., None]) if arr.cycles.ndim == 3 else (lambda a: a)
    wb, ab, pb = x(wb), x(ab), x(pb)
    return {
        "spad": arr.spad_w * wb * x(e_fi) + arr.spad_a * ab * x(e_if) + arr.spad_p * pb * x(e_ps),
        "noc": (arr.noc_w * wb + arr.noc_a * ab + arr.noc_p * pb) * x(e_noc),
        "glb": (arr.glb_w * wb + arr.glb_a * ab + arr.glb_p * pb) * x(e_glb),
    }


def glb_port_bits(arr: ArrayCosts, wb: np.ndarray, ab: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Bits the array moves through the GLB port (reads and writes), same shape as ``arr``."""
    x = (lambda a: a[..., None]) if arr.cycles.ndim == 3 else (lambda a: a)
    return arr.glb_w * x(wb) + arr.glb_a * x(ab) + arr.glb_p * x(pb)


def choose(
    arr: ArrayCosts, energy_pj: np.ndarray, cycles: np.ndarray, compulsory_cycles: np.ndarray,
    port_cycles: np.ndarray, leak_pj_per_cycle: np.ndarray, dram_pj: np.ndarray, criterion: str,
) -> tuple[ArrayCosts, np.ndarray]:
    """The chosen member per ``D x L``: its costs (``D x L`` arrays) and index (``D x L``).

    Args:
        arr: member costs, ``D x L x M``.
        energy_pj: array-side energy of each member (MAC included), ``D x L x M``.
        cycles: compute cycles of each member (precision passes included), ``D x L x M``.
        compulsory_cycles: compulsory DRAM transfer cycles, ``D x L``.
        port_cycles: GLB port cycles of each member, ``D x L x M`` (0 for an unlimited port).
        leak_pj_per_cycle: ``D x 1``.
        dram_pj: compulsory DRAM energy, ``D x L``.
        criterion: one of :data:`CRITERIA`.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion: expected one of {', '.join(CRITERIA)}, got {criterion!r}")
    lat = np.maximum(np.maximum(cycles, compulsory_cycles[..., None]), port_cycles)
    energy = energy_pj + lat * leak_pj_per_cycle[..., None]
    if criterion == "energy":
        score = energy
    elif criterion == "latency":
        fastest = lat.min(axis=-1, keepdims=True)
        score = np.where(lat <= fastest * (1 + 1e-9), energy, np.inf)
    else:
        score = (energy + dram_pj[..., None]) * lat
    idx = np.argmin(score, axis=-1)  # ties keep the lower member (SCALE-Sim's first)
    if score.shape[-1] == 2:  # the usual case: one select instead of a gather
        second = idx == 1
        picked = {f.name: np.where(second, getattr(arr, f.name)[..., 1], getattr(arr, f.name)[..., 0])
                  for f in fields(ArrayCosts)}
    else:
        picked = {f.name: np.take_along_axis(getattr(arr, f.name), idx[..., None], -1)[..., 0]
                  for f in fields(ArrayCosts)}
    return ArrayCosts(**picked), idx
