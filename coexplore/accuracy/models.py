"""Proxy models: a registry of names, plus any ``module:factory`` a user points at."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

import torch
from torch import nn

from coexplore.accuracy._mobilenetv2 import MobileNetV2
from coexplore.accuracy._resnet import ResNet20
from coexplore.accuracy.errors import ProxyError


class ModelError(ProxyError, ValueError):
    """A model name cannot be resolved or built; the message says what is allowed."""


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 digits: three 3x3 conv-BN-ReLU layers, a max-pool and a linear classifier.

    Quantizable layers (forward order): ``features.0``, ``features.3``, ``features.7``,
    ``classifier``. At the default width 16, about 7 k parameters and 0.23 M MACs per image;
    FP32 validation accuracy about 98%.

    Example:
        >>> DigitsCNN()(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODELS: dict[str, Callable[..., nn.Module]] = {
    "digits_cnn": DigitsCNN,
    "resnet20": ResNet20,
    "mobilenetv2": MobileNetV2,
}
"""Registered proxy models; each factory takes ``num_classes`` and ``in_channels``."""


def resolve_factory(name: str) -> Callable[..., nn.Module]:
    """The factory for a registered name, ``"package.module:function"`` or ``"path/to/file.py:function"``."""
    if name in MODELS:
        return MODELS[name]
    if ":" not in name:
        raise ModelError(
            f"model: unknown {name!r}; allowed: {', '.join(MODELS)}, or 'module:factory'"
        )
    module_name, _, attr = name.rpartition(":")
    if module_name.endswith(".py"):  # a user's model file
        from coexplore.accuracy.userdata import load_object

        try:
            factory = load_object(name, "model")
        except ProxyError as exc:
            raise ModelError(str(exc)) from None
        if not callable(factory):
            raise ModelError(f"model: {name!r} is not callable")
        return factory
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"model: cannot import module {module_name!r} of {name!r}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ModelError(f"model: {module_name!r} has no callable {attr!r} (from {name!r})")
    return factory


def build_model(name: str, num_classes: int, in_channels: int) -> nn.Module:
    """Build a model; ``num_classes``/``in_channels`` go to factories that accept them.

    Example:
        >>> type(build_model("digits_cnn", 10, 1)).__name__
        'DigitsCNN'
    """
    factory = resolve_factory(name)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs = {
        k: v for k, v in (("num_classes", num_classes), ("in_channels", in_channels)) if k in params
    }
    model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise ModelError(f"model: {name!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model
