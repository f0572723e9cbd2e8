"""The GLB tiling: one DRAM pass when a layer fits, smoothly more traffic as the buffer shrinks."""

from __future__ import annotations

import numpy as np
import pytest

from coexplore.hardware import DesignBatch, DesignPoint
from coexplore.ppa import evaluate
from coexplore.ppa.tiling import CANDIDATES, tile_set
from coexplore.workload import Layer, Workload

FC = Workload("fc", (Layer("fc1", kind="linear", n=197, c=768, k=3072),))
ONE_PASS_BYTES = 768 * 3072 + 197 * 768 + 197 * 3072  # weights + inputs + outputs at 8 bits


def _dram_bytes(glb_kibs: list[float]) -> np.ndarray:
    points = [DesignPoint(pe_type="int8", glb_kib=g) for g in glb_kibs]
    return evaluate(DesignBatch.from_points(points), FC).layer_dram_bytes[:, 0]


def test_a_layer_that_fits_the_buffer_is_read_from_dram_once():
    assert _dram_bytes([8192.0])[0] == pytest.approx(ONE_PASS_BYTES)


def test_dram_traffic_never_grows_with_the_buffer():
    traffic = _dram_bytes([16.0, 32.0, 48.0, 64.0, 96.0, 108.0, 150.0, 200.0, 512.0])
    assert np.all(np.diff(traffic) <= 1e-6)
    assert traffic[0] > 2 * traffic[-1]


def test_a_buffer_a_little_too_small_costs_less_than_twice_one_pass():
    # Capacity-fitted tiles re-read the weights only about as often as the buffer forces.
    assert _dram_bytes([108.0])[0] < 2 * ONE_PASS_BYTES


def test_grid_tiles_are_at_least_one_element_and_at_most_the_layer():
    ts = tile_set(FC.arrays())
    assert ts.fp_w.shape == (1, len(CANDIDATES))
    assert np.all(ts.fp_w >= 1) and np.all(ts.fp_w <= 768 * 3072)
