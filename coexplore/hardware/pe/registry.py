"""The PE-type registry: every PE type's model, native precision and weight scheme, in one place.

Everything else (design points, the PPA model, quantizers, search spaces, the CLI) derives its PE
vocabulary from here at call time, so adding a PE type is one :func:`register_pe_type` line (next
to its model's file), and a test can register one for a single study.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coexplore.hardware.pe._base import PEModel


@dataclass(frozen=True)
class PEType:
    """One PE type a design point may use.

    Attributes:
        name: the ``pe_type`` value in design files, spaces and plans.
        model: the datapath's energy and area model.
        native_bits: (weight, activation) bits the datapath is built for.
        weight_scheme: the quantizer of its weights: ``uniform`` (INT-n), ``pow2`` or ``binary``.
        weight_options: options of that quantizer (``{"terms": 2}`` for LightPE-2).
        integer: uniform INT weights, so any narrower weight width is a valid (operand-gated) choice.
    """

    name: str
    model: PEModel
    native_bits: tuple[int, int]
    weight_scheme: str = "uniform"
    weight_options: Mapping[str, Any] = field(default_factory=dict)
    integer: bool = False

    @property
    def family(self) -> str:
        """The name under which a characterization file overrides this PE's curves."""
        return self.model.family


PE_TYPE_REGISTRY: dict[str, PEType] = {}
"""PE type name -> :class:`PEType`, in registration order (the order of PE type codes)."""


def register_pe_type(pe: PEType) -> PEType:
    """Add ``pe`` to the registry (replacing one of the same name) and return it."""
    PE_TYPE_REGISTRY[pe.name] = pe
    return pe


def pe_type_names() -> tuple[str, ...]:
    """Registered PE type names, in code order."""
    return tuple(PE_TYPE_REGISTRY)


def get_pe_type(name: str) -> PEType:
    """The registered PE type ``name``.

    Raises:
        ValueError: an unknown name; the message lists the registered ones.
    """
    try:
        return PE_TYPE_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown PE type {name!r}; allowed: {', '.join(PE_TYPE_REGISTRY)}") from None


def native_bits(name: str) -> tuple[int, int]:
    """(weight, activation) native bits of PE type ``name``."""
    return get_pe_type(name).native_bits


def native_bits_by_code() -> np.ndarray:
    """Native bits as a ``types x 2`` float array indexed by PE type code (weight, activation)."""
    return np.array([p.native_bits for p in PE_TYPE_REGISTRY.values()], dtype=np.float64).reshape(-1, 2)
