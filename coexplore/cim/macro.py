"""An SRAM compute-in-memory macro array: geometry, precision of its cells, ADC and inputs.

A macro holds a ``rows x cols`` block of weight cells. One *array operation* drives up to ``rows``
inputs along the word lines; each of the ``cols`` bit lines sums ``rows`` products and one ADC per
column converts the sum. A weight of ``w`` bits spans ``ceil(w / cell_bits)`` adjacent columns
(bit slices, recombined by digital shift-and-add); with ``bit_serial`` inputs an ``a``-bit input
takes ``a`` array operations of one bit each (no DAC), otherwise one operation through a DAC.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from coexplore.cim.technology import CimTechnology, validated
from coexplore.yamlio import UserFileError, read_yaml_file

CIM_OPERATORS: tuple[str, ...] = ("mac", "binary", "l1")
"""Operators a CIM macro runs: INT-n multiply-accumulate, binary weights, and the
multiplication-free l1 operator ``y = -sum |x - w|`` of MF-Net (Nasrin et al., TCAS-I 2021)."""


class CimMacroError(ValueError):
    """A CIM macro file or value is invalid; the message names the key and what is allowed."""


class CimMacro(BaseModel):
    """The compute-in-memory side of a hybrid accelerator: ``n_macros`` identical macros.

    Args:
        rows: word lines summed on one bit line per conversion (the reduction length per ADC read).
        cols: bit lines (columns), one ADC each.
        n_macros: number of macros; together they hold ``n_macros * rows * cols * cell_bits`` bits.
        cell_bits: weight bits stored per column cell (1 for binary cells, up to 8 for multi-bit).
        adc_bits: resolution of the column ADCs; partial sums are quantized to it.
        bit_serial: inputs applied one bit per array operation (no DAC) instead of through a DAC.
        clock_mhz: macro clock; an array operation takes the longer of a cycle and one conversion.

    Example:
        >>> m = CimMacro(rows=64, cols=32, n_macros=16, cell_bits=8, adc_bits=5)
        >>> m.capacity_bits
        262144
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int = Field(default=64, ge=2, le=4096)
    cols: int = Field(default=32, ge=1, le=4096)
    n_macros: int = Field(default=32, ge=1, le=65536)
    cell_bits: int = Field(default=8, ge=1, le=8)
    adc_bits: int = Field(default=5, ge=1, le=12)
    bit_serial: bool = False
    clock_mhz: float = Field(default=200.0, gt=0, le=10000)

    @property
    def capacity_bits(self) -> int:
        """Weight bits the macros hold at once."""
        return self.n_macros * self.rows * self.cols * self.cell_bits

    def area_mm2(self, tech: CimTechnology) -> float:
        """Silicon area of all macros: compute cells plus one ADC per column.

        Cells: ``rows * cols * cell_bits`` SRAM bit cells at ``tech.area`` size and overhead.
        """
        cells = self.rows * self.cols * self.cell_bits * tech.area.sram_cell_um2 * tech.area.cell_area_factor
        adcs = self.cols * float(tech.adc_area_mm2(self.adc_bits))
        return self.n_macros * (cells * 1e-6 + adcs)


def load_cim_macro(path: str | Path) -> CimMacro:
    """Read a CIM macro description from YAML; raise :class:`CimMacroError` naming file and key."""
    path = Path(path)
    try:
        data = read_yaml_file(path)
    except UserFileError as exc:
        raise CimMacroError(str(exc)) from None
    return validated(CimMacro, data, str(path), CimMacroError)
