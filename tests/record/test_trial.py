"""The trial record: written once onto a trial (live or added), read back equal, constraints visible to Optuna."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import IntDistribution

from coexplore.record import (
    FEASIBLE,
    RECORD_ATTR,
    TrialRecord,
    compute_metrics,
    frozen_trial,
    read_record,
    write_record,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _record(**over) -> TrialRecord:
    fields = {"values": [0.9, 2.0], "metrics": {"accuracy": 0.9, "energy_mj": 2.0},
              "constraints": {FEASIBLE: 0.0, "area_mm2 <= 4": -1.5}, "pe_type": "int8",
              "effective": {"pe_rows": 8, "weight_bits": [8, 4]}, "per_layer": [{"name": "conv1", "macs": 10}],
              "proxy_cache_hit": False, "proxy_seconds": 1.25, "ppa_seconds": 0.01, **over}
    return TrialRecord(**fields)


def test_a_record_written_on_a_live_trial_reads_back_equal_with_its_constraints_set():
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    rec = _record()
    write_record(trial, rec)
    study.tell(trial, rec.values)
    frozen = study.trials[0]
    assert read_record(frozen) == rec
    assert frozen.constraints == rec.constraints
    assert list(frozen.user_attrs) == [RECORD_ATTR], "the record is one user attribute"


def test_a_record_added_as_a_finished_trial_reads_back_equal():
    study = optuna.create_study(directions=["maximize", "minimize"])
    rec = _record(constraints={FEASIBLE: 1.0}, infeasible_reason="glb too small", source="enos")
    study.add_trial(frozen_trial(rec, {"pe_rows": 8}, {"pe_rows": IntDistribution(4, 16)}))
    frozen = study.trials[0]
    assert read_record(frozen) == rec and frozen.values == rec.values
    assert frozen.constraints == {FEASIBLE: 1.0} and not read_record(frozen).feasible


def test_a_trial_without_a_record_reads_as_none():
    study = optuna.create_study()
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    assert read_record(study.trials[0]) is None


def test_a_record_from_a_newer_version_keeps_the_fields_it_knows():
    data = {**_record().to_dict(), "field_of_the_future": 1}
    assert TrialRecord.from_dict(data) == _record()


@pytest.mark.parametrize(("constraints", "reason", "feasible"), [
    ({FEASIBLE: 0.0, "c": 0.0}, "", True),
    ({FEASIBLE: 0.0, "c": 0.1}, "", False),
    ({FEASIBLE: 0.0}, "invalid design: pe_rows", False),
])
def test_feasible_means_no_reason_and_every_constraint_at_most_zero(constraints, reason, feasible):
    assert _record(constraints=constraints, infeasible_reason=reason).feasible is feasible


def test_accuracy_drop_is_in_percentage_points():
    m = compute_metrics({"accuracy": 0.90, "baseline_accuracy": 0.95})
    assert m["accuracy_drop"] == pytest.approx(5.0)
    assert math.isnan(m["energy_mj"]), "a metric whose raw quantity is missing is NaN"
