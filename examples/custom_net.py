"""A workload given as `module:function`: `--workload examples/custom_net.py:build`.

The function returns the network and the shape of one input; coexplore extracts every Conv2d and
Linear layer with forward hooks, under the module names PyTorch gives them.
"""

from __future__ import annotations

from torch import nn


def build() -> tuple[nn.Module, tuple[int, ...]]:
    """A small CIFAR-sized CNN with a depthwise-separable block."""
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.Conv2d(32, 64, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )
    return net, (1, 3, 32, 32)
