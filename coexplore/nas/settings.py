"""The architecture axis of a space and the encoding of one architecture, torch-free.

Single-Path NAS (Stamoulis et al., ECML-PKDD 2019) searches, per MBConv block, the depthwise kernel
size (3 or 5) and the expansion ratio (3 or 6), and may skip a block that keeps its shape. A
space's ``model.architecture`` section says which choices a study searches and per what unit::

    architecture:
      kernel: [3, 5]          # depthwise kernel sizes searched (3x3 is the centre of the 5x5)
      expand: [3, 6]          # expansion ratios searched (ratio 3 = first half of ratio 6's channels)
      skip: ["blocks.2"]      # fnmatch patterns of the blocks that may be skipped (stride 1, in = out)
      per: block              # block (params kernel.blocks.0, ...) | group (model.groups) | network

An architecture is one string, a token per block in forward order: ``k5e6`` (kernel 5, ratio 6),
``k3e3``, ... or ``skip``, comma-joined (``"k3e6,k5e3,skip"``); equal networks give equal strings.

Example:
    >>> decode("k3e6,skip")
    [BlockChoice(kernel=3, expand=6, skip=False), BlockChoice(kernel=5, expand=6, skip=True)]
    >>> encode(decode("k3e6,skip"))
    'k3e6,skip'
"""

from __future__ import annotations

import fnmatch
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

KERNELS: tuple[int, ...] = (3, 5)
"""Depthwise kernel sizes of a superkernel: the 3x3 is the centre of the 5x5."""
EXPANDS: tuple[int, ...] = (3, 6)
"""Expansion ratios of a superkernel: ratio 3 uses the first half of ratio 6's hidden channels."""
ARCH_CHOICE = "architecture"
"""Key of the architecture in a trial's transforms (its value: the :func:`encode` string)."""
PARAMS = ("kernel", "expand", "skip")
"""Names (or prefixes, ``kernel.<unit>``) of the architecture's trial parameters."""


class BlockChoice(NamedTuple):
    """One block's choice: kernel size, expansion ratio, skipped. A skipped block keeps the largest
    kernel and ratio as its nominal values, so every skipped block reads the same."""

    kernel: int = 5
    expand: int = 6
    skip: bool = False

    def token(self) -> str:
        """``k5e6``, ``k3e3``, ... or ``skip``."""
        return "skip" if self.skip else f"k{self.kernel}e{self.expand}"


LARGEST = BlockChoice()
"""The choice every block of the full supernet path takes (5x5, ratio 6, not skipped)."""


def encode(choices: list[BlockChoice]) -> str:
    """The canonical string of an architecture (one token per block, comma-joined)."""
    return ",".join(c.token() for c in choices)


def decode(text: str, blocks: int | None = None) -> list[BlockChoice]:
    """The per-block choices of an architecture string.

    Raises:
        ValueError: a token is not ``k{3|5}e{3|6}`` or ``skip``, or the block count differs from ``blocks``.
    """
    out = []
    for i, tok in enumerate(t.strip() for t in str(text).split(",")):
        if tok == "skip":
            out.append(BlockChoice(skip=True))
            continue
        try:
            k, e = (int(v) for v in tok.removeprefix("k").split("e"))
        except ValueError:
            raise ValueError(f"block {i}: {tok!r} is not k<kernel>e<expand> or skip") from None
        if k not in KERNELS or e not in EXPANDS or not tok.startswith("k"):
            raise ValueError(f"block {i}: {tok!r}: kernel must be one of {KERNELS}, expand one of {EXPANDS}")
        out.append(BlockChoice(k, e))
    if blocks is not None and len(out) != blocks:
        raise ValueError(f"{len(out)} blocks given, the supernet has {blocks}")
    return out


def block_names(layer_names: list[str]) -> list[str]:
    """The MBConv blocks of a supernet's layer names, in forward order (each has a ``<block>.dw`` layer)."""
    return [n[: -len(".dw")] for n in layer_names if n.endswith(".dw")]


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"choices repeat a value: {values}")
    return values


class ArchitectureAxis(BaseModel):
    """The architecture axis: kernel sizes, expansion ratios, skippable blocks, unit of the parameters.

    Example:
        >>> axis = ArchitectureAxis(skip=["blocks.1"], per="block")
        >>> sorted(axis.units(["stem", "blocks.0.dw", "blocks.1.dw"], {}))
        ['blocks.0', 'blocks.1']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kernel: list[Literal[3, 5]] = Field(default=[3, 5], min_length=1)
    expand: list[Literal[3, 6]] = Field(default=[3, 6], min_length=1)
    skip: list[str] = Field(default_factory=list)
    per: Literal["network", "group", "block"] = "block"

    _no_repeats = field_validator("kernel", "expand", "skip")(_unique)

    def skippable(self, blocks: list[str]) -> list[str]:
        """The blocks ``skip`` names, in forward order."""
        return [b for b in blocks if any(fnmatch.fnmatchcase(b, p) for p in self.skip)]

    def units(self, layer_names: list[str], groups: dict[str, list[str]]) -> dict[str, list[str]]:
        """Unit name -> its blocks: ``{"": all}`` per network, ``{block: [block]}`` per block, or one
        entry per named group (a block joins the first group with a pattern matching its name or its
        ``.dw`` layer; blocks no group matches keep the largest choice)."""
        blocks = block_names(layer_names)
        if self.per == "network":
            return {"": blocks} if blocks else {}
        if self.per == "block":
            return {b: [b] for b in blocks}
        out: dict[str, list[str]] = {}
        for b in blocks:
            group = next((g for g, pats in groups.items()
                          if any(fnmatch.fnmatchcase(b, p) or fnmatch.fnmatchcase(f"{b}.dw", p) for p in pats)), None)
            if group is not None:
                out.setdefault(group, []).append(b)
        return out

    def param_names(self, layer_names: list[str], groups: dict[str, list[str]]) -> dict[str, tuple[list, list[str]]]:
        """Trial parameter name -> (its choices, the blocks it sets); only axes with more than one choice."""
        out: dict[str, tuple[list, list[str]]] = {}
        skippable = set(self.skippable(block_names(layer_names)))
        for unit, blocks in self.units(layer_names, groups).items():
            suffix = f".{unit}" if unit else ""
            if len(self.kernel) > 1:
                out[f"kernel{suffix}"] = (sorted(self.kernel), blocks)
            if len(self.expand) > 1:
                out[f"expand{suffix}"] = (sorted(self.expand), blocks)
            if any(b in skippable for b in blocks):
                out[f"skip{suffix}"] = ([False, True], [b for b in blocks if b in skippable])
        return out

    def architecture(self, params: dict, layer_names: list[str], groups: dict[str, list[str]]) -> str:
        """The architecture string that a trial's parameters make (unset axes: their largest choice)."""
        blocks = block_names(layer_names)
        kernel = {b: max(self.kernel) for b in blocks}
        expand = {b: max(self.expand) for b in blocks}
        skip = {b: False for b in blocks}
        for name, (_, members) in self.param_names(layer_names, groups).items():
            if name not in params:
                continue
            target = {"kernel": kernel, "expand": expand, "skip": skip}[name.split(".", 1)[0]]
            for b in members:
                target[b] = bool(params[name]) if target is skip else int(params[name])
        return encode([BlockChoice(kernel[b], expand[b], skip[b]) for b in blocks])
