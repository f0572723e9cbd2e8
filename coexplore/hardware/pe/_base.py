"""The processing-element contract: energy per operation and area from PE type and bits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from coexplore.hardware.technology import TechnologyTable


class PEModel(ABC):
    """One PE datapath family; all methods are elementwise over arrays of bits.

    Energies are in pJ per multiply-accumulate, areas in um^2, both at the technology table's
    reference node (the evaluator applies node scaling). ``wb``/``ab`` are the operating weight
    and activation bits (operand-gated, at most the native bits); ``nw``/``na`` the native bits
    the datapath is built for.
    """

    family: str = ""
    """Name under which a user characterization file overrides this model's curves."""

    @abstractmethod
    def product_bits(self, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Width of one product before accumulation."""

    @abstractmethod
    def datapath_energy_pj(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Energy of the multiply (or shift / XNOR) and accumulate of one operation."""

    @abstractmethod
    def datapath_area_um2(self, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray) -> np.ndarray:
        """Area of the arithmetic (without pipeline registers) at native bits."""

    def accumulator_bits(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Accumulator / partial-sum width: product bits plus guard bits, capped."""
        guard = tech.const("accumulator_guard_bits")
        cap = tech.const("accumulator_max_bits")
        return np.minimum(self.product_bits(wb, ab) + guard, cap)

    def energy_pj(self, tech: TechnologyTable, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Energy per operation; a user curve for this family replaces the default model.

        A user curve is a function of ``sqrt(wb * ab)`` (equal to the bits when wb == ab).
        """
        user = tech.user_curve("mac_energy_pj", self.family)
        if user is not None:
            return user(np.sqrt(np.asarray(wb, dtype=np.float64) * ab))
        return self.datapath_energy_pj(tech, wb, ab)

    def area_um2(self, tech: TechnologyTable, nw: np.ndarray, na: np.ndarray) -> np.ndarray:
        """PE logic area: datapath plus operand/accumulator pipeline registers (flip-flops)."""
        user = tech.user_curve("pe_area_um2", self.family)
        if user is not None:
            return user(np.sqrt(np.asarray(nw, dtype=np.float64) * na))
        regs = (nw + na + self.accumulator_bits(tech, nw, na)) * tech.const("dff_area_um2")
        return self.datapath_area_um2(tech, nw, na) + regs
