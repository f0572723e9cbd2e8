"""A user's own network: the model file a study names as ``model: path/to/net.py:TinyNet``.

Any factory works; the proxy passes ``num_classes`` and ``in_channels`` (read from the data) when
the factory accepts them. Every Conv2d and Linear layer is quantizable.
"""

from __future__ import annotations

import torch
from torch import nn


class TinyNet(nn.Module):
    """Two 3x3 conv-BN-ReLU blocks, global average pooling and a linear classifier (~5 k parameters)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 12) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
