"""MlflowObserver, driven as the study driver drives it, read back through MlflowClient."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from coexplore.record import read_record
from coexplore.record.front import is_feasible, pareto_trials, study_directions
from coexplore.tracking import MlflowObserver
from tests.tracking.conftest import OBJECTIVES, drive, new_study

N_TRIALS = 16


@pytest.fixture(scope="module")
def logged(tracking_uri, tmp_path_factory):
    """A 16-trial study logged by the observer, with a study file attached (shared by the module)."""
    tmp = tmp_path_factory.mktemp("observer")
    study_file = tmp / "study.yaml"
    study_file.write_text("name: x\nstorage: postgresql://bob:hunter2@db:5432/s\n")
    study = new_study(f"sqlite:///{tmp / 'study.db'}", "observer-module")
    observer = MlflowObserver(tracking_uri, {"study": study_file})
    drive(study, observer, N_TRIALS)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(study.study_name)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    children = [r for r in runs if r.data.tags.get("coexplore.role") == "trial"]
    return study, observer, client, children


def _by_number(children):
    return {int(r.data.tags["trial_number"]): r for r in children}


def test_one_child_run_per_finished_trial(logged):
    study, _, _, children = logged
    numbers = sorted(int(r.data.tags["trial_number"]) for r in children)
    assert numbers == sorted(t.number for t in study.trials if t.state.is_finished())


def test_some_trials_failed_so_failure_logging_is_exercised(logged):
    study, _, _, children = logged
    failed = [t.number for t in study.trials if t.state == TrialState.FAIL]
    assert failed, "the fixture study should contain failed trials"
    assert all(_by_number(children)[n].data.tags["state"] == "FAIL" for n in failed)
    assert all(_by_number(children)[n].info.status == "FAILED" for n in failed)


def test_child_metrics_equal_trial_values_key_metrics_and_constraint_margins(logged):
    study, _, _, children = logged
    runs = _by_number(children)
    for t in study.trials:
        if t.state != TrialState.COMPLETE:
            continue
        m = runs[t.number].data.metrics
        for obj, v in zip(OBJECTIVES, t.values):
            assert m[obj["name"]] == v
        rec = read_record(t)
        for k in ("accuracy", "latency_ms", "area_mm2", "accuracy_drop"):
            assert m[k] == rec.metrics[k]
        assert m["margin_area_mm2_le_6"] == pytest.approx(6.0 - rec.metrics["area_mm2"])
        assert runs[t.number].data.tags["feasible"] == ("true" if is_feasible(t) else "false")


def test_child_metrics_are_few_so_the_runs_table_reads_without_configuration(logged):
    _, _, _, children = logged
    keys = {k for r in children for k in r.data.metrics}
    assert len(keys) <= 8, sorted(keys)
    assert not any(k.startswith(("area_pe", "energy_mac", "constraint_")) for k in keys)


def test_child_trial_json_holds_every_record_metric_with_its_unit(logged):
    import json

    study, _, client, children = logged
    t = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    run = _by_number(children)[t.number]
    details = json.loads(Path(client.download_artifacts(run.info.run_id, "trial.json")).read_text())
    assert {k: v["value"] for k, v in details["metrics"].items()} == pytest.approx(read_record(t).metrics)
    assert details["metrics"]["area_glb_mm2"]["unit"] == "mm^2"


def test_child_params_are_the_design_as_evaluated(logged):
    study, _, _, children = logged
    runs = _by_number(children)
    for t in study.trials:
        rec = read_record(t)
        design = rec.effective if rec is not None else t.params
        assert runs[t.number].data.params == {k: str(v) for k, v in design.items()}


def test_child_tags_name_trial_state_and_pe_type(logged):
    study, observer, _, children = logged
    runs = _by_number(children)
    for t in study.trials:
        tags = runs[t.number].data.tags
        assert tags["state"] == t.state.name
        assert tags["pe_type"] == t.params["pe_type"]
        assert tags["mlflow.parentRunId"] == observer.parent_run_id


def test_on_pareto_is_true_on_exactly_the_front(logged):
    study, _, _, children = logged
    front = {t.number for t in pareto_trials(study.trials, study_directions(study))}
    tagged = {int(r.data.tags["trial_number"]) for r in children if r.data.tags["on_pareto"] == "true"}
    assert front and tagged == front


SEQUENCE = [  # (accuracy, energy_j, area_mm2): the 2nd dominates the 1st, the 4th dominates all
    (0.50, 5e-3, 5.0), (0.60, 4e-3, 4.0), (0.70, 6e-3, 3.0), (0.65, 7e-3, 2.0), (0.80, 1e-3, 1.0),
]


def test_on_pareto_moves_as_the_study_goes_on(make_study, tracking_uri):
    study = make_study()
    observer = MlflowObserver(tracking_uri, plots=False)
    observer.on_study_start(study)
    client = MlflowClient(tracking_uri)

    def objective(trial):
        trial.suggest_categorical("pe_type", ["int8"])
        values = SEQUENCE[trial.number]
        trial.set_user_attr("metrics", dict(zip(["accuracy", "energy_j", "area_mm2"], values)))
        trial.set_user_attr("feasible", True)
        trial.set_user_attr("constraint_values", [-1.0])  # read by the fixture sampler's constraints_func
        return values

    history = []
    for _ in SEQUENCE:
        study.optimize(objective, n_trials=1, callbacks=[observer.on_trial_end])
        exp_id = client.get_experiment_by_name(study.study_name).experiment_id
        tagged = {int(r.data.tags["trial_number"]) for r in
                  client.search_runs([exp_id], "tags.on_pareto = 'true'", max_results=1000)}
        history.append(tagged)
    assert history == [{0}, {1}, {1, 2}, {1, 2, 3}, {4}]


def test_child_run_has_the_per_layer_csv(logged):
    study, _, client, children = logged
    run = _by_number(children)[0]
    path = client.download_artifacts(run.info.run_id, "per_layer.csv")
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    expected = read_record(study.trials[0]).per_layer
    assert [r["name"] for r in rows] == [r["name"] for r in expected]
    assert float(rows[1]["energy_mac_j"]) == pytest.approx(expected[1]["energy_mac_j"])


def test_parent_has_each_plot_as_png_and_self_contained_html(logged):
    from coexplore.tracking.html import page_json

    _, observer, client, _ = logged
    files = {a.path: a.file_size for a in client.list_artifacts(observer.parent_run_id, "plots")}
    for stem in ("pareto_accuracy_vs_energy_j", "pareto_energy_j_vs_area_mm2", "hypervolume", "energy_by_design",
                 "energy_per_layer", "area_by_design"):
        assert f"plots/{stem}.png" in files and f"plots/{stem}.html" in files, stem
    pages = [p for p in files if p.endswith(".html")]
    assert all(files[p] < 1_000_000 for p in pages), files
    page = Path(client.download_artifacts(observer.parent_run_id, pages[0]))
    assert not re.search(r"<script[^>]*\ssrc=", page.read_text()), "MLflow's pane runs only inline scripts"
    assert page_json(page)["data"]


def test_parent_has_config_files_with_passwords_masked(logged):
    _, observer, client, _ = logged
    text = Path(client.download_artifacts(observer.parent_run_id, "config/study/study.yaml")).read_text()
    assert "hunter2" not in text and "bob:***@db" in text
    resolved = Path(client.download_artifacts(observer.parent_run_id, "config/resolved_config.json")).read_text()
    assert "s3cret" not in resolved and "nsga2" in resolved


def test_parent_params_are_a_handful_not_the_flattened_config(logged):
    _, observer, client, _ = logged
    params = client.get_run(observer.parent_run_id).data.params
    assert set(params) <= {"objectives", "constraints", "reference_point", "sampler", "n_trials_budget"}
    assert params["sampler"] == "nsga2 (seed=0)"
    assert params["objectives"] == "accuracy (maximize), energy_j (minimize), area_mm2 (minimize)"
    assert not any("s3cret" in v for v in params.values())


def test_experiment_opens_on_the_review_view_with_a_legend(logged):
    import json

    from coexplore.tracking.review import VIEW_TAG

    study, _, client, _ = logged
    exp = client.get_experiment_by_name(study.study_name)
    view = json.loads(exp.tags[VIEW_TAG])
    assert view["orderByKey"] == "tags.`on_pareto`" and view["orderByAsc"] is False
    assert {"metrics.`accuracy`", "metrics.`energy_j`", "metrics.`area_mm2`", "tags.`on_pareto`",
            "tags.`pe_type`"} <= set(view["selectedColumns"])
    legend = exp.tags["mlflow.note.content"]
    assert "`margin_area_mm2_le_6`" in legend and "mm²" in legend


def test_parent_summary_metrics_count_trials(logged):
    study, observer, client, _ = logged
    m = client.get_run(observer.parent_run_id).data.metrics
    assert m["n_trials_complete"] == sum(t.state == TrialState.COMPLETE for t in study.trials)
    assert m["n_trials_failed"] == sum(t.state == TrialState.FAIL for t in study.trials)
    assert m["proxy_evaluations"] == sum(t.state == TrialState.COMPLETE and not read_record(t).proxy_cache_hit
                                         for t in study.trials)
    assert m["best_hypervolume"] > 0
    assert m["n_pareto"] == len(pareto_trials(study.trials, study_directions(study)))


def test_parent_run_is_finished_after_study_end(logged):
    _, observer, client, _ = logged
    assert client.get_run(observer.parent_run_id).info.status == "FINISHED"


def test_unreachable_tracking_server_turns_tracking_off_fast(make_study):
    from coexplore.tracking.observer import TrackingUnavailable
    from coexplore.tracking.ui import free_port

    study = make_study()
    observer = MlflowObserver(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TrackingUnavailable, match="did not answer"):
        observer.on_study_start(study)
    assert observer.disabled
    drive(study, None, 1)
    observer.on_trial_end(study, study.trials[0])  # returns at once: no retries against a dead server
    observer.on_study_end(study)
    assert observer.trial_log_seconds == []


def _front(study) -> set[int]:
    return {t.number for t in pareto_trials(study.trials, study_directions(study))}


def _tagged(client, study) -> dict[int, str]:
    exp_id = client.get_experiment_by_name(study.study_name).experiment_id
    return {int(r.data.tags["trial_number"]): r.data.tags["on_pareto"]
            for r in client.search_runs([exp_id], "tags.`coexplore.role` = 'trial'", max_results=1000)}


def test_on_pareto_is_exact_after_every_trial_of_one_worker(make_study, tracking_uri):
    from tests.tracking.conftest import _objective

    study = make_study()
    observer = MlflowObserver(tracking_uri, plots=False)
    observer.on_study_start(study)
    client = MlflowClient(tracking_uri)
    for k in range(N_TRIALS):
        study.optimize(_objective, n_trials=1, callbacks=[observer.on_trial_end], catch=(RuntimeError,))
        tagged = {n for n, v in _tagged(client, study).items() if v == "true"}
        assert tagged == _front(study), f"after trial {k}"


def test_new_run_on_pareto_counts_the_other_workers_trials(make_study, tracking_uri):
    from tests.tracking.conftest import _objective

    study = make_study()
    a, b = MlflowObserver(tracking_uri, plots=False), MlflowObserver(tracking_uri, plots=False)
    a.on_study_start(study)
    b.on_study_start(study)
    client = MlflowClient(tracking_uri)
    for k in range(N_TRIALS):
        study.optimize(_objective, n_trials=1, callbacks=[(a, b)[k % 2].on_trial_end], catch=(RuntimeError,))
        assert _tagged(client, study)[k] == ("true" if k in _front(study) else "false"), f"trial {k}"


def test_workers_ending_together_draw_the_plots_once(make_study, tracking_uri, monkeypatch):
    drawn = []
    monkeypatch.setattr("coexplore.tracking.observer.log_plots", lambda study, view, runs: drawn.append(len(view.trials)))
    study = make_study()
    drive(study, MlflowObserver(tracking_uri), 3)
    other = MlflowObserver(tracking_uri)  # a second worker that ends on the same finished trials
    other.on_study_start(study)
    other.on_study_end(study)
    assert drawn == [3]
    drive(study, MlflowObserver(tracking_uri), 1)
    assert drawn == [3, 4], "a new finished trial is drawn again"
