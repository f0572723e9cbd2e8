"""What a trial's run holds: the mapping from the trial record to MLflow entities."""

from __future__ import annotations

import csv

import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from coexplore.record import ERROR_ATTR, TrialRecord, frozen_trial
from coexplore.tracking.entities import (
    TRIAL_JSON,
    constraint_key,
    flatten_breakdowns,
    margin_key,
    top_level_metrics,
    trial_details,
    trial_metrics,
    trial_params,
    trial_tags,
    write_per_layer_csv,
    write_trial_files,
)

OBJ = ["accuracy", "energy_mj"]


DISTS = {"pe_type": CategoricalDistribution(["int8", "int4"]), "pe_rows": IntDistribution(4, 16)}


def _record(**fields) -> TrialRecord:
    base = {"values": [0.9, 2.0], "metrics": {"accuracy": 0.9, "energy_mj": 2.0, "area_glb_mm2": 0.5,
                                              "area_pe_array_mm2": 1.0},
            "constraints": {"feasible": 0.0, "area_mm2 <= 2": -0.5}, "pe_type": "int8", "proxy_cache_hit": False,
            "effective": {"pe_type": "int8", "pe_rows": 8, "act_bits": [4, 4, 4], "weight_bits": [8, 4, 8]}}
    return TrialRecord(**{**base, **fields})


def _trial(state=TrialState.COMPLETE, error: str | None = None, **fields):
    params = {"pe_type": "int8", "pe_rows": 8}
    if state == TrialState.COMPLETE:
        t = frozen_trial(_record(**fields), params, DISTS)
    else:
        t = create_trial(state=state, params=params, distributions=DISTS, user_attrs={ERROR_ATTR: error})
    t.number = 7
    return t


def test_nested_breakdowns_are_flattened_in_the_contract_spelling():
    row = {"name": "conv1", "energy_breakdown_j": {"mac": 1.0, "dram": 2.0}, "other": {"a": 1}}
    assert flatten_breakdowns(row) == {"name": "conv1", "energy_mac_j": 1.0, "energy_dram_j": 2.0, "other.a": 1}


def test_constraint_keys_read_like_the_constraint():
    assert constraint_key("area_mm2 <= 2") == "constraint_area_mm2_le_2"
    assert margin_key("accuracy >= 0.9") == "margin_accuracy_ge_0.9"


def test_metrics_are_the_objectives_key_metrics_and_constraint_margins_only():
    m = trial_metrics(_trial(), OBJ)
    assert m == {"accuracy": 0.9, "energy_mj": 2.0, "margin_area_mm2_le_2": 1.0}  # Optuna's -0.5 is relative
    assert "area_glb_mm2" not in m and "constraint_feasible" not in m, "breakdowns go to trial.json"


def test_a_constraint_margin_is_positive_inside_the_limit_in_the_metric_unit():
    from coexplore.search.objectives import parse_constraint

    c = parse_constraint("accuracy_drop <= 10")
    inside, over = c.violation({"accuracy_drop": 9.1}), c.violation({"accuracy_drop": 11.5})
    m = trial_metrics(_trial(constraints={"feasible": 0.0, str(c): inside}), OBJ)
    assert m["margin_accuracy_drop_le_10"] == pytest.approx(0.9)  # 0.9 points below the limit
    m = trial_metrics(_trial(constraints={"feasible": 0.0, str(c): over}), OBJ)
    assert m["margin_accuracy_drop_le_10"] == pytest.approx(-1.5)  # 1.5 points over: violated
    ge = parse_constraint("gops_per_mm2 >= 20")
    m = trial_metrics(_trial(constraints={"feasible": 0.0, str(ge): ge.violation({"gops_per_mm2": 25.0})}), OBJ)
    assert m["margin_gops_per_mm2_ge_20"] == pytest.approx(5.0)


def test_the_constrained_metric_is_a_top_level_metric():
    assert top_level_metrics(["accuracy", "energy_j"], ["accuracy_drop <= 10", "power_w <= 1"]) == [
        "accuracy", "energy_j", "accuracy_drop", "latency_ms", "area_mm2", "power_w"]


def test_trial_json_holds_every_metric_with_its_unit_and_the_design_both_ways(tmp_path):
    t = _trial()
    details = trial_details(t, OBJ)
    assert details["metrics"]["area_glb_mm2"] == {"value": 0.5, "unit": "mm^2"}
    assert details["metrics"]["energy_mj"]["unit"] == "mJ"
    assert details["design"]["weight_bits"] == [8, 4, 8] and details["sampled_params"] == {"pe_type": "int8",
                                                                                            "pe_rows": 8}
    assert details["constraints"]["area_mm2 <= 2"] == {"optuna_value": -0.5, "margin": 1.0, "satisfied": True}
    assert [p.name for p in write_trial_files(t, OBJ, None, tmp_path)] == [TRIAL_JSON]


def test_the_run_description_states_the_design_and_figures_in_readable_units():
    text = trial_tags(_trial(), study_name="s", parent_run_id="p", on_pareto=True)["mlflow.note.content"]
    assert text.startswith("Trial 7 (int8, feasible)")
    assert "accuracy 90.00 %" in text and "Design as evaluated: pe_type=int8, pe_rows=8" in text


def test_params_are_the_evaluated_design_as_text_with_passwords_masked():
    t = _trial(effective={"pe_type": "int4", "pe_rows": 8, "act_bits": [4, 4], "weight_bits": [8, 4],
                          "storage": "postgresql://u:pw@h/db"})
    assert trial_params(t) == {"pe_type": "int4", "pe_rows": "8", "act_bits": "4", "weight_bits": "[8, 4]",
                               "storage": "postgresql://u:***@h/db"}


def test_params_fall_back_to_the_samples_without_a_record():
    t = _trial(TrialState.FAIL, error="boom")
    assert trial_params(t) == {"pe_type": "int8", "pe_rows": "8"}


def test_failed_trial_tags_carry_the_masked_error():
    tags = trial_tags(_trial(TrialState.FAIL, error="OperationalError: postgresql://u:pw@h/db refused"),
                      study_name="s", parent_run_id="p", on_pareto=False)
    assert tags["state"] == "FAIL" and tags["on_pareto"] == "false" and tags["trial_number"] == "7"
    assert tags["fail_reason"] == "OperationalError: postgresql://u:***@h/db refused"
    assert tags["mlflow.parentRunId"] == "p" and tags["pe_type"] == "int8"


def test_per_layer_csv_has_one_row_per_layer_and_flat_components(tmp_path):
    rows = [{"name": "conv1", "macs": 10, "energy_breakdown_j": {"mac": 1.0}},
            {"name": "fc", "macs": 5, "energy_breakdown_j": {"mac": 0.5, "dram": 0.1}}]
    path = write_per_layer_csv(rows, tmp_path / "p.csv")
    back = list(csv.DictReader(path.open()))
    assert [r["name"] for r in back] == ["conv1", "fc"]
    assert back[1]["energy_dram_j"] == "0.1" and back[0]["energy_dram_j"] == ""


def test_no_per_layer_rows_writes_no_file(tmp_path):
    assert write_per_layer_csv([], tmp_path / "p.csv") is None
    assert not (tmp_path / "p.csv").exists()
