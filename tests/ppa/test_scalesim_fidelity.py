"""Systolic compute cycles against SCALE-Sim's own reports for ResNet-18 on a 32x32 array."""

from __future__ import annotations

import pytest

from coexplore.hardware import DesignPoint
from coexplore.ppa import evaluate_point
from coexplore.workload import Workload, resolve

# "Total Cycles" of SCALE-Sim 3.0.0's COMPUTE_REPORT.csv, 32x32 array, 4096 kB SRAMs, CALC
# bandwidth (runs recorded in benchmarks/data/scalesim_resnet18_32x32_{ws,os}.csv).
SCALESIM = {
    "weight_stationary": {"conv1": 126379, "layer2.0.downsample.0": 7023, "layer4.0.conv2": 329471, "fc": 48639},
    "output_stationary": {"conv1": 163855, "layer2.0.downsample.0": 12599},
}


@pytest.mark.parametrize("dataflow", sorted(SCALESIM))
def test_compute_cycles_are_within_5_percent_of_scalesim(dataflow):
    full = resolve("resnet18")
    wl = Workload("part", tuple(layer for layer in full.layers if layer.name in SCALESIM[dataflow]))
    design = DesignPoint(pe_type="int8", pe_rows=32, pe_cols=32, dataflow=dataflow)
    res = evaluate_point(design, wl)
    for j, name in enumerate(res.layer_names):
        ours = res.layer_compute_cycles[0, j]
        assert ours == pytest.approx(SCALESIM[dataflow][name], rel=0.05), name
