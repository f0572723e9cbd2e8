"""Two workers on one PostgreSQL study share the budget: unique trial numbers, exactly `budget` COMPLETE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.search.tiny_study import write_tiny_study

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
COEXPLORE = [str(Path(sys.executable).parent / "coexplore")]


def _run(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*COEXPLORE, "study", *args, "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_workers_respect_the_budget_without_duplicate_numbers(tmp_path, postgres_url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = write_tiny_study(tmp_path, name="shared", n_trials=1, finetune_steps=60, per_layer=True)
    first = _run("start", str(study), "--storage", postgres_url)
    assert first.wait(300) == 0, first.communicate()
    # the budget lives in the study: raise it there, then two workers start together and share it
    optuna.load_study(study_name="shared", storage=postgres_url).set_user_attr("n_trials", 12)
    procs = [_run("worker", "shared", "--storage", postgres_url) for _ in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 12
    ran = [int(o[0].split("this process ran ")[1].split()[0]) for o in outs]
    assert all(n > 0 for n in ran), f"both workers took trials: {ran}"
