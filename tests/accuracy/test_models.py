"""Proxy models: registered names, 32x32 ResNet-20 / MobileNetV2, module:factory references."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coexplore.accuracy import ModelError, build_model
from coexplore.quant import quantizable_layers


def tiny_factory(num_classes: int = 10) -> nn.Module:
    """A factory the tests name as ``tests.accuracy.test_models:tiny_factory``."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))


@pytest.mark.parametrize(
    "name,in_ch,size", [("digits_cnn", 1, 8), ("resnet20", 3, 32), ("mobilenetv2", 3, 32)]
)
def test_registered_models_classify_their_input_size(name: str, in_ch: int, size: int) -> None:
    model = build_model(name, 10, in_ch).eval()
    assert model(torch.zeros(2, in_ch, size, size)).shape == (2, 10)


def test_resnet20_has_twenty_weight_layers_plus_projection_shortcuts() -> None:
    names = quantizable_layers(build_model("resnet20", 10, 3))
    shortcuts = [n for n in names if "shortcut" in n]
    assert len(names) - len(shortcuts) == 20 and len(shortcuts) == 2
    assert names[0] == "conv1" and names[-1] == "fc"


def test_module_factory_references_build_and_receive_num_classes() -> None:
    model = build_model("tests.accuracy.test_models:tiny_factory", 7, 1)
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 7)


@pytest.mark.parametrize(
    "name,message",
    [
        ("vgg", "allowed: digits_cnn"),
        ("no_such_mod:f", "cannot import"),
        ("torch.nn:no_such_factory", "no callable"),
    ],
)
def test_unresolvable_models_say_what_is_allowed(name: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        build_model(name, 10, 1)


@pytest.mark.parametrize(
    "name,in_ch,size", [("digits_cnn", 1, 8), ("resnet20", 3, 32), ("mobilenetv2", 3, 32)]
)
def test_plan_layer_names_are_the_workload_layer_names_in_order(
    name: str, in_ch: int, size: int
) -> None:
    from coexplore.workload import from_module

    model = build_model(name, 10, in_ch)
    workload = from_module(model, (1, in_ch, size, size), name)
    assert workload.layer_names == quantizable_layers(model, torch.zeros(1, in_ch, size, size))
