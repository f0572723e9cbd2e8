"""What a reviewer reads in MLflow after a real study (real PPA model and accuracy proxy, tiny budget).

The study is built from three files, as a user writes them. Activation bits are never sampled
there (the PE type sets them), so the logged parameters must be the design as evaluated, checked
against the per-layer figures the PPA model produced.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient

from coexplore.record import read_record
from coexplore.record.trial import effective_key
from coexplore.tracking import report_study
from coexplore.tracking.entities import trial_params
from tests.search.tiny_study import TINY_OBJECTIVES, TINY_SPACE

pytestmark = pytest.mark.slow
N_TRIALS = 10
SUMMARY = ("n_trials_complete", "n_trials_failed", "n_trials_pruned", "n_trials_infeasible", "proxy_evaluations",
           "proxy_cache_hits", "n_pareto", "best_hypervolume", "hypervolume")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A tiny real study from study/space/objectives files, run with tracking on; (study, client, folder)."""
    from coexplore import api

    tmp = tmp_path_factory.mktemp("review")
    (tmp / "spaces").mkdir()
    (tmp / "objectives").mkdir()
    (tmp / "studies").mkdir()
    (tmp / "spaces" / "tiny.yaml").write_text(yaml.safe_dump(TINY_SPACE))
    (tmp / "objectives" / "tiny.yaml").write_text(yaml.safe_dump(TINY_OBJECTIVES))
    study_file = tmp / "studies" / "tiny.yaml"
    study_file.write_text(yaml.safe_dump({
        "name": "review", "dataset": "digits", "model": "digits_cnn", "space": "../spaces/tiny.yaml",
        "objectives": "../objectives/tiny.yaml", "sampler": {"name": "random"}, "n_trials": N_TRIALS, "seed": 3,
        "hardware_search": "joint", "proxy": {"pretrain_epochs": 1, "finetune_steps": 3, "threads": 1, "folds": 1},
    }, sort_keys=False))
    storage, tracking = f"sqlite:///{tmp / 'coexplore.db'}", f"sqlite:///{tmp / 'mlflow.db'}"
    api.start_study(study_file, storage=storage, tracking_uri=tracking)
    study = optuna.load_study(study_name="review", storage=storage)
    return study, MlflowClient(tracking), tracking, tmp


def _runs(client: MlflowClient, name: str):
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    trials = {int(r.data.tags["trial_number"]): r for r in runs if r.data.tags.get("coexplore.role") == "trial"}
    parent = next(r for r in runs if r.data.tags.get("coexplore.role") == "study")
    return trials, parent


def test_run_params_equal_the_values_the_ppa_model_and_proxy_used(reviewed):
    study, client, _, _ = reviewed
    trials, _ = _runs(client, "review")
    for t in study.trials:
        rec = read_record(t)
        if rec is None:
            continue
        params = trials[t.number].data.params
        assert params == trial_params(t, rec)
        assert params["pe_type"] == rec.pe_type
        layers = list(csv.DictReader(io.StringIO(
            Path(client.download_artifacts(trials[t.number].info.run_id, "per_layer.csv")).read_text())))
        for bits in ("weight_bits", "act_bits"):  # act_bits is never sampled here: the PE type sets it
            per_layer = [int(row[bits]) for row in layers]
            assert params[bits] == (str(per_layer[0]) if len(set(per_layer)) == 1 else str(per_layer)), t.number


def test_no_two_front_entries_are_the_same_evaluated_design(reviewed):
    study, client, _, _ = reviewed
    trials, _ = _runs(client, "review")
    front = [t for t in study.trials if t.number in trials and trials[t.number].data.tags["on_pareto"] == "true"]
    keys = [effective_key(read_record(t)) for t in front]
    assert front and len(keys) == len(set(keys))
    assert len({tuple(sorted(trials[t.number].data.params.items())) for t in front}) == len(front)


def test_parent_run_carries_every_file_the_study_was_built_from(reviewed):
    _, client, _, tmp = reviewed
    _, parent = _runs(client, "review")
    files = {a.path for d in ("config/study", "config/space", "config/objectives")
             for a in client.list_artifacts(parent.info.run_id, d)}
    assert files == {"config/study/tiny.yaml", "config/space/tiny.yaml", "config/objectives/tiny.yaml"}
    space = Path(client.download_artifacts(parent.info.run_id, "config/space/tiny.yaml")).read_text()
    assert space == (tmp / "spaces" / "tiny.yaml").read_text()
    resolved = json.loads(Path(client.download_artifacts(parent.info.run_id, "config/resolved_config.json"))
                          .read_text())
    assert resolved["config"]["space"]["model"]["pe_type"] == ["int8", "int4"]


def _history(client: MlflowClient, run_id: str) -> dict[str, list[tuple[int, int, float]]]:
    return {k: sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, k)) for k in SUMMARY}


def test_summary_metrics_sit_at_real_steps_without_a_fake_zero(reviewed):
    study, client, _, _ = reviewed
    _, parent = _runs(client, "review")
    history = _history(client, parent.info.run_id)
    assert all(step > 0 for step, _, _ in history["n_trials_complete"]), history["n_trials_complete"]
    assert history["n_trials_complete"][-1][::2] == (N_TRIALS, N_TRIALS)
    assert [s for s, _, _ in history["hypervolume"]] == sorted(t.number for t in study.trials
                                                                if t.state.is_finished())


def test_study_report_twice_leaves_the_metric_history_as_it_was(reviewed, tmp_path):
    study, client, tracking, _ = reviewed
    _, parent = _runs(client, "review")
    report_study(study, tracking, plots=False)
    first = _history(client, parent.info.run_id)
    report_study(study, tracking, plots=False)
    assert _history(client, parent.info.run_id) == first


def test_study_report_into_a_new_store_attaches_the_files_stored_with_the_study(reviewed, tmp_path):
    study, _, _, _ = reviewed
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    rep = report_study(study, fresh, plots=False)
    assert rep.counts.logged == N_TRIALS, "claims of runs in another store do not count"
    client = MlflowClient(fresh)
    names = {a.path for d in ("config/space", "config/objectives")
             for a in client.list_artifacts(rep.parent_run_id, d)}
    assert names == {"config/space/tiny.yaml", "config/objectives/tiny.yaml"}
