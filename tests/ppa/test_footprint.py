"""Data movement from a layer's true footprint: hand-computed input rows, DRAM bytes per layer."""

from __future__ import annotations

import numpy as np
import pytest

from coexplore.hardware import DesignPoint
from coexplore.ppa import evaluate_point
from coexplore.ppa.footprint import layer_footprint, row_step, used_extent
from coexplore.workload import Layer, Workload

BIG = {"pe_type": "int8", "glb_kib": 8192.0, "dram_gbps": 10000.0}


def _rows(size, pad, kernel, stride, dilation=1) -> int:
    out = (size + 2 * pad - ((kernel - 1) * dilation + 1)) // stride + 1
    return int(used_extent(*(np.array([v]) for v in (size, pad, kernel, stride, dilation, out)))[0])


@pytest.mark.parametrize(("size", "pad", "kernel", "stride", "dilation", "expected"), [
    (28, 0, 1, 2, 1, 14),   # stride-2 1x1: every other row
    (10, 0, 1, 3, 1, 4),    # rows 0, 3, 6, 9
    (10, 0, 2, 4, 1, 6),    # windows {0,1}, {4,5}, {8,9}
    (10, 0, 2, 4, 3, 4),    # dilated windows {0,3}, {4,7}
    (56, 1, 3, 1, 1, 56),   # 3x3 same convolution reads every real row (padding is not data)
    (56, 1, 3, 2, 1, 56),   # 3x3 stride 2 still touches every row
    (8, 2, 3, 1, 2, 8),     # dilation 2 with padding 2
])
def test_used_rows_by_hand(size, pad, kernel, stride, dilation, expected):
    assert _rows(size, pad, kernel, stride, dilation) == expected


def test_a_tile_of_output_rows_reads_overlapping_or_disjoint_windows():
    step, base = row_step(np.array([3, 1, 2]), np.array([1, 2, 4]), np.array([1, 1, 1]))
    # 3x3 stride 1: t rows read t + 2; 1x1 stride 2: t rows; 2-tall windows 4 apart: 2t.
    assert list(step * 5 + base) == [7, 5, 10]


def test_a_stride_two_1x1_convolution_moves_only_the_pixels_it_uses():
    # ResNet-18 layer3.0.downsample.0: 128 -> 256 channels, 28x28 -> 14x14.
    layer = Layer("ds", c=128, k=256, h=28, w=28, r=1, s=1, stride=2)
    res = evaluate_point(DesignPoint(**BIG), Workload("ds", (layer,)))
    used_inputs = 14 * 14 * 128
    assert res.layer_dram_bytes[0, 0] == pytest.approx(used_inputs + 128 * 256 + 14 * 14 * 256)
    assert layer_footprint(Workload("ds", (layer,)).arrays())["ifmap_used"][0] == used_inputs


def test_padding_is_never_moved_from_dram():
    # 3x3 same convolution on a 4x4 map: 16 real pixels per channel, not the 36 padded ones.
    layer = Layer("c", c=2, k=3, h=4, w=4, r=3, s=3, padding=1)
    res = evaluate_point(DesignPoint(**BIG), Workload("c", (layer,)))
    assert res.layer_dram_bytes[0, 0] == pytest.approx(2 * 16 + 3 * 2 * 9 + 3 * 16)


def test_a_depthwise_convolution_moves_each_channel_once():
    layer = Layer("dw", c=8, k=8, h=8, w=8, r=3, s=3, padding=1, groups=8)
    res = evaluate_point(DesignPoint(**BIG), Workload("dw", (layer,)))
    assert res.layer_dram_bytes[0, 0] == pytest.approx(8 * 64 + 8 * 9 + 8 * 64)
