"""MobileNetV2 for 32x32 inputs (Sandler et al., CVPR 2018, Table 2), with the first conv and the
first two down-sampling stages at stride 1 so 32x32 inputs end at 4x4, as CIFAR ports of the
network commonly do."""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s): Sandler et al. 2018, Table 2, with
# the strides of the 2nd and 3rd rows set to 1 for 32x32 inputs.
CIFAR_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn(
    c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1, relu: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if relu:
        layers.append(nn.ReLU6(inplace=False))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise, 1x1 linear project; residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn(c_in, hidden, 1, 1))
        layers += [
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn(hidden, c_out, 1, 1, relu=False),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 for ``in_channels x 32 x 32`` inputs; ``width`` scales every channel count.

    Example:
        >>> MobileNetV2(width=0.5)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        c = lambda n: max(8, round(n * width / 8) * 8)
        layers: list[nn.Module] = [_conv_bn(in_channels, c(32), 3, 1)]
        c_in = c(32)
        for t, c_out, n, s in CIFAR_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c(c_out), s if i == 0 else 1, t))
                c_in = c(c_out)
        last = c(1280) if width > 1.0 else 1280
        layers.append(_conv_bn(c_in, last, 1, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))
