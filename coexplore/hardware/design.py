"""One accelerator design point, and a batch of them as arrays for the vectorized PPA model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from coexplore.hardware.pe.registry import get_pe_type, native_bits, pe_type_names
from coexplore.yamlio import UserFileError, read_yaml_file

DATAFLOWS: tuple[str, ...] = ("row_stationary", "weight_stationary", "output_stationary")
"""Dataflows, in the order of their integer codes in a :class:`DesignBatch`."""

Dataflow = Literal["row_stationary", "weight_stationary", "output_stationary"]


class DesignError(ValueError):
    """A design file or value is invalid; the message names the key and what is allowed."""


class DesignPoint(BaseModel):
    """One accelerator design point: PE type and precision, array shape, memories, bandwidth.

    Scratchpad sizes are in words per PE; ``glb_kib`` is the shared global buffer in KiB.
    ``weight_bits``/``act_bits`` default to the PE type's native precision. ``glb_port_bits`` is
    the GLB's bandwidth to and from the array and DRAM in bits per cycle (0: unlimited, the
    default); ``first_fill`` adds the cycles of loading a layer's first tile from DRAM before
    compute starts (default False: transfers fully overlapped with compute);
    ``dram_full_duplex`` gives reads and writes ``dram_gbps`` each (separate channels, as AXI's;
    default False: one shared bus).

    Example:
        >>> DesignPoint(pe_type="int8", pe_rows=12, pe_cols=14).weight_bits
        8
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pe_type: str = "int8"
    weight_bits: int | None = Field(default=None, ge=1, le=16)
    act_bits: int | None = Field(default=None, ge=1, le=16)
    pe_rows: int = Field(default=12, ge=1, le=1024)
    pe_cols: int = Field(default=14, ge=1, le=1024)
    ifmap_spad: int = Field(default=12, ge=1, le=65536)
    filter_spad: int = Field(default=224, ge=1, le=65536)
    psum_spad: int = Field(default=24, ge=1, le=65536)
    glb_kib: float = Field(default=108.0, gt=0, le=1048576)
    dram_gbps: float = Field(default=25.6, gt=0, le=100000)
    clock_mhz: float = Field(default=200.0, gt=0, le=10000)
    dataflow: Dataflow = "row_stationary"
    tech_nm: float = Field(default=45.0, ge=3, le=180)
    glb_port_bits: int = Field(default=0, ge=0, le=1048576)
    first_fill: bool = False
    dram_full_duplex: bool = False

    @field_validator("pe_type")
    @classmethod
    def _registered(cls, v: str) -> str:
        get_pe_type(v)
        return v

    @model_validator(mode="after")
    def _native_bits(self) -> DesignPoint:
        w, a = native_bits(self.pe_type)
        for key, have, native in (("weight_bits", self.weight_bits, w), ("act_bits", self.act_bits, a)):
            if have is not None and have > native:
                raise ValueError(f"{key}: {have} bits is more than a {self.pe_type} PE holds ({native}); "
                                 f"use at most {native}, or a wider PE type")
        if self.weight_bits is None:
            object.__setattr__(self, "weight_bits", w)
        if self.act_bits is None:
            object.__setattr__(self, "act_bits", a)
        return self

    @property
    def n_pes(self) -> int:
        """Number of processing elements in the array."""
        return self.pe_rows * self.pe_cols


def format_validation_error(
    err: ValidationError,
    prefix: str = "",
    *,
    skip_loc: Callable[[str], bool] | None = None,
    plain: bool = False,
) -> list[str]:
    """One line per problem, each naming the dotted field path and what is wrong.

    Args:
        err: the validation error.
        prefix: dotted path of the validated mapping ("" at the top).
        skip_loc: location parts to leave out of the path (e.g. tags of discriminated unions).
        plain: word messages for users of YAML files ("missing required key", no "Value error, ").
    """
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if skip_loc is None or not skip_loc(str(p))]
        path = ".".join(p for p in (prefix, *loc) if p != "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif plain and e["type"] == "missing":
            msg = "missing required key"
        elif plain:
            for pydantic_prefix in ("Value error, ", "Assertion failed, "):
                if msg.startswith(pydantic_prefix):
                    msg = msg[len(pydantic_prefix):]
                    break
        lines.append(f"{path or '<root>'}: {msg}")
    return lines


def load_design(path: str | Path) -> DesignPoint:
    """Read a design point from YAML; raise :class:`DesignError` naming the file and key."""
    path = Path(path)
    try:
        data = read_yaml_file(path)
    except UserFileError as exc:
        raise DesignError(str(exc)) from None
    if not isinstance(data, dict):
        raise DesignError(f"{path}: expected a mapping of design keys")
    try:
        return DesignPoint(**data)
    except ValidationError as exc:
        raise DesignError("\n".join(f"{path}: {line}" for line in format_validation_error(exc)))


@dataclass(frozen=True)
class DesignBatch:
    """D design points as parallel arrays (shape ``D``); the input of the vectorized evaluator.

    ``pe_type`` and ``dataflow`` hold integer codes into :func:`pe_type_names` / :data:`DATAFLOWS`.
    """

    pe_type: np.ndarray
    weight_bits: np.ndarray
    act_bits: np.ndarray
    pe_rows: np.ndarray
    pe_cols: np.ndarray
    ifmap_spad: np.ndarray
    filter_spad: np.ndarray
    psum_spad: np.ndarray
    glb_kib: np.ndarray
    dram_gbps: np.ndarray
    clock_mhz: np.ndarray
    dataflow: np.ndarray
    tech_nm: np.ndarray
    glb_port_bits: np.ndarray | None = None
    first_fill: np.ndarray | None = None
    dram_full_duplex: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Optional columns (added after the first release) default to the DesignPoint defaults.
        for name, dtype in _OPTIONAL_COLUMNS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(self.pe_type.shape, dtype=dtype))

    def __len__(self) -> int:
        return int(self.pe_type.shape[0])

    @classmethod
    def from_points(cls, points: Sequence[DesignPoint]) -> DesignBatch:
        """Stack design points into arrays."""
        cols: dict[str, list] = {f.name: [] for f in fields(cls)}
        for p in points:
            for name, col in cols.items():
                v = getattr(p, name)
                if name == "pe_type":
                    v = pe_type_names().index(v)
                elif name == "dataflow":
                    v = DATAFLOWS.index(v)
                col.append(v)
        return cls.from_columns(cols)

    @classmethod
    def from_columns(cls, cols: dict[str, Sequence]) -> DesignBatch:
        """Build from column arrays; string PE types / dataflows are converted to codes."""
        out = {}
        for f in fields(cls):
            if f.name in _OPTIONAL_COLUMNS and f.name not in cols:
                continue
            v = np.asarray(cols[f.name])
            if f.name in ("pe_type", "dataflow") and v.dtype.kind in "UO":
                names = pe_type_names() if f.name == "pe_type" else DATAFLOWS
                v = np.array([names.index(x) for x in v], dtype=np.int64)
            dtype = np.float64 if f.name in ("glb_kib", "dram_gbps", "clock_mhz", "tech_nm") else np.int64
            dtype = _OPTIONAL_COLUMNS.get(f.name, dtype)
            out[f.name] = v.astype(dtype)
        return cls(**out)

    def point(self, i: int) -> DesignPoint:
        """The i-th design point as a :class:`DesignPoint`."""
        kw = {f.name: getattr(self, f.name)[i].item() for f in fields(self)}
        kw["pe_type"] = pe_type_names()[kw["pe_type"]]
        kw["dataflow"] = DATAFLOWS[kw["dataflow"]]
        return DesignPoint(**kw)


_OPTIONAL_COLUMNS: dict[str, type] = {"glb_port_bits": np.int64, "first_fill": np.bool_, "dram_full_duplex": np.bool_}
"""Columns a :class:`DesignBatch` may be built without (they then take the DesignPoint default)."""
