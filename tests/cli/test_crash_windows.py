"""Crash windows: a trial created but never heartbeating, a study created but never configured,
and a soak of random SIGKILLs: nothing hangs, nothing is lost or duplicated, one MLflow run per trial."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from coexplore.record.front import pareto_trials, study_directions
from tests.conftest import reading_storage
from tests.search.tiny_study import write_tiny_study

pytestmark = pytest.mark.slow
COEXPLORE = [str(Path(sys.executable).parent / "coexplore")]


def _cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*COEXPLORE, "study", *args, "--no-progress"], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _trials(url: str, name: str = "tiny") -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name=name, storage=reading_storage(url)).get_trials(deepcopy=False)
    except KeyError:
        return []


def test_a_trial_killed_before_its_first_heartbeat_is_failed_and_the_study_finishes(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    study = write_tiny_study(tmp_path, n_trials=2)
    assert _cli("start", str(study), "--storage", url, cwd=tmp_path).returncode == 0
    orphan = optuna.load_study(study_name="tiny", storage=url).ask()  # RUNNING, and no heartbeat ever
    res = _cli("resume", "tiny", "--n-trials", "3", "--storage", url, cwd=tmp_path, timeout=180)
    assert res.returncode == 0, res.stderr
    states = {t.number: t.state for t in _trials(url)}
    assert states[orphan.number] == TrialState.FAIL
    assert Counter(states.values())[TrialState.COMPLETE] == 3
    assert TrialState.RUNNING not in states.values()


def test_a_study_created_but_never_configured_is_adopted_by_start(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    study = write_tiny_study(tmp_path, n_trials=2)
    optuna.create_study(study_name="tiny", storage=url, directions=["maximize", "minimize", "minimize"])
    res = _cli("start", str(study), "--storage", url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    loaded = optuna.load_study(study_name="tiny", storage=url)
    assert "config" in loaded.user_attrs
    assert sum(t.state == TrialState.COMPLETE for t in loaded.trials) == 2


def _soak(cmds: list[list[str]], url: str, cwd: Path, kills: int, seed: int) -> int:
    """Keep len(cmds) processes running, SIGKILL a random one shortly after it started trials,
    ``kills`` times; returns how many kills landed while a trial was RUNNING."""
    rng = random.Random(seed)
    procs = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    mid_trial = 0
    try:
        for _ in range(kills):
            k = rng.randrange(len(procs))
            seen = len(_trials(url))
            end = time.monotonic() + 60
            while time.monotonic() < end and len(_trials(url)) <= seen and procs[k].poll() is None:
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 1.5))
            mid_trial += any(t.state == TrialState.RUNNING for t in _trials(url))
            if procs[k].poll() is None:
                os.kill(procs[k].pid, signal.SIGKILL)
            procs[k].wait(30)
            procs[k] = subprocess.Popen(cmds[k], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(30)
    return mid_trial


def _check_soaked(url: str, tracking_uri: str, budget: int) -> None:
    from mlflow import MlflowClient

    trials = _trials(url)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == budget
    assert len({t.number for t in trials}) == len(trials)
    assert not any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'", max_results=5000)
    counts = Counter(int(r.data.tags["trial_number"]) for r in runs)
    assert counts == Counter({t.number: 1 for t in trials if t.state.is_finished()}), "one run per finished trial"
    front = {t.number for t in pareto_trials(trials, study_directions(optuna.load_study(study_name="tiny",
                                                                                         storage=url)))}
    assert {int(r.data.tags["trial_number"]) for r in runs if r.data.tags["on_pareto"] == "true"} == front


def test_soak_of_twenty_kills_on_sqlite(tmp_path):
    url, tracking = f"sqlite:///{tmp_path}/s.db", f"sqlite:///{tmp_path}/mlflow.db"
    budget = 20
    study = write_tiny_study(tmp_path, n_trials=budget, finetune_steps=10, per_layer=True, tracking=True,
                             tracking_uri=tracking)
    assert _cli("start", str(study), "--storage", url, "--n-trials", "1", cwd=tmp_path).returncode == 0
    resume = [*COEXPLORE, "study", "resume", "tiny", "--storage", url, "--n-trials", str(budget), "--no-progress"]
    landed = _soak([resume], url, tmp_path, kills=20, seed=0)
    res = _cli("resume", "tiny", "--storage", url, "--n-trials", str(budget), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    _check_soaked(url, tracking, budget)
    assert landed >= 5, f"only {landed} of 20 kills landed mid-trial"


@pytest.mark.postgres
def test_soak_of_twenty_kills_on_postgresql_with_two_workers(tmp_path, postgres_url):
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    budget = 20
    study = write_tiny_study(tmp_path, n_trials=budget, finetune_steps=10, per_layer=True, tracking=True,
                             tracking_uri=tracking)
    assert _cli("start", str(study), "--storage", postgres_url, "--n-trials", "1", cwd=tmp_path).returncode == 0
    optuna.load_study(study_name="tiny", storage=postgres_url).set_user_attr("n_trials", budget)
    worker = [*COEXPLORE, "study", "worker", "tiny", "--storage", postgres_url, "--no-progress"]
    _soak([worker, worker], postgres_url, tmp_path, kills=20, seed=1)
    res = _cli("worker", "tiny", "--storage", postgres_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    _check_soaked(postgres_url, tracking, budget)
