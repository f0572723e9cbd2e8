"""Two workers on one PostgreSQL study share the budget: unique trial numbers, exactly `budget` COMPLETE."""

from __future__ import annotations

import subprocess
import sys
import time
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
    study = write_tiny_study(tmp_path, name="shared", n_trials=1, finetune_steps=15, per_layer=True)
    first = _run("start", str(study), "--storage", postgres_url)
    assert first.wait(300) == 0, first.communicate()
    # one process raises the budget to 12 and runs; once it is under way a worker joins
    procs = [_run("resume", "shared", "--n-trials", "12", "--storage", postgres_url)]
    deadline = time.monotonic() + 120
    while optuna.load_study(study_name="shared", storage=postgres_url).user_attrs["n_trials"] != 12:
        assert time.monotonic() < deadline and procs[0].poll() is None, procs[0].communicate()
        time.sleep(0.2)
    procs.append(_run("worker", "shared", "--storage", postgres_url))
    outs = [p.communicate(timeout=400) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 12
    ran = [int(o[0].split("this process ran ")[1].split()[0]) for o in outs]
    assert all(n > 0 for n in ran), f"both workers took trials: {ran}"
