"""`study export`: one row per trial with params, metrics, objectives and state; CSV and Parquet."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import pytest

from coexplore.record import read_record
from coexplore.record.front import pareto_trials, study_directions
from coexplore.tracking import export_trials, trials_frame
from tests.tracking.conftest import driven_study, new_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return driven_study(tmp_path_factory, "export-module", 12)


def test_one_row_per_trial_in_trial_order(study):
    df = trials_frame(study)
    assert list(df["number"]) == [t.number for t in study.trials]
    assert list(df["state"]) == [t.state.name for t in study.trials]


def test_rows_hold_params_metrics_and_objective_values(study):
    df = trials_frame(study).set_index("number")
    for t in study.trials:
        row = df.loc[t.number]
        for k, v in t.params.items():
            assert row[f"params_{k}"] == v
        if t.values is not None:
            assert row["values_accuracy"] == t.values[0]
            for k, v in read_record(t).metrics.items():
                assert row[f"metrics_{k}"] == pytest.approx(v)


def test_on_pareto_column_marks_the_front(study):
    df = trials_frame(study)
    front = {t.number for t in pareto_trials(study.trials, study_directions(study))}
    assert set(df.loc[df["on_pareto"], "number"]) == front


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_through_pandas(study, tmp_path, fmt):
    path = export_trials(study, fmt, tmp_path / f"trials.{fmt}")
    back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    want = trials_frame(study)
    assert list(back.columns) == list(want.columns)
    assert list(back["number"]) == list(want["number"])
    for col in [c for c in want.columns if c.startswith(("values_", "metrics_"))]:
        for a, b in zip(back[col], want[col]):
            assert (math.isnan(a) and (b is None or math.isnan(b))) or a == pytest.approx(b)
    assert list(back["params_pe_type"]) == list(want["params_pe_type"])


def test_export_of_an_empty_study_has_the_fixed_columns(tmp_path):
    s = new_study(f"sqlite:///{tmp_path / 'e.db'}", "empty")
    df = pd.read_csv(export_trials(s, "csv", tmp_path / "e.csv"))
    assert len(df) == 0 and "number" in df.columns and "state" in df.columns


def test_unknown_format_is_refused_with_the_allowed_ones(study, tmp_path):
    with pytest.raises(ValueError, match="'csv' or 'parquet'"):
        export_trials(study, "xlsx", tmp_path / "t.xlsx")  # type: ignore[arg-type]


def test_parquet_accepts_a_categorical_mixing_numbers_and_text(tmp_path):
    s = optuna.create_study(storage=f"sqlite:///{tmp_path / 'm.db'}", study_name="mixed")
    s.enqueue_trial({"bits": 4})
    s.enqueue_trial({"bits": "fp32"})
    s.optimize(lambda t: float(len(str(t.suggest_categorical("bits", [4, 8, "fp32"])))), n_trials=2)
    back = pd.read_parquet(export_trials(s, "parquet", tmp_path / "m.parquet"))
    assert list(back["params_bits"]) == ["4", "fp32"]


def test_params_are_the_design_as_evaluated_not_the_sample(tmp_path):
    from optuna.distributions import CategoricalDistribution

    from coexplore.record import TrialRecord, frozen_trial

    s = optuna.create_study(storage=f"sqlite:///{tmp_path / 'e.db'}", study_name="aliased")
    record = TrialRecord(values=[0.9], metrics={"accuracy": 0.9}, constraints={"feasible": 0.0}, pe_type="int4",
                         effective={"pe_type": "int4", "act_bits": [4, 4, 4], "weight_bits": [2, 4, 2]})
    dists = {"pe_type": CategoricalDistribution(["int8", "int4"]), "act_bits": CategoricalDistribution([4, 8])}
    s.add_trial(frozen_trial(record, {"pe_type": "int4", "act_bits": 8}, dists))  # sampled 8, ran at 4
    row = trials_frame(s).iloc[0]
    assert row["params_act_bits"] == 4 and row["params_weight_bits"] == "[2, 4, 2]"


def test_default_path_is_the_study_run_folder_beside_an_sqlite_storage(study, tmp_path, monkeypatch):
    from coexplore.tracking.export import default_export_path

    monkeypatch.chdir(tmp_path)
    assert default_export_path(study, f"sqlite:///{tmp_path}/runs/s.db", "csv") == tmp_path / "runs" / \
        "export-module-trials.csv"
    assert default_export_path(study, "postgresql://u@h/db", "parquet") == Path("coexplore-runs") / \
        "export-module-trials.parquet"
    path = export_trials(study, "csv", storage_url=f"sqlite:///{tmp_path}/runs/s.db")
    assert path == tmp_path / "runs" / "export-module-trials.csv" and path.exists()
