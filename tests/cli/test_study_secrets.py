"""A password in a working storage URL never reaches the output, the stored config or MLflow."""

from __future__ import annotations

import json

import mlflow
import optuna
import pytest
from typer.testing import CliRunner

from coexplore.cli import app
from tests.search.tiny_study import write_tiny_study

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SECRET = "pw-9f3c1e"


def test_password_of_a_real_postgresql_storage_is_never_shown_or_logged(tmp_path, monkeypatch, postgres_url):
    # The test server trusts local connections, so the password is accepted and the study really runs.
    user_at = "postgresql+psycopg2://postgres@"
    assert postgres_url.startswith(user_at)
    url = postgres_url.replace(user_at, f"postgresql+psycopg2://postgres:{SECRET}@")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    study = write_tiny_study(tmp_path, n_trials=2, tracking=True)
    runner = CliRunner()
    outputs = []
    for args in (
        ["study", "start", str(study), "--storage", url, "--tracking-uri", uri],
        ["study", "status", "tiny", "--storage", url, "--format", "json"],
        ["study", "list", "--storage", url],
        ["study", "pareto", "tiny", "--storage", url, "--format", "json"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output + (result.stderr or "")
        outputs.append(result.output + (result.stderr or ""))
    assert json.loads(outputs[1])["complete"] == 2
    assert not any(SECRET in text for text in outputs)

    stored = optuna.load_study(study_name="tiny", storage=postgres_url)
    assert SECRET not in json.dumps(stored.user_attrs, default=str)

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) == 3, "a parent run and one per trial"
    for run in runs:
        logged = json.dumps([run.data.params, run.data.tags, run.data.metrics])
        assert SECRET not in logged
    for path in tmp_path.rglob("*"):  # the MLflow database and every artifact (config files, plots, CSVs)
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
