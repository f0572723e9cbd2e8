"""Design-point timing parameters: GLB port bandwidth, first fill, full-duplex DRAM."""

from __future__ import annotations

import numpy as np
import pytest

from coexplore.hardware import DesignBatch, DesignPoint
from coexplore.ppa import evaluate, evaluate_point
from coexplore.workload import Layer, Workload, zoo

CONV = Workload("c", (Layer("c", c=64, k=64, h=28, w=28, r=3, s=3, padding=1),))
DS = Workload("ds", (Layer("ds", c=128, k=256, h=28, w=28, r=1, s=1, stride=2),))


def test_defaults_keep_unlimited_port_overlapped_fill_and_a_shared_bus():
    p = DesignPoint()
    assert (p.glb_port_bits, p.first_fill, p.dram_full_duplex) == (0, False, False)


def test_a_batch_built_without_the_new_columns_takes_their_defaults():
    cols = {k: [v] for k, v in DesignPoint().model_dump().items()
            if k not in ("glb_port_bits", "first_fill", "dram_full_duplex")}
    batch = DesignBatch.from_columns(cols)
    assert batch.glb_port_bits[0] == 0 and not batch.first_fill[0] and not batch.dram_full_duplex[0]
    assert batch.point(0) == DesignPoint()


def test_explicit_defaults_change_nothing():
    wl = zoo.get("resnet18")
    a = evaluate(DesignBatch.from_points([DesignPoint(dataflow="weight_stationary")]), wl)
    b = evaluate(DesignBatch.from_points([DesignPoint(dataflow="weight_stationary", glb_port_bits=0,
                                                      first_fill=False, dram_full_duplex=False)]), wl)
    assert np.array_equal(a.layer_cycles, b.layer_cycles) and np.allclose(a.energy_j, b.energy_j)


def test_the_first_fill_adds_the_first_tile_before_compute():
    base = {"pe_type": "int8", "glb_kib": 4096.0, "dram_gbps": 1.0}
    over = evaluate_point(DesignPoint(**base), CONV)
    fill = evaluate_point(DesignPoint(**base, first_fill=True), CONV)
    assert fill.cycles[0] > over.cycles[0]


def test_a_narrow_glb_port_bounds_the_layer():
    base = {"pe_type": "int8", "dataflow": "weight_stationary", "dram_gbps": 1e4, "glb_kib": 4096.0}
    wide = evaluate_point(DesignPoint(**base), CONV)
    narrow = evaluate_point(DesignPoint(**base, glb_port_bits=8), CONV)
    assert narrow.cycles[0] > wide.cycles[0]
    # 8 bits per cycle: at least one cycle per 8-bit value moved through the port.
    assert narrow.cycles[0] >= narrow.layer_dram_bytes[0, 0]


def test_full_duplex_dram_overlaps_reads_and_writes():
    # A DRAM-bound stride-2 1x1: 57,856 bytes read, 50,176 written, 1 byte per cycle.
    base = {"pe_type": "int8", "pe_rows": 32, "pe_cols": 32, "dataflow": "weight_stationary",
            "glb_kib": 4096.0, "dram_gbps": 0.2, "clock_mhz": 200.0}
    shared = evaluate_point(DesignPoint(**base), DS)
    duplex = evaluate_point(DesignPoint(**base, dram_full_duplex=True), DS)
    assert shared.cycles[0] == pytest.approx(57856 + 50176)
    assert duplex.cycles[0] == pytest.approx(57856)
