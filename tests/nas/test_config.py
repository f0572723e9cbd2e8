"""Bad architecture specs are refused in one line naming the field, before anything is created."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.search.configio import ConfigError
from coexplore.search.space import parse_space
from tests.nas.conftest import nas_space, write_nas_study
from tests.search.tiny_study import write_tiny_study


@pytest.mark.parametrize(("architecture", "path", "phrase"), [
    ({"kernel": [3, 7]}, "model.architecture.kernel.1", "3 or 5"),
    ({"expand": [4]}, "model.architecture.expand.0", "3 or 6"),
    ({"expand": [3, 3]}, "model.architecture.expand", "repeat"),
    ({"kernel": []}, "model.architecture.kernel", "at least 1"),
    ({"per": "layer"}, "model.architecture.per", "network"),
    ({"ratio": 2}, "model.architecture.ratio", ""),
])
def test_a_bad_architecture_spec_is_one_line_with_its_yaml_path(architecture, path, phrase):
    with pytest.raises(ConfigError) as exc:
        parse_space(nas_space(**architecture), source="s.yaml")
    assert len(exc.value.lines) == 1
    assert exc.value.lines[0].startswith(f"s.yaml: {path}:") and phrase in exc.value.lines[0]


@pytest.mark.parametrize(("space", "model", "phrase"), [
    (nas_space(skip=["blocks.1"]), None, "space.model.architecture.skip: blocks.1 cannot be skipped"),
    (nas_space(skip=["block9"]), None, "space.model.architecture.skip: ['block9'] match no block"),
    (nas_space(), "digits_cnn", "space.model.architecture: model 'digits_cnn' is a DigitsCNN, not a single-path"),
    (nas_space(kernel=[9]), None, "space.model.architecture.kernel.0"),
    ({**nas_space(), "model": {**nas_space()["model"], "prune": {"levels": [0, 0.5]}}}, None,
     "space.model.architecture: cannot be combined with model.prune yet"),
    ({**nas_space(), "model": {**nas_space()["model"], "vip": {"layers": ["stem"]}}}, None,
     "space.model.architecture: cannot be combined with model.vip yet"),
])
def test_a_study_whose_architecture_does_not_fit_exits_2_and_creates_nothing(tmp_path, space, model, phrase):
    kwargs = {"model": model} if model else {}
    study = write_nas_study(tmp_path, space=space, **kwargs)
    db = tmp_path / "s.db"
    for args in (["study", "start", str(study)], ["nas", "search", str(study)]):
        result = CliRunner().invoke(app, [*args, "--storage", f"sqlite:///{db}"])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().count("\n") == 0 and phrase in result.stderr
        assert not db.exists()


def test_nas_search_refuses_a_study_without_an_architecture_axis(tmp_path):
    study = write_tiny_study(tmp_path)
    db = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["nas", "search", str(study), "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 1
    assert "has no model.architecture section" in result.stderr
    assert not db.exists()


@pytest.mark.parametrize("lambdas", ["-1", "a,b", ""])
def test_bad_lambdas_exit_2(tmp_path, lambdas):
    result = CliRunner().invoke(app, ["nas", "search", str(write_nas_study(tmp_path)), "--lambda", lambdas])
    assert result.exit_code == 2 and "comma-separated numbers" in result.output + result.stderr


def test_a_nested_hardware_sweep_is_refused_for_an_architecture_axis(tmp_path):
    study = write_nas_study(tmp_path, hardware_search="sweep")
    result = CliRunner().invoke(app, ["study", "start", str(study), "--storage", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2 and "model.architecture is searched joint" in result.stderr


def test_a_pe_type_outside_the_space_is_refused_before_a_study_exists(tmp_path):
    db = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["nas", "search", str(write_nas_study(tmp_path)), "--pe-type", "binary",
                                      "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 2 and result.stderr.strip() == (
        "--pe-type: 'binary' is not in the space's model.pe_type (int8)")
    assert not db.exists()
