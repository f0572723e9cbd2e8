"""`coexplore ppa evaluate` as a user runs it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from coexplore.cli import app

TOP_KEYS = {
    "feasible", "macs", "cycles", "latency_s", "energy_j", "area_mm2", "power_w", "gops_per_mm2",
    "tops_per_w", "edp", "energy_breakdown_j", "area_breakdown_mm2", "infeasible_reason",
}
LAYER_KEYS = {"name", "macs", "cycles", "energy_j", "utilization", "dram_bytes"}


@pytest.fixture()
def hw(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text("pe_type: lightpe1\npe_rows: 12\npe_cols: 14\nglb_kib: 108\n")
    return path


@pytest.fixture()
def workload(tmp_path):
    path = tmp_path / "net.csv"  # a SCALE-Sim topology, as SCALE-Sim users have them
    path.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
        "conv1, 34, 34, 3, 3, 3, 16, 1,\n"
        "conv2, 18, 18, 3, 3, 16, 32, 1,\n"
    )
    return path


def _run(*args: str):
    return CliRunner().invoke(app, ["ppa", "evaluate", *args])


def test_json_has_exactly_the_issue_keys(hw, workload):
    res = _run("--hw", str(hw), "--workload", str(workload), "--format", "json")
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)) == TOP_KEYS


def test_per_layer_json_lists_every_layer_with_its_keys(hw, workload):
    res = _run("--hw", str(hw), "--workload", str(workload), "--format", "json", "--per-layer")
    layers = json.loads(res.stdout)["layers"]
    assert [layer["name"] for layer in layers] == ["conv1", "conv2"]
    assert all(LAYER_KEYS <= set(layer) for layer in layers)


def test_csv_has_one_row_of_metrics(hw, workload):
    res = _run("--hw", str(hw), "--workload", str(workload), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 1 and float(rows[0]["energy_j"]) > 0


def test_table_names_the_metrics(hw, workload):
    res = _run("--hw", str(hw), "--workload", str(workload), "--per-layer")
    assert res.exit_code == 0
    assert "gops_per_mm2" in res.stdout and "conv2" in res.stdout


def test_a_bad_hw_file_exits_2_naming_file_and_key(tmp_path, workload):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pe_type: int9\npe_rows: 0\n")
    res = _run("--hw", str(bad), "--workload", str(workload))
    assert res.exit_code == 2
    assert "bad.yaml: pe_type" in res.stderr and "bad.yaml: pe_rows" in res.stderr


def test_an_unknown_workload_exits_2(hw):
    res = _run("--hw", str(hw), "--workload", "no_such_net")
    assert res.exit_code == 2 and "no_such_net" in res.stderr


def test_a_characterization_file_is_fitted_and_its_error_shown(hw, workload, tmp_path):
    tech = tmp_path / "synth.yaml"
    tech.write_text("fits:\n  - {quantity: mac_energy_pj, family: lightpe1, degree: 1, x: [4, 8], y: [0.05, 0.09]}\n")
    res = _run("--hw", str(hw), "--workload", str(workload), "--format", "json", "--tech", str(tech))
    assert res.exit_code == 0, res.output
    assert "mac_energy_pj[lightpe1]" in res.stderr and "R^2" in res.stderr
    default = json.loads(_run("--hw", str(hw), "--workload", str(workload), "--format", "json").stdout)
    assert json.loads(res.stdout)["energy_breakdown_j"]["mac"] != default["energy_breakdown_j"]["mac"]


def test_a_full_technology_table_can_be_passed_with_tech(hw, workload):
    from importlib import resources

    shipped = str(resources.files("coexplore.data").joinpath("tech_45nm.yaml"))
    with_tech = _run("--hw", str(hw), "--workload", str(workload), "--format", "json", "--tech", shipped)
    default = _run("--hw", str(hw), "--workload", str(workload), "--format", "json")
    assert json.loads(with_tech.stdout) == json.loads(default.stdout)


def test_an_unreadable_tech_file_exits_2_naming_it(hw, workload, tmp_path):
    bad = tmp_path / "tech.yaml"
    bad.write_text("just: text\n")
    res = _run("--hw", str(hw), "--workload", str(workload), "--tech", str(bad))
    assert res.exit_code == 2 and "tech.yaml" in res.stderr and "fits" in res.stderr


def test_tech_given_twice_stacks_a_peers_costs_over_the_full_table(hw, workload):
    from importlib import resources
    from pathlib import Path

    shipped = str(resources.files("coexplore.data").joinpath("tech_45nm.yaml"))
    zigzag = str(Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "zigzag_tpu_like_costs.yaml")
    res = _run("--hw", str(hw), "--workload", str(workload), "--format", "json", "--tech", shipped, "--tech", zigzag)
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["energy_breakdown_j"]["noc"] == 0.0 and out["energy_breakdown_j"]["leakage"] == 0.0
    assert "fit dram_energy_pj_per_bit" in res.stderr


def test_a_full_table_after_measured_points_exits_2_saying_it_must_come_first(hw, workload, tmp_path):
    from importlib import resources

    pts = tmp_path / "pts.yaml"
    pts.write_text("fits:\n  - {quantity: dram_energy_pj_per_bit, degree: 0, x: [0], y: [11.0]}\n")
    shipped = str(resources.files("coexplore.data").joinpath("tech_45nm.yaml"))
    res = _run("--hw", str(hw), "--workload", str(workload), "--tech", str(pts), "--tech", shipped)
    assert res.exit_code == 2 and "must come first" in res.stderr


def test_per_layer_output_names_the_chosen_mapping(hw, workload):
    res = _run("--hw", str(hw), "--workload", str(workload), "--format", "json", "--per-layer",
               "--criterion", "latency")
    assert all("mapping" in layer for layer in json.loads(res.stdout)["layers"])
