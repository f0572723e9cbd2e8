"""`coexplore study recheck`: the front re-checked at high fidelity, stored on the study, in MLflow."""

from __future__ import annotations

import math

import optuna
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.record.front import study_front
from tests.search.tiny_study import write_tiny_study

runner = CliRunner()


@pytest.mark.slow
def test_recheck_fine_tunes_each_front_plan_longer_and_recomputes_the_front(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url, tracking = f"sqlite:///{tmp_path}/s.db", f"sqlite:///{tmp_path}/mlflow.db"
    study_file = write_tiny_study(tmp_path, n_trials=6, tracking=True, tracking_uri=tracking,
                                  proxy={"pretrain_epochs": 1, "finetune_steps": 3, "threads": 1, "folds": 1,
                                         "high_fidelity": {"steps": 30}})
    assert runner.invoke(app, ["study", "start", str(study_file), "--storage", url, "--no-progress"]).exit_code == 0
    front = {t.number for t in study_front(optuna.load_study(study_name="tiny", storage=url))}

    result = runner.invoke(app, ["study", "recheck", "tiny", "--storage", url])

    assert result.exit_code == 0, result.output
    assert "rank agreement brief vs high fidelity" in result.output
    stored = optuna.load_study(study_name="tiny", storage=url).user_attrs["recheck"]
    assert {r["trial"] for r in stored["rows"]} == front
    assert set(stored["front_after"]) <= front and stored["changed"] == len(front - set(stored["front_after"]))
    assert all(0.0 <= r["accuracy_high"] <= 1.0 for r in stored["rows"])
    assert any(r["accuracy_high"] != r["accuracy_brief"] for r in stored["rows"]), "a longer fine-tune ran"
    assert math.isfinite(stored["hypervolume_after"])
    client = MlflowClient(tracking)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'")
    checked = {int(r.data.tags["trial_number"]) for r in runs if "accuracy_high_fidelity" in r.data.metrics}
    assert checked == front
