"""Specification of `from_module`: every Conv/Linear call becomes a Layer named as in the module."""

from __future__ import annotations

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from coexplore.workload import from_module

torch.set_num_threads(1)


class Small(nn.Module):
    """A stem conv, a strided grouped conv, a depthwise conv and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.block = nn.Sequential(
            nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=4),
            nn.ReLU(),
            nn.Conv2d(32, 32, 5, padding=2, groups=32),
        )
        self.head = nn.Linear(32 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.block(self.stem(x)), 1))


def test_layer_names_are_the_qualified_module_names_in_execution_order():
    wl = from_module(Small(), (2, 3, 16, 16))
    assert wl.layer_names == ["stem", "block.0", "block.2", "head"]
    assert set(wl.layer_names) <= {name for name, _ in Small().named_modules()}


def test_strided_grouped_conv_shape():
    layer = from_module(Small(), (2, 3, 16, 16)).layers[1]
    assert (layer.kind, layer.n, layer.c, layer.k, layer.h, layer.w) == ("conv", 2, 16, 32, 16, 16)
    assert (layer.r, layer.s, layer.stride, layer.padding, layer.groups) == (3, 3, 2, 1, 4)
    assert (layer.p, layer.q) == (8, 8)
    assert layer.macs == 2 * 32 * 8 * 8 * (16 // 4) * 9


def test_depthwise_conv_has_groups_equal_to_channels():
    layer = from_module(Small(), (1, 3, 16, 16)).layers[2]
    assert layer.groups == layer.c == layer.k == 32
    assert layer.macs == 32 * 8 * 8 * 25


def test_linear_is_a_1x1_layer_with_batch_as_n():
    layer = from_module(Small(), (2, 3, 16, 16)).layers[3]
    assert (layer.kind, layer.n, layer.c, layer.k) == ("linear", 2, 2048, 10)
    assert (layer.h, layer.w, layer.r, layer.s) == (1, 1, 1, 1)


def test_linear_with_leading_dims_takes_their_product_as_n():
    wl = from_module(nn.Sequential(nn.Linear(8, 4)), (2, 5, 3, 8))
    assert wl.layers[0].n == 2 * 5 * 3
    assert wl.macs == 30 * 8 * 4


def test_module_called_twice_gets_a_suffixed_second_name():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    assert from_module(Twice(), (1, 4)).layer_names == ["fc", "fc@1"]


def test_root_module_is_named_after_the_workload():
    wl = from_module(nn.Conv2d(3, 8, 3), (1, 3, 8, 8), name="single")
    assert wl.name == "single" and wl.layer_names == ["single"]


def test_python_matmul_is_recorded_under_the_issuing_module():
    class Attention(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x @ x.transpose(-1, -2)).softmax(-1) @ x

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = Attention()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x)

    wl = from_module(Net(), (2, 6, 4))
    assert wl.layer_names == ["attn.matmul", "attn.matmul@1"]
    scores, context = wl.layers
    assert (scores.kind, scores.n, scores.h, scores.c, scores.k) == ("matmul", 2, 6, 4, 6)
    assert (context.n, context.h, context.c, context.k) == (2, 6, 6, 4)


def test_training_flag_is_restored():
    net = Small().train()
    from_module(net, (1, 3, 16, 16))
    assert net.training


def test_meta_device_modules_extract_without_computing():
    with torch.device("meta"):
        net = Small()
    assert from_module(net, (1, 3, 16, 16)).macs == from_module(Small(), (1, 3, 16, 16)).macs


def test_conv1d_is_a_conv_on_a_one_row_map_with_its_padding_folded_into_the_input():
    layer = from_module(nn.Conv1d(4, 8, 3, stride=2, padding=1), (1, 4, 20)).layers[0]
    # padded length 22; the 10 windows of stride 2 read its first (10 - 1) * 2 + 3 = 21 columns
    assert (layer.h, layer.w, layer.r, layer.s, layer.padding) == (1, 21, 1, 3, 0)
    assert (layer.p, layer.q) == (1, 10)


@settings(max_examples=40, deadline=None)
@given(
    c_per_group=st.integers(1, 3), k_per_group=st.integers(1, 3), groups=st.integers(1, 3),
    size=st.tuples(st.integers(5, 12), st.integers(5, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.integers(1, 2),
)
def test_any_conv2d_keeps_its_exact_output_size_and_macs(
        c_per_group, k_per_group, groups, size, kernel, stride, padding, dilation):
    assume(all(size[i] + 2 * padding[i] >= dilation * (kernel[i] - 1) + 1 for i in (0, 1)))
    conv = nn.Conv2d(c_per_group * groups, k_per_group * groups, kernel, stride, padding,
                     dilation=dilation, groups=groups)
    shape = (1, conv.in_channels, *size)
    layer = from_module(conv, shape).layers[0]
    out = conv(torch.zeros(shape))
    assert (layer.p, layer.q) == tuple(out.shape[-2:])
    assert layer.macs == out.numel() * c_per_group * kernel[0] * kernel[1]


def test_conv_subclass_calling_the_functional_is_named_by_its_module():
    class FakeQuantConv(nn.Conv2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            w = torch.round(self.weight * 8) / 8
            return nn.functional.conv2d(x, w, self.bias, self.stride, self.padding)

    net = nn.Sequential(FakeQuantConv(3, 4, 3, padding=1))
    assert [(l.name, l.padding, l.k) for l in from_module(net, (1, 3, 8, 8)).layers] == [
        ("0", 1, 4)]


def test_functional_calls_in_custom_modules_are_named_after_the_owner_and_op():
    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(6, 3, 3, 3))
            self.v = nn.Parameter(torch.zeros(5, 6))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = nn.functional.conv2d(x, self.w, stride=2).mean((-1, -2))
            return nn.functional.linear(y, self.v)

    net = nn.Sequential(Custom())
    wl = from_module(net, (1, 3, 9, 9))
    assert wl.layer_names == ["0.conv2d", "0.linear"]
    assert (wl.layers[0].p, wl.layers[0].macs) == (4, 6 * 16 * 27)


def test_non_zero_padding_mode_keeps_exact_output_and_macs():
    conv = nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
    layer = from_module(conv, (1, 2, 6, 6)).layers[0]
    assert (layer.p, layer.q, layer.macs) == (6, 6, 4 * 36 * 2 * 9)
