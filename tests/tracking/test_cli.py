"""The review commands as a user runs them: `study export`, `study report`, and a killed-then-resumed study."""

from __future__ import annotations

import csv
import io
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


def test_export_writes_into_the_study_run_folder_and_prints_the_path(in_project):
    result = runner.invoke(app, ["study", "export", "cli-study", "--format", "csv"])
    assert result.exit_code == 0, result.output
    path = in_project / "coexplore-runs" / "cli-study-trials.csv"
    assert str(path) in result.output.replace("\n", "")
    assert not (in_project / "cli-study-trials.csv").exists(), "nothing written into the working directory"
    df = pd.read_csv(path)
    assert list(df["number"]) == list(range(6))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_keeps_integers_integers(in_project, fmt):
    runner.invoke(app, ["study", "export", "cli-study", "--format", fmt])
    path = in_project / "coexplore-runs" / f"cli-study-trials.{fmt}"
    df = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    for col in ("params_pe_rows", "params_glb_kib", "number"):
        assert pd.api.types.is_integer_dtype(df[col]), f"{col} is {df[col].dtype}"
    if fmt == "csv":
        header, *lines = path.read_text().splitlines()
        col = header.split(",").index("params_pe_rows")
        assert all("." not in line.split(",")[col] for line in lines)


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


def test_report_says_where_to_review_the_study(in_project):
    result = runner.invoke(app, ["study", "report", "cli-study", "--no-plots"])
    line = next(x for x in result.output.splitlines() if x.startswith("review:"))
    assert "coexplore ui cli-study" in line
    assert "#/experiments/" in line and "viewStateShareKey=coexplore-review" in line


def test_report_leaves_no_default_experiment_beside_the_study(in_project):
    uri = f"sqlite:///{in_project / 'coexplore-runs' / 'mlflow.db'}"  # absolute: MLflow caches stores by URI
    result = runner.invoke(app, ["study", "report", "cli-study", "--no-plots", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    client = MlflowClient(uri)
    assert [e.name for e in client.search_experiments()] == ["cli-study"]
    assert not (in_project / "mlruns").exists()


def test_pareto_table_is_sorted_by_the_first_objective_with_pe_type_apart(in_project):
    result = runner.invoke(app, ["study", "pareto", "cli-study", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    accuracies = [float(r["accuracy"]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    assert all(r["pe_type"] in ("int16", "int8", "int4", "binary") for r in rows)
    table = runner.invoke(app, ["study", "pareto", "cli-study"], env={"COLUMNS": "200"}).output
    assert "(%)" in table and "pe_type" in table
    first = next(line for line in table.splitlines() if line.startswith("│"))
    assert f"{accuracies[0] * 100:.2f}" in first, "4 significant digits in the column's unit"


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
        time.sleep(0.2)
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
    done = sum(t.state.name == "COMPLETE" for t in optuna.load_study(study_name="tiny", storage=storage).trials)

    resumed = _coexplore("study", "resume", "tiny", "--storage", storage, "--tracking-uri", tracking,
                         "--n-trials", str(done + 3), "--no-progress", cwd=tmp_path, env=env)
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
