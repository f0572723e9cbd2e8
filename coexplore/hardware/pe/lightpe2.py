"""LightPE-2: weights are sums of two signed powers of two: two shifts and an add ([LNN17])."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from coexplore.hardware.pe._base import PEModel
from coexplore.hardware.pe.lightpe1 import shifted_bits, shifter_area_um2, shifter_energy_pj

if TYPE_CHECKING:
    from coexplore.hardware.technology import TechnologyTable


def _term_exp_bits(wb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exponent bits of the two terms: ``wb`` splits into two sign+exponent fields."""
    wb = np.asarray(wb, dtype=np.float64)
    hi = np.ceil(wb / 2) - 1
    lo = np.floor(wb / 2) - 1
    return hi, lo


class LightPE2(PEModel):
    """Two barrel shifts of the activation, one add of the two terms, one accumulate.

    Example:
        >>> from coexplore.hardware.technology import TechnologyTable
        >>> t = TechnologyTable.default()
        >>> bool(LightPE2().energy_pj(t, 8, 8) * 2 < t.mac_energy_pj(0, 16, 16))
        True
    """

    family = "lightpe2"

    def product_bits(self, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        hi, _ = _term_exp_bits(wb)
        return shifted_bits(ab, hi) + 1  # the sum of two terms carries one more bit

    def datapath_energy_pj(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        hi, lo = _term_exp_bits(wb)
        shifts = shifter_energy_pj(tech, ab, hi) + shifter_energy_pj(tech, ab, lo)
        add = tech.curve("int_add_energy_pj")(shifted_bits(ab, hi))
        acc = tech.curve("int_add_energy_pj")(self.accumulator_bits(tech, wb, ab))
        return shifts + add + acc

    def datapath_area_um2(self, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray) -> np.ndarray:
        hi, lo = _term_exp_bits(nw)
        shifts = shifter_area_um2(tech, na, hi) + shifter_area_um2(tech, na, lo)
        add = tech.curve("int_add_area_um2")(shifted_bits(na, hi))
        acc = tech.curve("int_add_area_um2")(self.accumulator_bits(tech, nw, na))
        return shifts + add + acc
