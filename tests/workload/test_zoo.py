"""Specification of the zoo: torchvision's ImageNet networks as data files, with known totals."""

from __future__ import annotations

import pytest

from coexplore.workload import zoo
from coexplore.workload._zoo_gen import ARCHITECTURES, generate

# MACs at 224x224, batch 1: the "GFLOPS" column of torchvision's model tables
# (https://pytorch.org/vision/stable/models.html, which counts multiply-accumulates), to the
# precision they print; layer counts are conv + linear layers (ResNet downsample 1x1 included).
KNOWN = {
    "alexnet": (0.71e9, 8),
    "vgg16": (15.47e9, 16),
    "resnet18": (1.81e9, 21),
    "resnet50": (4.09e9, 54),
    "mobilenet_v2": (0.30e9, 53),
}


def test_zoo_names_are_the_five_imagenet_networks():
    assert zoo.names() == sorted(KNOWN)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_zoo_macs_match_torchvision_totals(name):
    macs, _ = KNOWN[name]
    assert zoo.get(name).macs == pytest.approx(macs, rel=0.01)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_zoo_layer_counts(name):
    assert len(zoo.get(name)) == KNOWN[name][1]


def test_resnet18_exact_macs_and_torchvision_names():
    wl = zoo.get("resnet18")
    assert wl.macs == 1_814_073_344
    assert wl.layer_names[:2] == ["conv1", "layer1.0.conv1"]
    assert "layer2.0.downsample.0" in wl.layer_names and wl.layer_names[-1] == "fc"


def test_mobilenet_v2_depthwise_layers_are_grouped():
    depthwise = [l for l in zoo.get("mobilenet_v2").layers if l.groups > 1]
    assert len(depthwise) == 17
    assert all(l.groups == l.c == l.k and l.r == 3 for l in depthwise)
    assert depthwise[0].name == "features.1.conv.0.0"


def test_fc_layers_are_linear():
    assert [l.kind for l in zoo.get("vgg16").layers[-3:]] == ["linear"] * 3


def test_lookup_is_case_and_dash_insensitive():
    assert zoo.get("MobileNet-V2") is zoo.get("mobilenet_v2")


def test_unknown_name_lists_the_zoo():
    with pytest.raises(KeyError, match="resnet18"):
        zoo.get("resnet19")


def test_shipped_files_equal_the_generator_output(tmp_path):
    for path in generate(tmp_path):
        shipped = zoo._zoo_dir().joinpath(path.name).read_text()
        assert path.read_text() == shipped, f"regenerate {path.name}"
    assert sorted(p.stem for p in tmp_path.iterdir()) == sorted(ARCHITECTURES)
