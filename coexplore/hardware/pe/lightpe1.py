"""LightPE-1: weights are signed powers of two, so a multiply is one barrel shift ([LNN17])."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from coexplore.hardware.pe._base import PEModel

if TYPE_CHECKING:
    from coexplore.hardware.technology import TechnologyTable


def shifter_stages(exp_bits: np.ndarray) -> np.ndarray:
    """Mux stages of a log barrel shifter steered by an ``exp_bits``-bit exponent."""
    return np.maximum(np.asarray(exp_bits, dtype=np.float64), 0.0)


def shifted_bits(ab: np.ndarray, exp_bits: np.ndarray) -> np.ndarray:
    """Output width of shifting an ``ab``-bit activation by up to ``2**exp_bits - 1`` places."""
    return np.asarray(ab, dtype=np.float64) + np.exp2(np.maximum(exp_bits, 0.0)) - 1.0


def shifter_energy_pj(tech: TechnologyTable, ab: np.ndarray, exp_bits: np.ndarray) -> np.ndarray:
    """Barrel-shifter energy: stages x output bits x one mux bit (~linear x log in the range)."""
    mux_bit = tech.const("mux_vs_adder_bit_energy") * tech.adder_energy_pj_per_bit()
    return shifter_stages(exp_bits) * shifted_bits(ab, exp_bits) * mux_bit


def shifter_area_um2(tech: TechnologyTable, ab: np.ndarray, exp_bits: np.ndarray) -> np.ndarray:
    """Barrel-shifter area: stages x output bits x one MUX2 cell ([NG45])."""
    return shifter_stages(exp_bits) * shifted_bits(ab, exp_bits) * tech.const("mux2_area_um2")


class LightPE1(PEModel):
    """One shift and a signed accumulate: ``wb`` = sign bit + ``wb - 1`` exponent bits.

    Example:
        >>> from coexplore.hardware.technology import TechnologyTable
        >>> t = TechnologyTable.default()
        >>> bool(LightPE1().energy_pj(t, 4, 8) * 4 < t.mac_energy_pj(0, 16, 16))
        True
    """

    family = "lightpe1"

    def product_bits(self, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        return shifted_bits(ab, np.asarray(wb, dtype=np.float64) - 1)

    def datapath_energy_pj(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        exp_bits = np.asarray(wb, dtype=np.float64) - 1
        acc = tech.curve("int_add_energy_pj")(self.accumulator_bits(tech, wb, ab))
        return shifter_energy_pj(tech, ab, exp_bits) + acc

    def datapath_area_um2(self, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray) -> np.ndarray:
        exp_bits = np.asarray(nw, dtype=np.float64) - 1
        acc = tech.curve("int_add_area_um2")(self.accumulator_bits(tech, nw, na))
        return shifter_area_um2(tech, na, exp_bits) + acc
