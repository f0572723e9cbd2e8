"""A tracking store on PostgreSQL (as a shared MLflow backend would be): same runs, same guarantees."""

from __future__ import annotations

from collections import Counter

import pytest
from mlflow import MlflowClient

from coexplore.tracking import MlflowObserver, report_study
from tests.tracking.conftest import OBJECTIVES, drive, new_study

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_observer_and_report_on_a_postgresql_tracking_store(postgres_url, make_study, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # artifacts of a database store go to ./coexplore-runs/mlartifacts
    study = make_study()
    drive(study, MlflowObserver(postgres_url, plots=False), 4)
    rep = report_study(study, postgres_url, plots=False)
    assert rep.counts.logged == 0 and rep.counts.present == 4
    client = MlflowClient(postgres_url)
    exp = client.get_experiment_by_name(study.study_name)
    runs = client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'")
    assert Counter(int(r.data.tags["trial_number"]) for r in runs) == {t.number: 1 for t in study.trials}
    for r in runs:
        t = study.trials[int(r.data.tags["trial_number"])]
        if t.values is not None:
            assert r.data.metrics[OBJECTIVES[1]["name"]] == pytest.approx(t.values[1], rel=1e-12)
    assert exp.artifact_location.startswith((tmp_path / "coexplore-runs" / "mlartifacts").as_uri())


def test_a_long_study_name_in_a_deep_folder_still_gets_its_runs_on_postgresql(postgres_url, storage, tmp_path,
                                                                               monkeypatch):
    """MLflow stores a run's artifact URI in 200 characters; PostgreSQL refuses a longer one."""
    deep = tmp_path / ("deep" * 6)
    deep.mkdir()
    monkeypatch.chdir(deep)
    study = new_study(storage, "a_study_named_at_length_" * 5)
    drive(study, MlflowObserver(postgres_url, plots=False), 2)
    exp = MlflowClient(postgres_url).get_experiment_by_name(study.study_name)
    runs = MlflowClient(postgres_url).search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'")
    assert len(runs) == 2 and all(len(r.info.artifact_uri) <= 200 for r in runs)
