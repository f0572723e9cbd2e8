"""The pruning axis of a space: bad specs refused in one line, a study that prunes, the CLI."""

from __future__ import annotations

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from coexplore import api
from coexplore.cli import app
from coexplore.search.configio import ConfigError
from coexplore.search.space import parse_space
from coexplore.tracking.export import trials_frame
from tests.search.tiny_study import TINY_MODEL, TINY_SPACE, write_tiny_study

LEARN = {"population": 2, "generations": 3, "steps": 2}


def _space(prune) -> dict:
    space = yaml.safe_load(yaml.safe_dump(TINY_SPACE))
    space["model"]["prune"] = prune
    return space


@pytest.mark.parametrize(("prune", "path", "phrase"), [
    ({"levels": [0, 1.2]}, "model.prune.levels.1", "less than or equal to 0.95"),
    ({"levels": []}, "model.prune.levels", "at least 1"),
    ({"levels": [0.5, 0.5]}, "model.prune", "repeat"),
    ({"low": 0.6, "high": 0.2}, "model.prune", "empty range"),
    ({"low": 0.1}, "model.prune", "give levels"),
    ({"levels": [0.5], "low": 0.1, "high": 0.2}, "model.prune", "not both"),
    ({"levels": [0.5], "method": "random"}, "model.prune.method", "legr"),
    ({"levels": [0.5], "learn": {"population": 0}}, "model.prune.learn.population", "greater than or equal to 1"),
    ({"levels": [0.5], "ratio": 2}, "model.prune.ratio", "unknown key"),
])
def test_a_bad_pruning_spec_is_one_line_with_its_yaml_path(prune, path, phrase):
    with pytest.raises(ConfigError) as exc:
        parse_space(_space(prune), source="s.yaml")
    assert len(exc.value.lines) == 1
    assert exc.value.lines[0].startswith(f"s.yaml: {path}:") and phrase in exc.value.lines[0]


def test_a_bad_pruning_spec_exits_2_and_creates_nothing(tmp_path):
    study = write_tiny_study(tmp_path, space=_space({"levels": [0.99]}))
    db = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["study", "start", str(study), "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "space.model.prune.levels.0" in result.stderr
    assert not db.exists()


def test_a_range_is_searched_on_its_step_grid():
    space = parse_space(_space({"low": 0.0, "high": 0.5, "step": 0.25}))
    assert space.model.prune.grid() == [0.0, 0.25, 0.5]
    trial = optuna.trial.FixedTrial({"pe_type": "int8", "pe_rows": 8, "glb_kib": 32, "dram_gbps": 6.4,
                                     "weight_bits": 8, "prune": 0.25})
    _, choice = space.suggest(trial, ["features.0", "features.3", "features.7", "classifier"])
    assert choice.transforms == {"prune": 0.25}


@pytest.fixture(scope="module")
def pruned_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    space = _space({"levels": [0, 0.5], "learn": LEARN})
    space["model"]["pe_type"] = ["int8"]
    del space["model"]["weight_bits"]
    study = write_tiny_study(folder, name="pruned", n_trials=6, space=space, model=TINY_MODEL)
    url = f"sqlite:///{folder / 's.db'}"
    api.start_study(study, storage=url, tracking=False)
    return study, url


def test_pruned_trials_cost_fewer_macs_and_export_them(pruned_study):
    _, url = pruned_study
    df = trials_frame(optuna.load_study(study_name="pruned", storage=url))
    assert {"params_prune", "metrics_macs"} <= set(df.columns)
    macs = df.groupby("params_prune")["metrics_macs"].first()
    assert set(macs.index) == {0.0, 0.5}
    assert macs[0.5] <= 0.5 * macs[0.0]
    energy = df.groupby("params_prune")["metrics_energy_mj"].min()
    assert energy[0.5] < energy[0.0]


def test_prune_learn_loads_what_the_study_learned(pruned_study):
    study, url = pruned_study
    result = CliRunner().invoke(app, ["prune", "learn", str(study), "--storage", url, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "loaded from the study storage" in result.stdout
    assert "features.3" in result.stdout and "50%" in result.stdout


def test_prune_learn_refuses_a_study_without_a_pruning_axis(tmp_path):
    study = write_tiny_study(tmp_path)
    result = CliRunner().invoke(app, ["prune", "learn", str(study), "--storage", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2
    assert "space.model.prune: not set" in result.stderr


def test_pruning_follows_the_spaces_first_last_pinning_unless_told():
    from coexplore.search.model_axes import PruneAxis

    assert PruneAxis(levels=[0.5]).settings(pin_first_last=8).keep_ends
    assert not PruneAxis(levels=[0.5]).settings(pin_first_last=None).keep_ends
    assert not PruneAxis(levels=[0.5], keep_first_last=False).settings(pin_first_last=8).keep_ends
    assert PruneAxis(levels=[0, 0.3]).settings(None).learn_level == 0.3  # LeGR learns at the tightest level
