"""A user's own model file, data function and trained weights: a study through the CLI, no pretraining."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.record import read_record

ROOT = Path(__file__).resolve().parents[2]


def _train_checkpoint(out: Path) -> float:
    spec = importlib.util.spec_from_file_location("byo_train", ROOT / "examples" / "byo" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(1)
    return module.train_checkpoint(out, epochs=2)


def _study(tmp_path: Path, checkpoint: str, **proxy) -> Path:
    """studies/byo-digits.yaml, shrunk, with its relative paths (as a user would write them) kept."""
    raw = yaml.safe_load((ROOT / "studies" / "byo-digits.yaml").read_text())
    raw["n_trials"] = 4
    raw["sampler"] = {"name": "random"}
    raw["proxy"] = {"checkpoint": checkpoint, "finetune_steps": 4, "threads": 1, "device": "auto", **proxy}
    for key in ("model", "dataset", "space", "objectives"):
        file, sep, name = raw[key].partition(":")
        raw[key] = str((ROOT / "studies" / file).resolve()) + sep + name
    path = tmp_path / "byo.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _cli(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output + (result.stderr or "")
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, float]:
    path = tmp_path_factory.mktemp("byo") / "tinynet.pt"
    return path, _train_checkpoint(path)


def test_a_study_from_a_checkpoint_pretrains_nothing_and_its_baseline_is_the_checkpoints(tmp_path, trained):
    ckpt, accuracy = trained
    url = f"sqlite:///{tmp_path}/runs/s.db"
    _cli("study", "start", str(_study(tmp_path, str(ckpt))), "--storage", url, "--no-progress", "--no-tracking")
    trials = optuna.load_study(study_name="byo-digits", storage=url).get_trials()
    baselines = {read_record(t).metrics["baseline_accuracy"] for t in trials if t.state.is_finished()}
    assert baselines == {accuracy}
    assert not list((tmp_path / "runs").rglob("fp32-*.pt")), "nothing was pretrained"


def test_a_checkpoint_that_does_not_fit_is_refused_before_a_study_exists(tmp_path, trained):
    state = torch.load(trained[0], weights_only=True)
    state["body.0.weight"] = torch.zeros(2, 1, 3, 3)
    torch.save(state, tmp_path / "bad.pt")  # relative to the study file below
    url = f"sqlite:///{tmp_path}/runs/s.db"
    result = _cli("study", "start", str(_study(tmp_path, "bad.pt")), "--storage", url, "--no-tracking", code=2)
    assert "proxy.checkpoint:" in result.stderr and "'body.0.weight' has shape [2, 1, 3, 3], the model's is [12, 1, 3, 3]" in result.stderr
    assert not (tmp_path / "runs" / "s.db").exists()


def test_recheck_full_validation_measures_the_front_on_the_whole_split(tmp_path, trained):
    ckpt, _ = trained
    url = f"sqlite:///{tmp_path}/runs/s.db"
    study = _study(tmp_path, str(ckpt), val_samples=100, high_fidelity={"steps": 4})
    _cli("study", "start", str(study), "--storage", url, "--no-progress", "--no-tracking")
    out = _cli("study", "recheck", "byo-digits", "--storage", url, "--full-validation", "--no-tracking").stdout
    assert "validated on the whole validation split (the search used 100 images per fold)" in out
    stored = optuna.load_study(study_name="byo-digits", storage=url).user_attrs["recheck"]
    assert json.dumps(stored) and stored["rows"], "the re-check is stored on the study"
