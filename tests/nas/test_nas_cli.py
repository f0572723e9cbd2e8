"""End to end through the CLI: a tiny NAS study, then `nas search` adding its architectures as trials."""

from __future__ import annotations

import optuna
import pytest
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.nas import decode
from coexplore.record import SOURCE_NAS, read_record
from tests.nas.conftest import write_nas_study


@pytest.mark.slow
def test_a_nas_study_and_a_lambda_sweep_share_one_study(tmp_path):
    study = write_nas_study(tmp_path, n_trials=2)
    url = f"sqlite:///{tmp_path}/s.db"
    runner = CliRunner()
    start = runner.invoke(app, ["study", "start", str(study), "--storage", url, "--no-progress", "--no-tracking"])
    assert start.exit_code == 0, start.output + start.stderr
    search = runner.invoke(app, ["nas", "search", "tinynas", "--storage", url, "--lambda", "0,30", "--steps", "20",
                                 "--no-tracking"])
    assert search.exit_code == 0, search.output + search.stderr
    assert "Single-Path NAS lambda sweep" in search.output

    trials = optuna.load_study(study_name="tinynas", storage=url).trials
    nas = [t for t in trials if read_record(t).source == SOURCE_NAS]
    assert len(trials) == 4 and len(nas) == 2
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    by_lambda = {read_record(t).extra["nas_cost_weight"]: read_record(t) for t in nas}
    archs = {lam: r.effective["architecture"] for lam, r in by_lambda.items()}
    assert archs[0.0] == "k5e6,k5e6,k5e6"  # accuracy alone keeps the full path
    assert len(decode(archs[30.0])) == 3 and archs[30.0] != archs[0.0]
    macs = {lam: sum(row["macs"] for row in r.per_layer) for lam, r in by_lambda.items()}
    assert macs[30.0] < macs[0.0]  # the PPA model costs the cheaper sub-network
    assert {"kernel.blocks.0", "expand.blocks.1", "skip.blocks.2"} <= set(nas[0].params)

    again = runner.invoke(app, ["nas", "search", "tinynas", "--storage", url, "--lambda", "0", "--steps", "20",
                                "--no-tracking"])
    assert again.exit_code == 0 and "already in the study" in again.stderr
    pareto = runner.invoke(app, ["study", "pareto", "tinynas", "--storage", url, "--format", "csv"])
    assert pareto.exit_code == 0
