"""Default tracking store, secret masking and MLflow-safe keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

from coexplore.tracking.store import (
    artifact_location,
    default_tracking_uri,
    experiment_artifact_location,
    mask_secrets,
    mask_url,
    prepare_store,
    safe_key,
)


def test_default_tracking_store_sits_beside_an_sqlite_study_storage():
    assert default_tracking_uri("sqlite:///coexplore-runs/coexplore.db") == "sqlite:///coexplore-runs/mlflow.db"
    assert default_tracking_uri("sqlite:////data/x/studies.db") == "sqlite:////data/x/mlflow.db"


def test_default_tracking_store_for_a_server_storage_is_the_local_runs_folder():
    assert default_tracking_uri("postgresql://u@db/s") == "sqlite:///coexplore-runs/mlflow.db"
    assert default_tracking_uri(None) == "sqlite:///coexplore-runs/mlflow.db"


def test_artifacts_of_a_local_store_go_to_mlartifacts_beside_it(tmp_path):
    loc = artifact_location(f"sqlite:///{tmp_path}/mlflow.db")
    assert loc == (tmp_path / "mlartifacts").as_uri()
    assert artifact_location("http://127.0.0.1:5000") is None


def test_artifacts_of_a_database_store_stay_in_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loc = artifact_location("postgresql+psycopg2://u@db/mlflow")
    assert loc == (tmp_path / "coexplore-runs" / "mlartifacts").as_uri()


def test_an_experiments_artifact_folder_is_named_for_the_study_and_its_run_uris_fit_mlflows_column(tmp_path):
    short = experiment_artifact_location(f"sqlite:///{tmp_path}/mlflow.db", "quickstart")
    assert short == f"{(tmp_path / 'mlartifacts').as_uri()}/quickstart"
    deep = tmp_path / ("d" * 40)
    names = ["x" * 150, "y" * 150]
    locs = [experiment_artifact_location(f"sqlite:///{deep}/mlflow.db", n) for n in names]
    run_uri = f"{locs[0]}/{'0' * 32}/artifacts"
    assert len(run_uri) <= 200 and locs[0] != locs[1], "shortened, and two long names stay apart"
    assert experiment_artifact_location("http://127.0.0.1:5000", "x" * 300) is None


def test_local_store_is_put_in_wal_mode(tmp_path):
    import sqlite3

    prepare_store(f"sqlite:///{tmp_path}/sub/mlflow.db")
    mode = sqlite3.connect(tmp_path / "sub" / "mlflow.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_password_in_url_is_masked():
    assert mask_url("postgresql+psycopg2://alice:p%40ss@db:5432/s") == "postgresql+psycopg2://alice:***@db:5432/s"


def test_url_without_password_is_unchanged():
    for url in ["sqlite:///coexplore-runs/coexplore.db", "postgresql://alice@db/s", "http://127.0.0.1:5000"]:
        assert mask_url(url) == url


def test_nested_config_secrets_are_masked():
    cfg = {"storage": "postgresql://a:b@h/d", "tracking": {"token": "xyz", "uri": "http://u:pw@host"}, "n": 3}
    assert mask_secrets(cfg) == {"storage": "postgresql://a:***@h/d",
                                 "tracking": {"token": "***", "uri": "http://u:***@host"}, "n": 3}


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300))
def test_safe_key_is_always_a_valid_mlflow_key(name):
    key = safe_key(name)
    assert validate_param_and_metric_name(key) and not path_not_unique(key) and len(key) <= 250


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,40}", fullmatch=True))
def test_safe_key_keeps_ordinary_names(name):
    assert safe_key(name) == name or ".." in name
