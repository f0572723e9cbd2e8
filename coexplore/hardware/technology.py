"""The technology characterization: per-op and per-access energies, areas, node scaling.

Data lives in ``coexplore/data/tech_45nm.yaml`` (published points, each cited); this module fits
its curves and answers vectorized questions: energy of a MAC by PE type and bits, SRAM / register
file energy and area by size, DRAM and NoC energy, leakage, and node-scaling factors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from coexplore.hardware.characterization import Characterization, load_characterization
from coexplore.hardware.fitting import FitReport, PolyCurve
from coexplore.hardware.pe.registry import PE_TYPE_REGISTRY, native_bits_by_code, pe_type_names
from coexplore.yamlio import UserFileError, read_yaml_file


class TechError(ValueError):
    """A technology file is invalid; the message names the file and key."""


@dataclass(frozen=True)
class TechnologyTable:
    """Fitted technology curves and constants at a reference node, plus optional user fits.

    All ``*_pj``/``*_um2`` methods return values at the reference node; multiply by
    :meth:`energy_scale` / :meth:`area_scale` for another node.

    Example:
        >>> t = TechnologyTable.default()
        >>> bool(t.mac_energy_pj(np.array([0]), 16, 16)[0] > t.mac_energy_pj(np.array([3]), 4, 8)[0])
        True
    """

    reference_node_nm: float
    curves: dict[str, PolyCurve]
    constants: dict[str, float]
    scaling: dict[str, float]
    user: Characterization | None = None
    source: str = ""
    _user_factor: float = field(default=1.0, repr=False)

    # ---------------------------------------------------------------- loading
    @classmethod
    def default(cls) -> TechnologyTable:
        """The shipped 45 nm table built from published figures (cached)."""
        return _default_table()

    @classmethod
    def load(cls, path: str | Path) -> TechnologyTable:
        """Load a full technology table, or a user characterization applied to the default.

        A YAML with ``curves:`` is a full table (same layout as ``tech_45nm.yaml``); a YAML with
        ``fits:`` or any CSV is a characterization of measured points fitted over the default.
        """
        path = Path(path)
        if path.suffix.lower() != ".csv":
            try:
                data = read_yaml_file(path)
            except UserFileError as exc:
                raise TechError(str(exc)) from None
            if isinstance(data, dict) and "curves" in data:
                return cls.from_dict(data, source=str(path))
        return cls.default().with_characterization(load_characterization(path))

    @classmethod
    def load_stack(cls, paths: list[str | Path] | tuple[str | Path, ...]) -> TechnologyTable:
        """Load technology files in order: optionally a full table first, then characterizations
        of measured points fitted over it, a later file's quantities replacing an earlier one's.

        Example:
            >>> TechnologyTable.load_stack([]).source
            'coexplore/data/tech_45nm.yaml'
        """
        table = cls.default()
        for i, path in enumerate(paths):
            path = Path(path)
            loaded = cls.load(path)
            if loaded.user is None:  # a full table
                if i > 0:
                    raise TechError(f"{path}: a full technology table (with 'curves:') must come first; "
                                    "later files must be characterizations (with 'fits:' or a CSV of points)")
                table = loaded
            else:
                table = table.with_characterization(loaded.user)
        return table

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> TechnologyTable:
        """Build from the parsed YAML layout (``reference_node_nm``, ``curves``, ``constants``, ``scaling``)."""
        try:
            node = float(data["reference_node_nm"])
            curves = {
                name: PolyCurve.fit(c["x"], c["y"], int(c.get("degree", 2)), log=bool(c.get("log")), quantity=name)
                for name, c in data["curves"].items()
            }
            consts = {k: float(v) for k, v in data["constants"].items()}
            scaling = {k: float(v) for k, v in data["scaling"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise TechError(f"{source}: invalid technology table: {exc!r}") from exc
        missing = [k for k in _REQUIRED_CURVES if k not in curves] + [k for k in _REQUIRED_CONSTANTS if k not in consts]
        if missing:
            raise TechError(f"{source}: missing keys: {', '.join(missing)}")
        return cls(node, curves, consts, scaling, source=source)

    def with_characterization(self, char: Characterization) -> TechnologyTable:
        """A copy whose quantities measured in ``char`` replace the table's curves (and those of
        any characterization applied before: stacking, later wins)."""
        factor = 1.0
        if char.node_nm is not None:
            # Measured at another node: bring the points back to this table's reference node.
            factor = 1.0 / float(self.energy_scale(char.node_nm))
        if self.user is not None:
            return replace(self, user=char.merged_over(self.user, factor, self._user_factor), _user_factor=1.0)
        return replace(self, user=char, _user_factor=factor)

    # ---------------------------------------------------------------- raw access
    def curve(self, name: str) -> PolyCurve:
        """A default curve by name (e.g. ``int_mult_energy_pj``)."""
        return self.curves[name]

    def const(self, name: str) -> float:
        """A constant by name (e.g. ``dff_area_um2``)."""
        return self.constants[name]

    def user_curve(self, quantity: str, family: str = "") -> Callable[[np.ndarray], np.ndarray] | None:
        """The user's fitted curve for a quantity (and PE family), or None."""
        if self.user is None:
            return None
        c = self.user.curves.get((quantity, family))
        if c is None:
            return None
        if self._user_factor == 1.0 or not quantity.endswith("_pj") and "energy" not in quantity:
            return c
        f = self._user_factor
        return lambda x: c(x) * f

    def fit_reports(self) -> list[FitReport]:
        """Fit reports of the user's curves (empty for the default table)."""
        if self.user is None:
            return []
        return [c.report for c in self.user.curves.values() if c.report is not None]

    # ---------------------------------------------------------------- scaling
    def energy_scale(self, node_nm: np.ndarray | float) -> np.ndarray:
        """Energy factor from the reference node: ``(node / ref) ** energy_exp``."""
        return (np.asarray(node_nm, dtype=np.float64) / self.reference_node_nm) ** self.scaling["energy_exp"]

    def area_scale(self, node_nm: np.ndarray | float) -> np.ndarray:
        """Area factor from the reference node: ``(node / ref) ** area_exp``."""
        return (np.asarray(node_nm, dtype=np.float64) / self.reference_node_nm) ** self.scaling["area_exp"]

    def leakage_w_per_mm2(self, node_nm: np.ndarray | float = 45.0) -> np.ndarray:
        """Leakage power density at a node."""
        user = self.user_curve("leakage_w_per_mm2")
        base = user(np.zeros(1))[0] if user is not None else self.const("leakage_w_per_mm2")
        ratio = np.asarray(node_nm, dtype=np.float64) / self.reference_node_nm
        return base * ratio ** self.scaling.get("leakage_exp", 0.0)

    # ---------------------------------------------------------------- arithmetic
    def adder_energy_pj_per_bit(self) -> float:
        """Energy of one adder bit (slope of the adder curve at 32 bits)."""
        return float(self.curve("int_add_energy_pj")(32.0)) / 32.0

    def mac16_energy_pj(self) -> float:
        """Energy of the 16-bit MAC that Eyeriss normalizes access costs to ([E16])."""
        return float(self.curve("int_mult_energy_pj")(256.0) + self.curve("int_add_energy_pj")(32.0))

    def mac_energy_pj(
        self, pe_code: np.ndarray, wb: np.ndarray, ab: np.ndarray, node_nm: np.ndarray | float | None = None
    ) -> np.ndarray:
        """Energy per operation (pJ) by PE type code and operating bits (broadcast together);
        at ``node_nm`` when given, else at the reference node."""
        return self._at(self._by_type("energy_pj", pe_code, wb, ab), node_nm, self.energy_scale)

    def pe_area_um2(self, pe_code: np.ndarray, node_nm: np.ndarray | float | None = None) -> np.ndarray:
        """PE logic area (um^2) by PE type code, at the type's native bits (and ``node_nm``)."""
        native = native_bits_by_code()[np.asarray(pe_code)]
        area = self._by_type("area_um2", pe_code, native[..., 0], native[..., 1])
        return self._at(area, node_nm, self.area_scale)

    @staticmethod
    def _at(value: np.ndarray, node_nm: np.ndarray | float | None, scale: Callable) -> np.ndarray:
        return value if node_nm is None else value * scale(node_nm)

    def accumulator_bits(self, pe_code: np.ndarray, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Partial-sum width by PE type code and operating bits (broadcast together)."""
        return self._by_type("accumulator_bits", pe_code, wb, ab)

    def _by_type(self, method: str, pe_code: np.ndarray, wb: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """``PEModel.<method>(self, wb, ab)`` of each element's PE type (arrays broadcast together)."""
        code, wb, ab = np.broadcast_arrays(np.asarray(pe_code), np.asarray(wb, float), np.asarray(ab, float))
        out = np.empty(code.shape, dtype=np.float64)
        for i in np.unique(code):
            m = code == i
            out[m] = getattr(_pe_model(pe_type_names()[int(i)]), method)(self, wb[m], ab[m])
        return out

    # ---------------------------------------------------------------- memories
    def _measured_or(self, quantity: str, size_bytes: np.ndarray, default: Callable) -> np.ndarray:
        """The user's curve for a memory quantity at ``size_bytes``, else ``default(size_bytes)``."""
        user = self.user_curve(quantity)
        return (default if user is None else user)(size_bytes)

    def glb_energy_pj_per_bit(
        self, size_bytes: np.ndarray,
        node_nm: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """SRAM global-buffer access energy per bit vs capacity ([H14] curve, ~size^0.47).

        At ``node_nm`` when given, else at the reference node (as every method here).
        """
        value = self._measured_or("glb_energy_pj_per_bit", size_bytes, self.curve("sram_energy_pj_per_bit"))
        return self._at(value, node_nm, self.energy_scale)

    def spad_energy_pj_per_bit(
        self, size_bytes: np.ndarray,
        node_nm: np.ndarray | float | None = None,
        operand: str | None = None,
    ) -> np.ndarray:
        """Register-file scratchpad energy per bit: 1x a 16-bit MAC per 16-bit access at 0.5 kB
        ([E16]), scaled with size by the SRAM curve's exponent.

        ``operand`` (``"ifmap"``, ``"filter"``, ``"psum"``) selects a user curve measured for that
        scratchpad alone (``<operand>_spad_energy_pj_per_bit``) when one was given.
        """
        user = self.user_curve(f"{operand}_spad_energy_pj_per_bit") if operand else None
        if user is not None:
            value = user(size_bytes)
        else:
            value = self._measured_or("spad_energy_pj_per_bit", size_bytes, self._rf_energy_pj_per_bit)
        return self._at(value, node_nm, self.energy_scale)

    def _rf_energy_pj_per_bit(self, size_bytes: np.ndarray) -> np.ndarray:
        sram = self.curve("sram_energy_pj_per_bit")
        alpha = sram.coef[1] if sram.log and len(sram.coef) > 1 else 0.5
        ref = self.const("rf_energy_vs_mac16") * self.mac16_energy_pj() / 16.0
        size = np.maximum(np.asarray(size_bytes, dtype=np.float64), 1.0)
        return ref * (size / self.const("rf_reference_bytes")) ** alpha

    def glb_area_um2_per_bit(
        self, size_bytes: np.ndarray,
        node_nm: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """SRAM area per bit: 6T cell over array efficiency ([M07], [ASSUME])."""
        per_bit = self.const("sram_cell_area_um2") / self.const("sram_array_efficiency")
        value = self._measured_or("glb_area_um2_per_bit", size_bytes, lambda x: np.full(np.shape(x), per_bit))
        return self._at(value, node_nm, self.area_scale)

    def spad_area_um2_per_bit(
        self, size_bytes: np.ndarray,
        node_nm: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """Flip-flop register-file area per bit ([NG45])."""
        per_bit = self.const("rf_area_um2_per_bit")
        value = self._measured_or("spad_area_um2_per_bit", size_bytes, lambda x: np.full(np.shape(x), per_bit))
        return self._at(value, node_nm, self.area_scale)

    def dram_energy_pj_per_bit(self) -> float:
        """DRAM access energy per bit ([H14] midpoint)."""
        user = self.user_curve("dram_energy_pj_per_bit")
        if user is not None:
            return float(user(np.zeros(1))[0])
        return self.const("dram_energy_pj_per_bit")

    def noc_energy_pj_per_bit(self) -> float:
        """One inter-PE / NoC transfer per bit: 2x a 16-bit MAC per 16-bit word ([E16])."""
        user = self.user_curve("noc_energy_pj_per_bit")
        if user is not None:
            return float(user(np.zeros(1))[0])
        return self.const("noc_energy_vs_mac16") * self.mac16_energy_pj() / 16.0


def _pe_model(name: str):
    return PE_TYPE_REGISTRY[name].model


_REQUIRED_CURVES = ("int_mult_energy_pj", "int_add_energy_pj", "int_mult_area_um2", "int_add_area_um2",
                    "sram_energy_pj_per_bit")
_REQUIRED_CONSTANTS = ("dram_energy_pj_per_bit", "rf_energy_vs_mac16", "rf_reference_bytes",
                       "noc_energy_vs_mac16", "dff_area_um2", "mux2_area_um2", "xnor2_area_um2",
                       "mux_vs_adder_bit_energy", "xnor_vs_adder_bit_energy", "sram_cell_area_um2",
                       "sram_array_efficiency", "rf_area_um2_per_bit", "accumulator_guard_bits",
                       "accumulator_max_bits", "noc_area_words_per_pe", "leakage_w_per_mm2")


@lru_cache(maxsize=1)
def _default_table() -> TechnologyTable:
    text = resources.files("coexplore.data").joinpath("tech_45nm.yaml").read_text()
    return TechnologyTable.from_dict(yaml.safe_load(text), source="coexplore/data/tech_45nm.yaml")
