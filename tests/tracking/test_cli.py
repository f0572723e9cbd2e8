"""The review commands as a user runs them: `study export`, `study report`, and a killed-then-resumed study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.record.front import pareto_trials, study_directions
from tests.tracking.conftest import drive, new_study

runner = CliRunner()


@pytest.fixture()
def in_project(tmp_path, monkeypatch):
    """A working directory holding a study in the default storage (sqlite:///coexplore-runs/coexplore.db)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COEXPLORE_STORAGE", raising=False)
    (tmp_path / "coexplore-runs").mkdir()
    study = new_study("sqlite:///coexplore-runs/coexplore.db", "cli-study")
    drive(study, None, 6)
    return tmp_path


def test_export_writes_csv_for_the_named_study_from_the_default_storage(in_project):
    result = runner.invoke(app, ["study", "export", "cli-study", "--format", "csv"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(in_project / "cli-study-trials.csv")
    assert list(df["number"]) == list(range(6))


def test_export_to_parquet_with_out(in_project):
    result = runner.invoke(app, ["study", "export", "cli-study", "--format", "parquet", "--out", "x/t.parquet"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(in_project / "x" / "t.parquet")) == 6


def test_export_of_an_unknown_study_names_the_ones_there(in_project):
    result = runner.invoke(app, ["study", "export", "nope", "--format", "csv"])
    assert result.exit_code == 1
    assert "no study named 'nope'" in result.output and "cli-study" in result.output


def test_report_logs_to_the_default_store_beside_the_storage(in_project):
    result = runner.invoke(app, ["study", "report", "cli-study", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "6 trial runs logged" in result.output
    client = MlflowClient(f"sqlite:///{in_project / 'coexplore-runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("cli-study")
    assert len(client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'")) == 6
    assert Path(exp.artifact_location.removeprefix("file://")).parent == in_project / "coexplore-runs" / "mlartifacts"


def test_report_twice_logs_nothing_new(in_project):
    runner.invoke(app, ["study", "report", "cli-study", "--no-plots"])
    result = runner.invoke(app, ["study", "report", "cli-study", "--no-plots"])
    assert "0 trial runs logged, 6 already there, 0 duplicates removed" in result.output


def _coexplore(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from coexplore.cli import main; main()", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


@pytest.mark.slow
def test_killed_study_resumed_through_the_cli_has_one_run_per_trial(tmp_path):
    from tests.search.tiny_study import write_tiny_study

    study_file = write_tiny_study(tmp_path, name="tiny", n_trials=14, tracking=True)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = _coexplore("study", "start", str(study_file), "--storage", storage, "--tracking-uri", tracking,
                      "--no-progress", cwd=tmp_path, env=env)
    deadline = time.monotonic() + 300
    complete = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1)
        try:
            study = optuna.load_study(study_name="tiny", storage=storage)
            complete = sum(t.state.name == "COMPLETE" for t in study.trials)
        except Exception:  # noqa: BLE001, S112 - storage not created yet
            continue
        if complete >= 3:
            break
    assert proc.poll() is None, f"the study ended before it could be killed:\n{proc.stdout.read()}"
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no on_study_end, maybe a trial left RUNNING
    proc.wait(30)
    time.sleep(4)  # past the tiny study's heartbeat grace period (3 s)

    resumed = _coexplore("study", "resume", "tiny", "--storage", storage, "--tracking-uri", tracking,
                         "--n-trials", "6", "--no-progress", cwd=tmp_path, env=env)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out

    study = optuna.load_study(study_name="tiny", storage=storage)
    client = MlflowClient(tracking)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'", max_results=1000)
    per_trial = Counter(int(r.data.tags["trial_number"]) for r in runs)
    assert set(per_trial) == {t.number for t in study.trials if t.state.is_finished()}
    assert set(per_trial.values()) == {1}
    front = {t.number for t in pareto_trials(study.trials, study_directions(study))}
    assert {int(r.data.tags["trial_number"]) for r in runs if r.data.tags["on_pareto"] == "true"} == front
    parents = client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'study'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"


def test_ui_refuses_a_port_in_use_and_suggests_another(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = runner.invoke(app, ["ui", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.output


def test_ui_for_a_tracking_server_just_points_at_it():
    result = runner.invoke(app, ["ui", "--tracking-uri", "http://mlflow.example:5000"])
    assert result.exit_code == 0
    assert "http://mlflow.example:5000" in result.output and "a tracking server already" in result.output
