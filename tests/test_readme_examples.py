"""The README's `coexplore ppa evaluate` commands run on the files the repository ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coexplore.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("workload", "extra"),
    [
        ("resnet18", []),
        (str(ROOT / "benchmarks/data/resnet18_scalesim_topology.csv"), []),
        (f"{ROOT / 'examples/custom_net.py'}:build", ["--tech", str(ROOT / "examples/synthesis_points.yaml")]),
    ],
)
def test_readme_ppa_commands_evaluate_the_shipped_examples(workload: str, extra: list[str]) -> None:
    res = CliRunner().invoke(app, ["ppa", "evaluate", "--hw", str(ROOT / "examples/eyeriss.yaml"),
                                   "--workload", workload, *extra, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["feasible"] and out["macs"] > 0 and out["energy_j"] > 0
