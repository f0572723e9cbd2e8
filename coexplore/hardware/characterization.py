"""User characterization files: measured points (synthesis, CACTI) that replace default curves.

A file lists points per quantity; each quantity is fitted by least-squares polynomial regression
(degree configurable, as QUIDAM does) and the fit error is reported.

YAML form::

    node_nm: 45                  # node of the measurements (default: the table's reference node)
    fits:
      - quantity: mac_energy_pj  # one of USER_QUANTITIES
        family: int              # PE family (or a PE type such as int8) for PE quantities
        degree: 2
        x: [4, 8, 16]            # bits (PE quantities) or bytes (memories)
        y: [0.06, 0.21, 0.85]

CSV form: columns ``quantity, family, x, y`` and optionally ``degree`` and ``log``, one point per
row (blank family for memory quantities).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coexplore.hardware.fitting import PolyCurve
from coexplore.yamlio import UserFileError, read_yaml_file

USER_QUANTITIES: dict[str, str] = {
    "mac_energy_pj": "energy per MAC of a PE family vs bits (sqrt(wb*ab)), pJ",
    "pe_area_um2": "PE logic area of a PE family vs native bits, um^2",
    "spad_energy_pj_per_bit": "scratchpad access energy per bit vs spad size in bytes, pJ",
    "ifmap_spad_energy_pj_per_bit": "ifmap scratchpad energy per bit vs size in bytes (overrides spad_*), pJ",
    "filter_spad_energy_pj_per_bit": "filter scratchpad / weight register file energy per bit vs size in bytes, pJ",
    "psum_spad_energy_pj_per_bit": "psum scratchpad / output register energy per bit vs size in bytes, pJ",
    "spad_area_um2_per_bit": "scratchpad area per bit vs spad size in bytes, um^2",
    "glb_energy_pj_per_bit": "global-buffer access energy per bit vs size in bytes, pJ",
    "glb_area_um2_per_bit": "global-buffer area per bit vs size in bytes, um^2",
    "dram_energy_pj_per_bit": "DRAM access energy per bit (x ignored; use degree 0), pJ",
    "noc_energy_pj_per_bit": "one inter-PE / NoC transfer per bit (x ignored; use degree 0), pJ",
    "leakage_w_per_mm2": "leakage power density (x ignored; use degree 0), W/mm^2",
}
"""Quantities a characterization file may fit, with their x variable and unit."""

PE_QUANTITIES = ("mac_energy_pj", "pe_area_um2")
def pe_families() -> dict[str, str]:
    """Names a characterization entry may give as ``pe`` -> the family whose curves it sets: every
    registered PE type and every family (``int`` covers int16, int8 and int4)."""
    from coexplore.hardware.pe.registry import PE_TYPE_REGISTRY

    out = {p.family: p.family for p in PE_TYPE_REGISTRY.values()}
    out.update({name: p.family for name, p in PE_TYPE_REGISTRY.items()})
    return out


class CharacterizationError(ValueError):
    """A characterization file is invalid; the message names the file, entry and field."""


@dataclass(frozen=True)
class Characterization:
    """Fitted user curves keyed by ``(quantity, family)`` (family ``""`` for memories)."""

    curves: dict[tuple[str, str], PolyCurve]
    node_nm: float | None = None
    source: str = ""

    def merged_over(self, earlier: Characterization, factor: float = 1.0, earlier_factor: float = 1.0) -> Characterization:
        """``earlier``'s curves with this file's replacing the quantities both measure.

        Energy curves are brought to a common node first: ``factor`` / ``earlier_factor`` multiply
        this file's / the earlier one's energy curves (1.0 when measured at the table's node).
        """
        curves = {k: _scaled(k, c, earlier_factor) for k, c in earlier.curves.items()}
        curves.update({k: _scaled(k, c, factor) for k, c in self.curves.items()})
        return Characterization(curves, None, f"{earlier.source} + {self.source}")


def is_energy(quantity: str) -> bool:
    """Whether a user quantity is an energy (scaled with the node), as opposed to an area."""
    return "energy" in quantity


def _scaled(key: tuple[str, str], curve: PolyCurve, factor: float) -> PolyCurve:
    """``curve`` times ``factor`` for an energy quantity (log curves shift their constant term)."""
    if factor == 1.0 or not is_energy(key[0]):
        return curve
    coef = list(curve.coef)
    if curve.log:
        coef[0] += float(np.log(factor))
    else:
        coef = [c * factor for c in coef]
    return PolyCurve(tuple(coef), curve.log, curve.report)


def _entry(path: Path, where: str, raw: dict) -> tuple[tuple[str, str], PolyCurve]:
    q = raw.get("quantity")
    if q not in USER_QUANTITIES:
        raise CharacterizationError(
            f"{path}: {where}.quantity: unknown quantity {q!r}; allowed: {', '.join(USER_QUANTITIES)}"
        )
    fam = str(raw.get("family") or raw.get("pe_type") or "")
    if q in PE_QUANTITIES:
        families = pe_families()
        if fam not in families:
            raise CharacterizationError(
                f"{path}: {where}.family: {q} needs a PE family, got {fam!r}; allowed: "
                f"{', '.join(families)}"
            )
        fam = families[fam]
    else:
        fam = ""
    try:
        x = [float(v) for v in raw["x"]]
        y = [float(v) for v in raw["y"]]
        degree = int(raw["degree"]) if raw.get("degree") is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        raise CharacterizationError(f"{path}: {where}: needs numeric lists x and y ({exc})") from exc
    if len(x) != len(y) or not x:
        raise CharacterizationError(f"{path}: {where}: x and y must be non-empty and equal length")
    if degree is not None and degree < 0:
        raise CharacterizationError(f"{path}: {where}.degree: must be >= 0, got {degree}")
    log = bool(raw.get("log", False))
    name = f"{q}[{fam}]" if fam else q
    try:
        curve = PolyCurve.fit(x, y, degree, log=log, quantity=name)
    except ValueError as exc:
        raise CharacterizationError(f"{path}: {where}: {exc}") from exc
    return (q, fam), curve


def _read_csv(path: Path) -> list[dict]:
    groups: dict[tuple[str, str], dict] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            if not row.get("quantity"):
                raise CharacterizationError(f"{path}: line {i}: missing column 'quantity'")
            key = (row["quantity"].strip(), (row.get("family") or "").strip())
            g = groups.setdefault(key, {"quantity": key[0], "family": key[1], "x": [], "y": []})
            try:
                g["x"].append(float(row["x"]))
                g["y"].append(float(row["y"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise CharacterizationError(f"{path}: line {i}: x and y must be numbers") from exc
            if row.get("degree"):
                g["degree"] = int(row["degree"])
            if row.get("log"):
                g["log"] = row["log"].strip().lower() in ("1", "true", "yes")
    return list(groups.values())


def load_characterization(path: str | Path) -> Characterization:
    """Read and fit a characterization file (YAML or CSV).

    Args:
        path: a ``.yaml``/``.yml`` file with ``fits:`` entries or a ``.csv`` of points.

    Raises:
        CharacterizationError: naming the file, the entry and the field at fault.
    """
    path = Path(path)
    node = None
    try:
        if path.suffix.lower() == ".csv":
            entries = _read_csv(path)
        else:
            data = read_yaml_file(path)
            if not isinstance(data, dict) or not isinstance(data.get("fits"), list):
                raise CharacterizationError(
                    f"{path}: expected a characterization (a mapping with a list 'fits:') or a full "
                    "technology table (with 'curves:', as coexplore/data/tech_45nm.yaml)"
                )
            entries = data["fits"]
            node = data.get("node_nm")
    except UserFileError as exc:
        raise CharacterizationError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise CharacterizationError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except OSError as exc:
        raise CharacterizationError(f"{path}: cannot read characterization: {exc.strerror or exc}") from None
    curves = {}
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise CharacterizationError(f"{path}: fits[{i}]: expected a mapping")
        key, curve = _entry(path, f"fits[{i}]", raw)
        curves[key] = curve
    return Characterization(curves, None if node is None else float(node), str(path))
