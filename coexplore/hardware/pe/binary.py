"""Binary PE: an XNOR of 1-bit weight and activation and a popcount accumulate (BNN style)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from coexplore.hardware.pe._base import PEModel

if TYPE_CHECKING:
    from coexplore.hardware.technology import TechnologyTable


class BinaryPE(PEModel):
    """XNOR + popcount: one XNOR bit and an increment of the popcount accumulator per operation.

    Example:
        >>> from coexplore.hardware.technology import TechnologyTable
        >>> t = TechnologyTable.default()
        >>> bool(BinaryPE().energy_pj(t, 1, 1) * 10 < t.mac_energy_pj(0, 16, 16))
        True
    """

    family = "binary"

    def product_bits(self, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        return np.asarray(wb, dtype=np.float64) * ab  # 1 x 1 -> 1 bit

    def datapath_energy_pj(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        xnor = tech.const("xnor_vs_adder_bit_energy") * tech.adder_energy_pj_per_bit()
        acc = tech.curve("int_add_energy_pj")(self.accumulator_bits(tech, wb, ab))
        return xnor * self.product_bits(wb, ab) + acc

    def datapath_area_um2(self, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray) -> np.ndarray:
        xnor = tech.const("xnor2_area_um2") * self.product_bits(nw, na)
        return xnor + tech.curve("int_add_area_um2")(self.accumulator_bits(tech, nw, na))
