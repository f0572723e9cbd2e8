"""`coexplore enos search` as a user runs it: ENOS's assignments become trials of the same study."""

from __future__ import annotations

import optuna
import pytest
import torch
import yaml
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.record import read_record
from tests.search.tiny_study import write_tiny_study

torch.set_num_threads(1)
HYBRID_SPACE = {
    "hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4}},
    "operators": {"choices": ["mac@digital", "shift1@digital", "mac@cim", "l1@cim"], "per": "layer"},
    "cim": {"adc_bits": {"type": "int", "low": 3, "high": 6}},
    "cim_fixed": {"rows": 64},
}


def _cli(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output + (result.stderr or "")
    return result


def _hybrid_study(tmp_path, n_trials: int = 2):
    path = write_tiny_study(tmp_path, name="hy", n_trials=n_trials)
    data = yaml.safe_load(path.read_text())
    data["space"] = HYBRID_SPACE
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.slow
def test_enos_search_records_each_assignment_as_a_trial_of_the_study_without_duplicates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/s.db"
    study_file = _hybrid_study(tmp_path)
    _cli("study", "start", str(study_file), "--storage", url, "--no-progress")
    first = _cli("enos", "search", "hy", "--storage", url, "--lambdas", "0,5", "--steps", "8", "--mode", "single")
    assert "ENOS lambda sweep on study hy" in first.stdout and "mac@" in first.stdout

    study = optuna.load_study(study_name="hy", storage=url)
    enos = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and read_record(t).source == "enos"]
    assert 1 <= len(enos) <= 2 and len(enos) == len(study.trials) - 2
    layers = [r["name"] for r in read_record(enos[0]).per_layer]
    for t in enos:
        rec = read_record(t)
        assert rec.pe_type == "hybrid" and t.constraints == rec.constraints
        assert set(t.params) == {"pe_rows", "cim.adc_bits", *(f"op.{l}" for l in layers)}
        assert [r["choice"] for r in rec.per_layer] == [t.params[f"op.{l}"] for l in layers]
        assert t.values == rec.values == [rec.metrics[m] for m in ("accuracy", "energy_mj", "area_mm2")]
        assert rec.extra["enos_mode"] == "single" and rec.extra["enos_energy_weight"] in (0.0, 5.0)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == len(set(params)), "no trial is recorded twice"

    n_before = len(study.trials)
    again = _cli("enos", "search", "hy", "--storage", url, "--lambdas", "0,5", "--steps", "8", "--mode", "single")
    assert "already in the study" in again.stderr
    assert len(optuna.load_study(study_name="hy", storage=url).trials) == n_before

    _cli("study", "resume", "hy", "--storage", url, "--n-trials", str(n_before + 1), "--no-progress")
    study = optuna.load_study(study_name="hy", storage=url)
    newest = study.trials[-1]
    assert len(study.trials) == n_before + 1 and read_record(newest).source == "sampler"
    assert {f"op.{l}" for l in layers} <= set(newest.params), "the sampler goes on in the same space"


def test_enos_search_on_a_space_without_operators_says_what_to_change(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study_file = write_tiny_study(tmp_path, name="plain")
    result = _cli("enos", "search", str(study_file), "--storage", f"sqlite:///{tmp_path}/s.db", code=1)
    assert "has no operators section" in result.stderr


def test_enos_search_rejects_negative_lambdas(tmp_path):
    result = _cli("enos", "search", "x", "--lambdas", "0,-1", code=2)
    assert "comma-separated numbers >= 0" in result.output + (result.stderr or "")


def test_an_invalid_operator_choice_in_a_study_file_exits_2_naming_the_path(tmp_path):
    path = _hybrid_study(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["space"]["operators"]["choices"] = ["mac@digital", "adder@cim"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = _cli("enos", "search", str(path), "--storage", f"sqlite:///{tmp_path}/s.db", code=2)
    assert "space.operators.choices.1: unknown operator choice 'adder@cim'; allowed:" in result.stderr
