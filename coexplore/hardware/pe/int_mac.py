"""INT-n multiply-accumulate PE: an array multiplier plus an accumulator adder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from coexplore.hardware.pe._base import PEModel

if TYPE_CHECKING:
    from coexplore.hardware.technology import TechnologyTable


class IntMAC(PEModel):
    """Fixed-point MAC: multiplier energy/area ~ wb*ab, adder ~ accumulator width ([H14] curves).

    Example:
        >>> from coexplore.hardware.technology import TechnologyTable
        >>> e16 = IntMAC().energy_pj(TechnologyTable.default(), 16, 16)
        >>> bool(0.7 < e16 < 1.2)
        True
    """

    family = "int"

    def product_bits(self, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        return np.asarray(wb) + ab

    def datapath_energy_pj(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        wb = np.asarray(wb, dtype=np.float64)
        mult = tech.curve("int_mult_energy_pj")(wb * ab)
        acc = tech.curve("int_add_energy_pj")(self.accumulator_bits(tech, wb, ab))
        return mult + acc

    def datapath_area_um2(self, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray) -> np.ndarray:
        nw = np.asarray(nw, dtype=np.float64)
        mult = tech.curve("int_mult_area_um2")(nw * na)
        acc = tech.curve("int_add_area_um2")(self.accumulator_bits(tech, nw, na))
        return mult + acc
