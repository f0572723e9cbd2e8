"""The SCALE-Sim reference data kept in benchmarks/data matches the zoo it was made from."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from coexplore.workload import from_scalesim_csv, to_scalesim_csv, zoo

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


def reference(dataflow: str) -> tuple[str, list[dict[str, str]]]:
    """The first line and the data rows of the kept SCALE-Sim report for ``dataflow``."""
    text = (DATA / f"scalesim_resnet18_32x32_{dataflow}.csv").read_text().splitlines()
    return text[0], list(csv.DictReader(line for line in text if not line.startswith("#")))


def reference_cycles(dataflow: str) -> dict[str, int]:
    """SCALE-Sim's "Total Cycles" per layer name."""
    return {row["layer"]: int(row["total_cycles"]) for row in reference(dataflow)[1]}


def test_kept_topology_is_the_export_of_the_zoo_resnet18(tmp_path):
    to_scalesim_csv(zoo.get("resnet18"), tmp_path / "r18.csv")
    assert (DATA / "resnet18_scalesim_topology.csv").read_text() == (tmp_path / "r18.csv").read_text()


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_reference_cycles_cover_every_resnet18_layer(dataflow):
    first_line, rows = reference(dataflow)
    assert first_line.startswith("# SCALE-Sim 3.0.0")
    assert [row["layer"] for row in rows] == zoo.get("resnet18").layer_names
    assert all(int(row["stall_cycles"]) == 0 for row in rows)


def test_reference_ws_cycles_follow_scalesims_fold_formula():
    # SCALE-Sim 3.0.0 ws (scalesim/compute/systolic_compute_ws.py): each of
    # ceil(R*S*C / 32) * ceil(K / 32) folds takes 2*32 + 32 + P*Q - 2 cycles; the report is one
    # cycle short of the sum (checked on all 21 layers).
    ref = reference_cycles("ws")
    for layer in from_scalesim_csv(DATA / "resnet18_scalesim_topology.csv").layers:
        folds = -(-layer.r * layer.s * layer.c // 32) * -(-layer.k // 32)
        assert ref[layer.name] == folds * (3 * 32 + layer.p * layer.q - 2) - 1, layer.name


def test_reference_os_cycles_follow_scalesims_fold_formula():
    # SCALE-Sim 3.0.0 os (scalesim/compute/systolic_compute_os.py): each of
    # ceil(P*Q / 32) * ceil(K / 32) folds takes 32 + 32 + R*S*C - 2 cycles; again one short.
    ref = reference_cycles("os")
    for layer in from_scalesim_csv(DATA / "resnet18_scalesim_topology.csv").layers:
        folds = -(-layer.p * layer.q // 32) * -(-layer.k // 32)
        assert ref[layer.name] == folds * (2 * 32 + layer.r * layer.s * layer.c - 2) - 1, layer.name
