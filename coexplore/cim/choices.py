"""Per-layer operator x computing-mode choices of a hybrid digital + CIM accelerator.

A choice names what a layer computes and where: ``"<operator>@<mode>"``. Each fixes the hardware
that runs it (a digital PE type, or a CIM operator) and the bits it runs at, given the plan's bits
``b`` for the layer:

=================  ===========  ======================  ==============================
choice             runs on      (weight, act) bits      reference
=================  ===========  ======================  ==============================
mac@digital        int4/8/16 PE (b, b)                  INT-n MAC (QUIDAM PE types)
shift1@digital     lightpe1 PE  (4, 8) native           LightNN-1 (Ding et al. 2017)
shift2@digital     lightpe2 PE  (8, 8) native           LightNN-2 (Ding et al. 2017)
binary@digital     binary PE    (1, 1)                  XNOR-popcount BNN
mac@cim            CIM "mac"    (b, b)                  SRAM CIM MAC macro
binary@cim         CIM "binary" (1, b)                  binary-weight CIM macro
l1@cim             CIM "l1"     (b, b)                  MF-Net (Nasrin et al. 2021)
=================  ===========  ======================  ==============================

The multiplication-free ``l1`` operator ``y = -sum |x - w|`` (AdderNet, Chen et al., CVPR 2020) is
offered on CIM only: the digital PE models have no adder-only PE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Mode = Literal["digital", "cim"]


@dataclass(frozen=True)
class OperatorChoice:
    """One per-layer choice: an operator and the computing mode that runs it.

    Args:
        operator: ``mac``, ``shift1``, ``shift2``, ``binary`` or ``l1``.
        mode: ``digital`` (the PE array) or ``cim`` (the CIM macros).
        pe_type: the digital PE type that runs it (digital mode), else None.
        native_bits: fixed (weight, act) bits, or None where the plan's bits apply; a 0 entry
            means "the plan's bits" for that side.
    """

    operator: str
    mode: Mode
    pe_type: str | None
    native_bits: tuple[int, int] | None

    @property
    def name(self) -> str:
        """``"<operator>@<mode>"``, the name used in assignments, spaces and trial params."""
        return f"{self.operator}@{self.mode}"

    def bits(self, plan_bits: int) -> tuple[int, int]:
        """(weight bits, activation bits) this choice runs at when the plan gives ``plan_bits``."""
        if self.native_bits is None:
            return plan_bits, plan_bits
        w, a = self.native_bits
        return (w or plan_bits, a or plan_bits)

    def digital_pe_type(self, plan_bits: int) -> str:
        """The digital PE type for this choice at ``plan_bits`` (the smallest INT PE that holds them)."""
        if self.mode != "digital":
            raise ValueError(f"choice {self.name}: runs on CIM, not on a digital PE")
        if self.pe_type is not None:
            return self.pe_type
        return "int4" if plan_bits <= 4 else "int8" if plan_bits <= 8 else "int16"


CHOICES: dict[str, OperatorChoice] = {
    c.name: c
    for c in (
        OperatorChoice("mac", "digital", None, None),
        OperatorChoice("shift1", "digital", "lightpe1", (4, 8)),
        OperatorChoice("shift2", "digital", "lightpe2", (8, 8)),
        OperatorChoice("binary", "digital", "binary", (1, 1)),
        OperatorChoice("mac", "cim", None, None),
        OperatorChoice("binary", "cim", None, (1, 0)),
        OperatorChoice("l1", "cim", None, None),
    )
}
"""Every choice by name; adding one means one line here plus its operator in the proxy."""

DEFAULT_CHOICES: tuple[str, ...] = ("mac@digital", "shift1@digital", "binary@digital", "mac@cim", "l1@cim")
"""The choice set an ENOS search uses unless told otherwise."""


def lookup_choice(name: str, where: str = "choice") -> OperatorChoice:
    """One choice by name; an unknown name raises ``ValueError`` naming ``where`` and the allowed ones."""
    if name not in CHOICES:
        raise ValueError(f"{where}: unknown operator choice {name!r}; allowed: {', '.join(CHOICES)}")
    return CHOICES[name]


def resolve_choices(names: Sequence[str]) -> tuple[OperatorChoice, ...]:
    """Look up choices by name; unknown names raise ``ValueError`` listing the allowed ones."""
    bad = [n for n in names if n not in CHOICES]
    if bad:
        raise ValueError(f"unknown operator choice(s) {bad}; allowed: {', '.join(CHOICES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"operator choices must be distinct, got {list(names)}")
    return tuple(CHOICES[n] for n in names)
