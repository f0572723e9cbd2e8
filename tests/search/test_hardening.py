"""A study that can find nothing feasible stops and says why; error lists are capped; a read-only
storage still answers reading commands."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from coexplore import api
from coexplore.cli import app
from coexplore.search.configio import ConfigError
from coexplore.search.study import StudyError
from tests.search.test_driver import _evaluator, _study_file

runner = CliRunner()


def test_an_all_infeasible_space_stops_naming_the_constraint_that_failed_most(tmp_path):
    path = _study_file(tmp_path, n_trials=100, max_infeasible_trials=8,
                       objectives={"objectives": ["accuracy", "area_mm2"], "constraints": ["area_mm2 <= 0.0001"],
                                   "reference_point": {"accuracy": 0.5, "area_mm2": 10.0}})
    with pytest.raises(StudyError, match=r"8 complete trials and none feasible.*constraint 'area_mm2 <= 0.0001'"):
        api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False, evaluator=_evaluator(path))


def test_error_lists_are_capped_with_a_count_of_the_rest():
    err = ConfigError([f"line {i}" for i in range(1000)])
    assert len(err.lines) == ConfigError.MAX_LINES + 1
    assert err.lines[-1] == f"... and {1000 - ConfigError.MAX_LINES} more problems"


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr to make a file read-only for root")
def test_a_read_only_storage_serves_status_and_pareto_and_refuses_writes_in_one_line(tmp_path):
    path = _study_file(tmp_path, n_trials=4)
    db = tmp_path / "s.db"
    api.start_study(path, storage=f"sqlite:///{db}", tracking=False, evaluator=_evaluator(path))
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        url = f"sqlite:///{db}"
        assert runner.invoke(app, ["study", "status", "t", "--storage", url]).exit_code == 0
        assert runner.invoke(app, ["study", "pareto", "t", "--storage", url, "--format", "json"]).exit_code == 0
        result = runner.invoke(app, ["study", "resume", "t", "--n-trials", "6", "--storage", url, "--no-tracking"])
        assert result.exit_code == 1 and "read-only" in result.output and "Traceback" not in result.output
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)
