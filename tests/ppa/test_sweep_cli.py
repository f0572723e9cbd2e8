"""`coexplore ppa sweep` as a user runs it: one row per design point, parameters then metrics."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from coexplore.cli import app

SPACE = """
hardware:
  pe_rows: {type: categorical, choices: [4, 8]}
  pe_cols: {type: categorical, choices: [4, 8, 16]}
  glb_kib: {type: categorical, choices: [32, 64]}
fixed:
  dataflow: weight_stationary
model:
  pe_type: [int8, lightpe1]
"""

METRICS = ["feasible", "macs", "cycles", "latency_s", "energy_j", "area_mm2", "power_w",
           "gops_per_mm2", "tops_per_w", "edp"]


def _space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


def test_sweep_writes_the_whole_grid_as_csv(tmp_path: Path) -> None:
    out = tmp_path / "grid.csv"
    res = CliRunner().invoke(app, ["ppa", "sweep", "--space", str(_space(tmp_path)), "--workload", "alexnet",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == 2 * 3 * 2 * 2
    assert set(METRICS) <= set(df.columns)
    combos = set(zip(df.pe_type, df.pe_rows, df.pe_cols, df.glb_kib))
    assert combos == set(itertools.product(["int8", "lightpe1"], [4, 8], [4, 8, 16], [32, 64]))
    assert (df.dataflow == "weight_stationary").all()


def test_sweep_samples_random_points_to_parquet(tmp_path: Path) -> None:
    out = tmp_path / "sample.parquet"
    res = CliRunner().invoke(app, ["ppa", "sweep", "--space", str(_space(tmp_path)), "--workload", "alexnet",
                                   "--samples", "7", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(out)) == 7


def test_sweep_rejects_an_unknown_output_format(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["ppa", "sweep", "--space", str(_space(tmp_path)), "--workload", "alexnet",
                                   "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2
    assert "--out" in res.output
