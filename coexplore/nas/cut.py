"""Cutting a sub-network out of a trained supernet: the chosen kernel and channels as real layers.

A cut block's depthwise layer is the superkernel's centre (3x3) or the whole of it (5x5), over the
first half (ratio 3) or all (ratio 6) of the hidden channels; the expand layer keeps the matching
output channels, the project layer the matching inputs, each BatchNorm the matching statistics. A
skipped block keeps its layers (so a quantization plan over the supernet's layer names still
applies) but is never called, so its layers are neither trained nor costed.

Example:
    >>> from coexplore.nas.supernet import supernet_digits
    >>> from coexplore.nas.settings import decode
    >>> sub = subnetwork(supernet_digits(), decode("k3e3,k5e6,skip,k3e6,k5e3"))
    >>> sub.blocks[0].dw.weight.shape
    torch.Size([24, 1, 3, 3])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from coexplore.nas.settings import BlockChoice
from coexplore.nas.supernet import MAX_EXPAND, MAX_KERNEL, MBConvBlock, SinglePathSupernet


class ArchitectureError(ValueError):
    """An architecture does not fit the supernet (block count, a skip on a block that cannot skip)."""


def _slice_bn(bn: nn.BatchNorm2d, n: int) -> nn.BatchNorm2d:
    out = nn.BatchNorm2d(n, eps=bn.eps, momentum=bn.momentum).to(bn.weight.device)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(out, name).copy_(getattr(bn, name)[:n])
        out.num_batches_tracked.copy_(bn.num_batches_tracked)
    return out


def cut_block(block: MBConvBlock, choice: BlockChoice) -> MBConvBlock:
    """A block holding ``choice``'s slice of the superkernel ``block`` (which stays untouched)."""
    if not block.superkernel:
        raise ArchitectureError(f"{block.name}: already cut (kernel {block.kernel}, ratio {block.ratio})")
    if choice.skip and not block.residual:
        raise ArchitectureError(f"{block.name}: cannot be skipped (stride {block.stride}, "
                                f"{block.c_in} -> {block.c_out} channels)")
    out = MBConvBlock(block.c_in, block.c_out, block.stride, choice.kernel, choice.expand, block.name)
    out = out.to(block.dw.weight.device)
    hidden = block.c_in * choice.expand
    lo = (MAX_KERNEL - choice.kernel) // 2
    with torch.no_grad():
        out.expand.weight.copy_(block.expand.weight[:hidden])
        out.dw.weight.copy_(block.dw.weight[:hidden, :, lo: lo + choice.kernel, lo: lo + choice.kernel])
        out.project.weight.copy_(block.project.weight[:, :hidden])
    out.bn1, out.bn2 = _slice_bn(block.bn1, hidden), _slice_bn(block.bn2, hidden)
    out.bn3 = copy.deepcopy(block.bn3)
    out.skipped = bool(choice.skip)
    return out


def subnetwork(supernet: SinglePathSupernet, choices: Sequence[BlockChoice]) -> SinglePathSupernet:
    """The sub-network ``choices`` cut out of ``supernet``'s superkernels (a new module; the supernet is
    left as it is); it never samples paths, and its layer names are the supernet's.

    Raises:
        ArchitectureError: the block count differs, or a block that changes shape is skipped.
    """
    if len(choices) != len(supernet.blocks):
        raise ArchitectureError(f"{len(choices)} block choices for a supernet of {len(supernet.blocks)} blocks")
    blocks = supernet.blocks
    supernet.blocks = nn.ModuleList()  # do not deep-copy the superkernels only to replace them
    try:
        sub = copy.deepcopy(supernet)
    finally:
        supernet.blocks = blocks
    sub.blocks = nn.ModuleList(cut_block(b, c) for b, c in zip(blocks, choices))
    sub.sample_paths = False
    sub.train(supernet.training)
    return sub


def is_supernet(model: nn.Module) -> bool:
    """True for an uncut single-path supernet (every block a 5x5, ratio-6 superkernel)."""
    return isinstance(model, SinglePathSupernet) and all(b.superkernel for b in model.blocks)


__all__ = ["MAX_EXPAND", "ArchitectureError", "cut_block", "is_supernet", "subnetwork"]
