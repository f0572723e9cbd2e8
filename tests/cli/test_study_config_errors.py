"""`coexplore study start` on broken study files: status 2, one line per problem, nothing in storage."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from coexplore.cli import app

GOOD_SPACE = {
    "hardware": {"pe_rows": {"type": "int", "low": 4, "high": 8, "step": 4},
                 "glb_kib": {"type": "int", "low": 32, "high": 128, "log": True}},
    "model": {"pe_type": ["int8", "int4"], "weight_bits": {"choices": [4, 8]}},
}
GOOD_OBJECTIVES = {"objectives": ["accuracy", "energy_mj"], "reference_point": {"accuracy": 0.5, "energy_mj": 1.0}}
GOOD = {"name": "broken", "dataset": "digits", "space": "space.yaml", "objectives": "objectives.yaml",
        "n_trials": 3, "tracking": False}


def _with(path: str, value):
    """A copy of the good study with ``value`` at the dotted ``path`` (``...=DELETE`` removes it)."""
    files = {"study": yaml.safe_load(yaml.safe_dump(GOOD)), "space": yaml.safe_load(yaml.safe_dump(GOOD_SPACE)),
             "objectives": yaml.safe_load(yaml.safe_dump(GOOD_OBJECTIVES))}
    file, *keys = path.split(".")
    node = files[file]
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if value == "DELETE":
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return files


# (case, dotted path to break, bad value, text every reported line set must contain)
BROKEN = [
    ("missing key", "study.n_trials", "DELETE", "n_trials: missing required key"),
    ("typo n_trails", "study.n_trails", 5, "n_trails: unknown key"),
    ("wrong type", "study.n_trials", "many", "n_trials: Input should be a valid integer"),
    ("empty int range", "space.hardware.pe_rows.high", 2, "hardware.pe_rows: empty range"),
    ("non-positive low", "space.hardware.glb_kib.low", 0, "hardware.glb_kib.low: Input should be greater than 0"),
    ("unknown sampler", "study.sampler", {"name": "cmaes"}, "does not match any of the expected tags: 'botorch'"),
    ("unknown sampler setting", "study.sampler", {"name": "tpe", "population_size": 3}, "sampler.population_size: unknown key"),
    ("unknown PE type", "space.model.pe_type", ["int8", "int3"], "model.pe_type.1: unknown PE type 'int3'; allowed: int16"),
    ("unknown metric", "objectives.objectives", ["accuracy", "speed"], "unknown metric 'speed'; allowed: accuracy"),
    ("unknown hardware parameter", "space.hardware.pe_count", {"type": "int", "low": 1, "high": 4}, "hardware.pe_count: unknown hardware parameter"),
    ("bad constraint", "objectives.constraints", ["area_mm2 = 4"], "cannot parse constraint 'area_mm2 = 4'"),
    ("missing space file", "study.space", "nowhere.yaml", "space: file not found: nowhere.yaml"),
    ("unknown model", "study.model", "resnet9000", "model: unknown 'resnet9000'; allowed: digits_cnn"),
    ("unknown dataset", "study.dataset", "mnist", "dataset: unknown 'mnist'; allowed: digits"),
    ("unknown workload", "study.workload", "resnet9000", "workload: unknown workload 'resnet9000': not a zoo name"),
    ("unknown proxy key", "study.proxy", {"finetune_stepz": 3}, "proxy.finetune_stepz: unknown key"),
]


@pytest.mark.parametrize("case,path,value,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_study_file_exits_2_with_one_line_per_problem_and_creates_nothing(tmp_path, case, path, value, expected):
    files = _with(path, value)
    for name, data in files.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data))
    db = tmp_path / "runs" / "studies.db"
    result = CliRunner().invoke(app, ["study", "start", str(tmp_path / "study.yaml"), "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert not db.parent.exists()


def test_every_problem_in_a_file_is_reported(tmp_path):
    files = _with("study.n_trails", 5)
    files["study"]["seed"] = "x"
    for name, data in files.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["study", "start", str(tmp_path / "study.yaml"), "--storage", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2
    assert sorted(line.split(": ")[1] for line in result.stderr.strip().splitlines()) == ["n_trails", "seed"]


def test_problem_lines_name_the_file_they_are_in(tmp_path):
    files = _with("space.hardware.glb_kib.low", 0)
    for name, data in files.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["study", "start", str(tmp_path / "study.yaml")])
    assert result.stderr.startswith(str(tmp_path / "space.yaml") + ": hardware.glb_kib.low")


def test_inline_space_errors_carry_the_space_prefix(tmp_path):
    study = dict(GOOD, space={**GOOD_SPACE, "hardware": {"glb_kib": {"type": "int", "low": 0, "high": 8}}})
    (tmp_path / "objectives.yaml").write_text(yaml.safe_dump(GOOD_OBJECTIVES))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    result = CliRunner().invoke(app, ["study", "start", str(tmp_path / "study.yaml")])
    assert result.exit_code == 2
    assert ": space.hardware.glb_kib.low: Input should be greater than 0" in result.stderr
