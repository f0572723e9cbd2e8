"""A user's path through the CLI with the real PPA model and accuracy proxy, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.record import read_record
from coexplore.record.front import non_dominated_mask
from tests.search.tiny_study import write_tiny_study

pytestmark = pytest.mark.slow
DIRECTIONS = ["maximize", "minimize", "minimize"]


def _cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


def _check_front(url: str, name: str) -> list[dict]:
    rows = json.loads(_cli("study", "pareto", name, "--storage", url, "--format", "json").stdout)
    assert rows, "a tiny study still has a front"
    values = np.array([[r["accuracy"], r["energy_mj"], r["area_mm2"]] for r in rows])
    assert non_dominated_mask(values, DIRECTIONS).all()
    assert all(r["area_mm2"] <= 2 for r in rows), "the area constraint keeps infeasible points off the front"
    assert all({"pe_type", "pe_rows", "glb_kib"} <= set(r["params"]) for r in rows)
    return rows


def _run_tiny(tmp_path, url):
    study = write_tiny_study(tmp_path, n_trials=6)
    start = _cli("study", "start", str(study), "--storage", url, "--no-progress")
    assert "6/6 trials complete" in start.stdout
    assert "accuracy proxy evaluations:" in start.stdout
    status = json.loads(_cli("study", "status", "tiny", "--storage", url, "--format", "json").stdout)
    assert status["complete"] == status["budget"] == 6
    assert {"complete", "running", "fail", "pruned", "waiting"} <= set(status)
    return status


def test_tiny_study_runs_to_completion_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/runs/studies.db"
    _run_tiny(tmp_path, url)
    rows = _check_front(url, "tiny")
    table = csv.reader(io.StringIO(_cli("study", "pareto", "tiny", "--storage", url, "--format", "csv").stdout))
    header, *body = list(table)
    assert header[:4] == ["trial", "accuracy", "energy_mj", "area_mm2"] and len(body) == len(rows)
    listing = json.loads(_cli("study", "list", "--storage", url, "--format", "json").stdout)
    assert [(s["name"], s["complete"], s["budget"]) for s in listing] == [("tiny", 6, 6)]


@pytest.mark.postgres
def test_tiny_study_runs_to_completion_on_postgresql(tmp_path, monkeypatch, postgres_url):
    monkeypatch.chdir(tmp_path)
    _run_tiny(tmp_path, postgres_url)
    _check_front(postgres_url, "tiny")


def test_resume_with_a_larger_budget_needs_only_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/s.db"
    _cli("study", "start", str(write_tiny_study(tmp_path, n_trials=3)), "--storage", url, "--no-progress")
    (tmp_path / "tiny.yaml").unlink()  # resume reads the config from the storage, not the file
    out = _cli("study", "resume", "tiny", "--storage", url, "--n-trials", "5", "--no-progress").stdout
    assert "5/5 trials complete" in out and "this process ran 2 trials" in out


def test_status_of_an_unknown_study_lists_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/s.db"
    _cli("study", "start", str(write_tiny_study(tmp_path, n_trials=1)), "--storage", url, "--no-progress")
    result = CliRunner().invoke(app, ["study", "status", "nope", "--storage", url])
    assert result.exit_code == 1 and "studies there: tiny" in result.stderr


def test_storage_passwords_never_reach_the_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "postgresql+psycopg2://alice:s3cr3t@127.0.0.1:1/nowhere"
    result = CliRunner().invoke(app, ["study", "start", str(write_tiny_study(tmp_path)), "--storage", url])
    assert result.exit_code == 1
    assert "s3cr3t" not in result.output + result.stderr and "alice:***@" in result.stderr


def test_tracking_logs_the_study_and_every_trial_to_mlflow(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    study = write_tiny_study(tmp_path, n_trials=3, tracking=True)
    _cli("study", "start", str(study), "--storage", f"sqlite:///{tmp_path}/s.db", "--tracking-uri", uri, "--no-progress")
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, "one run for the study"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 3 == len(runs) - 1, "exactly one run per trial"


def test_no_tracking_flag_turns_tracking_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = write_tiny_study(tmp_path, n_trials=1, tracking=True)
    _cli("study", "start", str(study), "--storage", f"sqlite:///{tmp_path}/s.db", "--no-tracking", "--no-progress")
    assert not (tmp_path / "mlflow.db").exists()


def test_trial_metrics_split_area_and_energy_by_component(tmp_path, monkeypatch):
    import optuna

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/s.db"
    _cli("study", "start", str(write_tiny_study(tmp_path, n_trials=2)), "--storage", url, "--no-progress")
    for trial in optuna.load_study(study_name="tiny", storage=url).get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        rec = read_record(trial)
        m = rec.metrics
        if not rec.feasible and "area_mm2" not in m:
            continue  # an invalid design point has no PPA figures
        area_parts = [v for k, v in m.items() if k.startswith("area_") and k != "area_mm2"]
        energy_parts = [v for k, v in m.items() if k.startswith("energy_") and k not in ("energy_j", "energy_mj")]
        assert len(area_parts) >= 3 and sum(area_parts) == pytest.approx(m["area_mm2"], rel=1e-6)
        assert len(energy_parts) >= 5 and sum(energy_parts) == pytest.approx(m["energy_j"], rel=1e-6)
