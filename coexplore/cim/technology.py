"""CIM technology figures (ADC, DAC, memory, cell area) loaded from a data file, and the array
energy fitted to published macros.

The numbers live in ``coexplore/data/cim_sram45.yaml`` with their sources; this module only reads,
validates and evaluates them. The array energy per weight-bit x input-bit product (``e_bit``) is not
typed in: it is the least-squares fit that makes the model reproduce the TOPS/W of the macros listed
under ``calibration:``, so a user who brings measured macros gets a model fitted to them.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coexplore.hardware.design import format_validation_error
from coexplore.yamlio import UserFileError, load_yaml, read_text

DEFAULT_CIM_TECH = "cim_sram45.yaml"

M = TypeVar("M", bound=BaseModel)


class CimTechnologyError(ValueError):
    """A CIM technology file is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdcFigures(_Strict):
    """SAR ADC energy, area and delay coefficients (see the data file for their sources)."""

    linear_f: float = Field(gt=0)
    exp4_f: float = Field(ge=0)
    area_k1: float
    area_k2: float
    delay_per_row_ns: float = Field(ge=0)
    delay_base_ns: float = Field(ge=0)


class DacFigures(_Strict):
    """Multi-bit input DAC: energy per row drive is ``cap_f * bits * VDD^2``."""

    cap_f: float = Field(ge=0)


class MemoryFigures(_Strict):
    """Energy per bit of SRAM and DRAM traffic, per digital accumulation, and partial-sum width."""

    sram_bit_j: float = Field(gt=0)
    dram_bit_j: float = Field(gt=0)
    accumulate_j: float = Field(ge=0)
    psum_bits: int = Field(ge=1, le=64)


class AreaFigures(_Strict):
    """SRAM bit-cell area and the compute-cell overhead factor."""

    sram_cell_um2: float = Field(gt=0)
    cell_area_factor: float = Field(ge=1)


class CalibrationMacro(_Strict):
    """One published macro: its configuration and measured TOPS/W (2 operations per MAC)."""

    source: str
    operator: Literal["mac", "binary", "l1"] = "l1"
    rows: int = Field(ge=1)
    adc_bits: int = Field(ge=1, le=16)
    weight_bits: int = Field(ge=1, le=16)
    act_bits: int = Field(ge=1, le=16)
    tops_per_w: float = Field(gt=0)


class CimTechnology(_Strict):
    """CIM technology characterization at one node.

    Example:
        >>> tech = load_cim_technology()
        >>> bool(tech.adc_energy_j(5) > tech.adc_energy_j(4))
        True
    """

    name: str
    tech_nm: float = Field(ge=3, le=180)
    vdd: float = Field(gt=0, le=5)
    adc: AdcFigures
    dac: DacFigures
    memory: MemoryFigures
    area: AreaFigures
    calibration: list[CalibrationMacro] = Field(min_length=1)

    def adc_energy_j(self, bits: np.ndarray | int) -> np.ndarray:
        """Energy of one ADC conversion at ``bits`` of resolution (same shape as ``bits``)."""
        b = np.asarray(bits, dtype=np.float64)
        return (self.adc.linear_f * b + self.adc.exp4_f * 4.0**b) * self.vdd**2

    def adc_area_mm2(self, bits: np.ndarray | int) -> np.ndarray:
        """Area of one ADC at ``bits`` of resolution, in mm^2."""
        b = np.asarray(bits, dtype=np.float64)
        return 10.0 ** (self.adc.area_k1 * b + self.adc.area_k2) * 2.0**b * 1e-6

    def adc_delay_s(self, bits: np.ndarray | int, rows: np.ndarray | int) -> np.ndarray:
        """Time of one conversion of a bit line that sums ``rows`` cells, in seconds."""
        b = np.asarray(bits, dtype=np.float64)
        return b * (self.adc.delay_per_row_ns * np.asarray(rows) + self.adc.delay_base_ns) * 1e-9

    def dac_energy_j(self, bits: np.ndarray | int) -> np.ndarray:
        """Energy of driving one row with a ``bits``-bit input through a DAC."""
        return self.dac.cap_f * np.asarray(bits, dtype=np.float64) * self.vdd**2

    @cached_property
    def e_bit_j(self) -> float:
        """Array energy per weight-bit x input-bit product, fitted to the calibration macros.

        Each macro gives ``E_mac = e_bit * wb * ab + E_adc(B) / rows`` (one conversion per bit line
        summing ``rows`` products); the least-squares ``e_bit`` over all macros, clipped at 0.
        """
        wa = np.array([m.weight_bits * m.act_bits for m in self.calibration], dtype=np.float64)
        e_mac = np.array([2.0 / (m.tops_per_w * 1e12) for m in self.calibration])
        adc = np.array([float(self.adc_energy_j(m.adc_bits)) / m.rows for m in self.calibration])
        return max(float(np.dot(wa, e_mac - adc) / np.dot(wa, wa)), 0.0)

    def macro_energy_per_mac_j(self, macro: CalibrationMacro) -> float:
        """The model's energy per MAC for a calibration macro (to compare with its TOPS/W)."""
        return self.e_bit_j * macro.weight_bits * macro.act_bits + float(
            self.adc_energy_j(macro.adc_bits)
        ) / macro.rows


def load_cim_technology(path: str | Path | None = None) -> CimTechnology:
    """Read a CIM technology file (the packaged 45 nm default when ``path`` is None).

    Raises:
        CimTechnologyError: naming the file and the dotted key of every problem.
    """
    if path is None:
        return _default_technology()
    where = str(path)
    try:
        text = read_text(path)
    except UserFileError as exc:
        raise CimTechnologyError(str(exc)) from None
    return _parse(text, where)


@lru_cache(maxsize=1)
def _default_technology() -> CimTechnology:
    """The packaged file, read and fitted once (the hybrid cost model asks for it every trial)."""
    text = resources.files("coexplore").joinpath("data", DEFAULT_CIM_TECH).read_text()
    return _parse(text, f"coexplore/data/{DEFAULT_CIM_TECH}")


def _parse(text: str, where: str) -> CimTechnology:
    try:
        data = load_yaml(text, where)
    except UserFileError as exc:
        raise CimTechnologyError(str(exc)) from None
    return validated(CimTechnology, data, where, CimTechnologyError)


def validated(model: type[M], data: object, where: str, error: type[ValueError]) -> M:
    """``model(**data)`` for parsed YAML ``data``; raise ``error`` naming ``where`` and each bad key."""
    if not isinstance(data, dict):
        raise error(f"{where}: expected a mapping with keys {list(model.model_fields)}")
    try:
        return model(**data)
    except ValidationError as exc:
        raise error("\n".join(f"{where}: {line}" for line in format_validation_error(exc))) from exc
