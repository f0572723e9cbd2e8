"""The single-path supernet: MBConv blocks whose depthwise layer is one 5x5, ratio-6 superkernel.

Single-Path NAS (Stamoulis et al., "Single-Path NAS: Designing Hardware-Efficient ConvNets in less
than 4 Hours", ECML-PKDD 2019) keeps one over-parameterized kernel per MBConv layer instead of one
path per candidate: the 3x3 kernel is the centre of the 5x5 one, and the expansion-ratio-3 hidden
channels are the first half of the ratio-6 ones. A block's choice is therefore a *mask* on shared
weights (:meth:`MBConvBlock.masked`), and a sub-network is those weights cut out
(:mod:`coexplore.nas.cut`).

The supernet is an ordinary proxy model (``model: coexplore.nas:supernet_digits``): the proxy
pretrains it once and caches it like any FP32 checkpoint. While it trains unquantized, three
batches in four take a random path (uniform single-path sampling, Guo et al., "Single Path One-Shot
NAS", ECCV 2020), so every sub-network's weights are trained, and one in four the full path; in
evaluation, or once quantized, it runs its
full path (5x5, ratio 6, nothing skipped) through its modules, so quantizers and forward hooks see
every layer.

Example:
    >>> net = supernet_digits()
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> [b.name for b in net.blocks][:2], net.block_names()[:2]
    (['blocks.0', 'blocks.1'], ['blocks.0', 'blocks.1'])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from coexplore.nas.settings import LARGEST, BlockChoice
from coexplore.quant import QuantConv2d

MAX_KERNEL, MAX_EXPAND = 5, 6
SKIP_PROBABILITY = 0.25
"""Chance that a skippable block is skipped in a sampled training path."""
FULL_PATH_PROBABILITY = 0.25
"""Chance that a training batch takes the full path (the largest network, the distillation teacher);
only those batches update the BatchNorm running statistics, so that the evaluated full path
normalizes with its own statistics rather than a mixture over random paths."""


class MBConvBlock(nn.Module):
    """An inverted-residual block (MobileNetV2): 1x1 expand, depthwise k x k, 1x1 project.

    Quantizable layers: ``expand``, ``dw``, ``project``. In a supernet the block is the superkernel
    (5x5, ratio 6); a cut block holds its chosen kernel and ratio as real, smaller layers.

    Args:
        c_in, c_out: channels in and out.
        stride: the depthwise layer's stride.
        kernel, expand: the block's depthwise kernel and expansion ratio (5, 6: the superkernel).
        name: the block's qualified name (``blocks.0``).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int = MAX_KERNEL, expand: int = MAX_EXPAND,
                 name: str = "") -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride, self.name = c_in, c_out, stride, name
        self.kernel, self.ratio, self.skipped = kernel, expand, False
        hidden = c_in * expand
        self.expand = nn.Conv2d(c_in, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.dw = nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)

    @property
    def residual(self) -> bool:
        """True when the block keeps its shape (stride 1, in = out): it adds its input and may be skipped."""
        return self.stride == 1 and self.c_in == self.c_out

    @property
    def superkernel(self) -> bool:
        """True for an uncut block (5x5, ratio 6): its choices are masks on its weights."""
        return self.kernel == MAX_KERNEL and self.ratio == MAX_EXPAND and not self.skipped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.skipped:
            return x
        h = F.relu6(self.bn1(self.expand(x)))
        h = F.relu6(self.bn2(self.dw(h)))
        y = self.bn3(self.project(h))
        return x + y if self.residual else y

    def masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inner, half): the 5x5 centre mask (``1 x 1 x 5 x 5``) and the first-half channel mask (``hidden``)."""
        inner = torch.zeros(1, 1, MAX_KERNEL, MAX_KERNEL, device=self.dw.weight.device)
        inner[..., 1:4, 1:4] = 1.0
        half = torch.zeros(self.dw.out_channels, device=self.dw.weight.device)
        half[: self.dw.out_channels // 2] = 1.0
        return inner, half

    def masked(self, x: torch.Tensor, kernel: torch.Tensor | float, expand: torch.Tensor | float,
               keep: torch.Tensor | float = 1.0) -> torch.Tensor:
        """The superkernel's output with indicators: ``kernel`` (1: 5x5, 0: 3x3), ``expand`` (1: ratio 6,
        0: ratio 3) and ``keep`` (0: skipped); tensors carry gradients to thresholds (Single-Path NAS).

        With 0/1 indicators it equals the cut block's output: the 3x3 kernel is the superkernel's
        centre, ratio 3 its first half of the hidden channels.
        """
        inner, half = self.masks()
        weight = self.dw.weight * (inner + kernel * (1 - inner))
        h = F.relu6(self.bn1(self.expand(x)))
        h = F.relu6(self.bn2(F.conv2d(h, weight, None, self.stride, MAX_KERNEL // 2, 1, self.dw.groups)))
        h = h * (half + expand * (1 - half)).view(1, -1, 1, 1)
        y = self.bn3(self.project(h))
        if self.residual:
            return x + keep * y
        return y

    def sample(self, skippable: bool) -> BlockChoice:
        """A uniformly random choice (global torch RNG, so seeded training is deterministic)."""
        r = torch.randint(0, 4, (2,))
        skip = skippable and bool(torch.rand(()) < SKIP_PROBABILITY)
        return BlockChoice((3, 5)[int(r[0]) % 2], (3, 6)[int(r[1]) % 2], skip)


class SinglePathSupernet(nn.Module):
    """Stem conv, MBConv superkernel blocks, global average pool, linear classifier.

    Quantizable layers (forward order): ``stem``, ``blocks.<i>.expand``, ``blocks.<i>.dw``,
    ``blocks.<i>.project`` for each block, ``classifier``.

    Args:
        num_classes, in_channels: as every proxy model.
        stem: the stem's output channels; ``stem_stride``: its stride.
        blocks: ``(channels out, stride)`` per block.
        sample_paths: train on a random path per batch while unquantized (the supernet's own
            training); False runs the full path always.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, stem: int = 8, stem_stride: int = 1,
                 blocks: Sequence[tuple[int, int]] = ((8, 1), (16, 2), (16, 1), (24, 2), (24, 1)),
                 sample_paths: bool = True) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, stem, 3, stride=stem_stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(stem)
        layers, c = [], stem
        for i, (c_out, stride) in enumerate(blocks):
            layers.append(MBConvBlock(c, c_out, stride, name=f"blocks.{i}"))
            c = c_out
        self.blocks = nn.ModuleList(layers)
        self.classifier = nn.Linear(c, num_classes)
        self.sample_paths = sample_paths

    def block_names(self) -> list[str]:
        """Qualified names of the blocks, in forward order."""
        return [b.name for b in self.blocks]

    def skippable(self) -> list[str]:
        """The blocks that keep their shape and so may be skipped."""
        return [b.name for b in self.blocks if b.residual]

    def _sampling(self) -> bool:
        return (self.sample_paths and self.training and all(b.superkernel for b in self.blocks)
                and not any(isinstance(m, QuantConv2d) for m in self.modules()))

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last: depthwise convolutions train 2-4x faster on CPU in it (measured, torch 2.13)
        return F.relu6(self.bn(self.stem(x.contiguous(memory_format=torch.channels_last))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._sampling() and not bool(torch.rand(()) < FULL_PATH_PROBABILITY):
            norms = [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]
            momenta = [m.momentum for m in norms]
            for m in norms:  # a random path normalizes with its batch but leaves the running statistics
                m.momentum = 0.0
            try:
                return self.forward_choices(x, [b.sample(b.residual) for b in self.blocks])
            finally:
                for m, momentum in zip(norms, momenta):
                    m.momentum = momentum
        x = self._stem(x)
        for b in self.blocks:
            x = b(x)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def forward_choices(self, x: torch.Tensor, choices: Sequence[BlockChoice]) -> torch.Tensor:
        """The output of the path ``choices`` take through the superkernels (masks, no cutting)."""
        x = self._stem(x)
        for b, c in zip(self.blocks, choices):
            if c.skip and b.residual:
                continue
            x = b.masked(x, float(c.kernel == 5), float(c.expand == 6))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def largest(self) -> list[BlockChoice]:
        """The full path's choices."""
        return [LARGEST] * len(self.blocks)


def supernet_digits(num_classes: int = 10, in_channels: int = 1) -> SinglePathSupernet:
    """The supernet for 8x8 inputs (digits): stem 8, blocks 8, 16/2, 16, 24/2, 24 (``/2``: stride 2);
    0.36 M MACs at its full path, 0.05 M at its smallest (3x3, ratio 3, blocks 0, 2, 4 skipped)."""
    return SinglePathSupernet(num_classes, in_channels)


def supernet_32(num_classes: int = 10, in_channels: int = 3) -> SinglePathSupernet:
    """The supernet for 32x32 inputs (CIFAR-10): stem 16 at stride 2, blocks 16, 24/2, 24, 32/2, 32, 48."""
    return SinglePathSupernet(num_classes, in_channels, stem=16, stem_stride=2,
                              blocks=((16, 1), (24, 2), (24, 1), (32, 2), (32, 1), (48, 1)))
