"""Systolic compute cycles against SCALE-Sim's own reports for ResNet-18 on a 32x32 array.

With one-word scratchpads the mapper has only SCALE-Sim's mapping, and our cycles equal
SCALE-Sim 3.0.0's "Total Cycles" plus one on every layer (SCALE-Sim's total is one less than the
sum over its folds). Larger spads let the mapper run reductions in time inside the PE instead.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from coexplore.hardware import DesignPoint
from coexplore.ppa import evaluate_point
from coexplore.workload import from_scalesim_csv

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
FLOWS = {"ws": "weight_stationary", "os": "output_stationary"}


def _reference(df: str) -> dict[str, int]:
    lines = [line for line in (DATA / f"scalesim_resnet18_32x32_{df}.csv").read_text().splitlines()
             if line and not line.startswith("#")]
    return {row["layer"]: int(row["total_cycles"]) for row in csv.DictReader(lines)}


def _cycles(df: str, **spads) -> dict[str, float]:
    wl = from_scalesim_csv(DATA / "resnet18_scalesim_topology.csv", name="resnet18")
    design = DesignPoint(pe_type="int8", pe_rows=32, pe_cols=32, dataflow=FLOWS[df], glb_kib=12000.0,
                         dram_gbps=100000.0, clock_mhz=1000.0, **spads)
    res = evaluate_point(design, wl)
    return dict(zip(res.layer_names, res.layer_compute_cycles[0]))


@pytest.mark.parametrize("df", sorted(FLOWS))
def test_one_word_spads_reproduce_scalesim_cycles_exactly(df):
    ours = _cycles(df, filter_spad=1, psum_spad=1)
    ref = _reference(df)
    assert len(ref) == 21
    for name, cycles in ref.items():
        assert ours[name] == cycles + 1, name


@pytest.mark.parametrize("df", sorted(FLOWS))
def test_larger_spads_never_take_more_cycles_than_scalesim_plus_one_fold(df):
    # The mapper may trade a few cycles for energy (EDP), but a member that runs the reduction
    # in the PE never needs more folds than SCALE-Sim's.
    ours = _cycles(df)
    for name, cycles in _reference(df).items():
        assert ours[name] <= 1.1 * (cycles + 1), name
