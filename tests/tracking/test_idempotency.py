"""Exactly one run per trial whatever the order of processes: resume, repeat, race, crash.

The canonical run of each trial is the one claimed in the Optuna storage (see
``coexplore.tracking.runs``); no process ids or host names are involved.
"""

from __future__ import annotations

from collections import Counter

from mlflow import MlflowClient

from coexplore.record.front import pareto_trials, study_directions
from coexplore.tracking import MlflowObserver, report_study
from coexplore.tracking.report import open_client
from coexplore.tracking.runs import RUN_CLAIM, StudyRuns
from tests.tracking.conftest import drive


def _trial_runs(tracking_uri: str, name: str) -> list:
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    return client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'", max_results=5000)


def _counts(tracking_uri: str, name: str) -> Counter:
    return Counter(int(r.data.tags["trial_number"]) for r in _trial_runs(tracking_uri, name))


def _finished(study) -> set[int]:
    return {t.number for t in study.trials if t.state.is_finished()}


def test_running_the_hooks_twice_logs_no_duplicates(make_study, tracking_uri):
    study = make_study()
    observer = MlflowObserver(tracking_uri, plots=False)
    drive(study, observer, 4)
    for t in study.trials:
        observer.on_trial_end(study, t)
    observer.on_study_start(study)
    observer.on_study_end(study)
    counts = _counts(tracking_uri, study.study_name)
    assert set(counts) == _finished(study) and set(counts.values()) == {1}


def test_resumed_process_continues_without_duplicates(make_study, tracking_uri):
    study = make_study()
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)  # a new process: a new observer
    counts = _counts(tracking_uri, study.study_name)
    assert len(study.trials) == 6
    assert set(counts) == _finished(study) and set(counts.values()) == {1}


def test_trials_finished_without_tracking_are_logged_on_resume(make_study, tracking_uri):
    study = make_study()
    drive(study, None, 5)  # e.g. a worker that crashed before logging, or ran with tracking off
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)
    counts = _counts(tracking_uri, study.study_name)
    assert set(counts) == _finished(study) and set(counts.values()) == {1}


def test_one_parent_run_per_study_across_processes(make_study, tracking_uri):
    study = make_study()
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)
    report_study(study, tracking_uri, plots=False)
    runs = StudyRuns(open_client(tracking_uri), study, tracking_uri)
    parents = runs.search("tags.`coexplore.role` = 'study'")
    assert [r.info.run_id for r in parents] == [runs.parent_run_id]


def test_every_finished_trial_has_its_run_claimed_in_the_study_storage(make_study, tracking_uri):
    study = make_study()
    drive(study, MlflowObserver(tracking_uri, plots=False), 4)
    claims = {int(k[len(RUN_CLAIM):]): v for k, v in study.user_attrs.items() if k.startswith(RUN_CLAIM)}
    live = {int(r.data.tags["trial_number"]): r.info.run_id for r in _trial_runs(tracking_uri, study.study_name)}
    assert claims == live and set(claims) == _finished(study)


def test_a_writer_that_loses_the_claim_deletes_its_own_run(make_study, tracking_uri):
    study = make_study()
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)
    claimed = study.user_attrs[f"{RUN_CLAIM}0"]
    writer_b = StudyRuns(open_client(tracking_uri), study, tracking_uri)  # another machine
    assert writer_b.log_trial(study.trials[0], ["accuracy", "energy_j", "area_mm2"], False) == (claimed, False)
    # a writer that wrote before it saw the claim: its run goes, the claimed one stays
    late = writer_b._write_trial(study.trials[0], ["accuracy", "energy_j", "area_mm2"], False)
    assert writer_b._claim(f"{RUN_CLAIM}0", late) == claimed
    survivors = [r.info.run_id for r in _trial_runs(tracking_uri, study.study_name) if r.data.tags["trial_number"] == "0"]
    assert survivors == [claimed]


def test_finished_duplicates_left_by_a_race_are_removed_by_report(make_study, tracking_uri):
    study = make_study()
    drive(study, MlflowObserver(tracking_uri, plots=False), 3)
    writer = StudyRuns(open_client(tracking_uri), study, tracking_uri)
    writer._write_trial(study.trials[1], ["accuracy", "energy_j", "area_mm2"], False)  # bypasses every check
    assert _counts(tracking_uri, study.study_name)[1] == 2
    rep = report_study(study, tracking_uri, plots=False)
    assert rep.counts.removed == 1
    assert set(_counts(tracking_uri, study.study_name).values()) == {1}
    assert {r.info.run_id for r in _trial_runs(tracking_uri, study.study_name)
            if r.data.tags["trial_number"] == "1"} == {study.user_attrs[f"{RUN_CLAIM}1"]}


def test_a_run_left_half_written_by_a_killed_writer_is_replaced(make_study, tracking_uri):
    study = make_study()
    drive(study, None, 2)
    client = open_client(tracking_uri)
    runs = StudyRuns(client, study, tracking_uri)
    half = client.create_run(runs.experiment_id, tags={"coexplore.role": "trial", "trial_number": "0"})  # killed
    MlflowObserver(tracking_uri, plots=False).on_study_start(study)
    live = _trial_runs(tracking_uri, study.study_name)
    assert half.info.run_id not in {r.info.run_id for r in live}
    assert Counter(int(r.data.tags["trial_number"]) for r in live) == {0: 1, 1: 1}
    assert all(r.data.metrics for r in live)


def test_on_pareto_is_exact_after_a_resume(make_study, tracking_uri):
    study = make_study()
    drive(study, MlflowObserver(tracking_uri, plots=False), 5)
    drive(study, MlflowObserver(tracking_uri, plots=False), 5)
    front = {t.number for t in pareto_trials(study.trials, study_directions(study))}
    tagged = {int(r.data.tags["trial_number"]) for r in _trial_runs(tracking_uri, study.study_name)
              if r.data.tags["on_pareto"] == "true"}
    assert tagged == front


def test_two_writers_racing_on_one_trial_converge_to_the_claimed_run(make_study, tracking_uri):
    import threading

    study = make_study()
    drive(study, None, 1)
    writers = [StudyRuns(open_client(tracking_uri), study, tracking_uri) for _ in range(2)]
    writers[0].parent_run_id  # noqa: B018 - create the parent before the race, as on_study_start does
    barrier = threading.Barrier(2)

    def log(w: StudyRuns) -> None:
        barrier.wait()
        w.log_trial(study.trials[0], ["accuracy", "energy_j", "area_mm2"], True)

    threads = [threading.Thread(target=log, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    report_study(study, tracking_uri, plots=False)  # what every study end does
    live = _trial_runs(tracking_uri, study.study_name)
    assert [r.info.run_id for r in live] == [study.user_attrs[f"{RUN_CLAIM}0"]]


def test_two_workers_interleaving_end_with_exact_tags_and_one_run_each(make_study, tracking_uri):
    from tests.tracking.conftest import _objective

    study = make_study()
    a, b = MlflowObserver(tracking_uri, plots=False), MlflowObserver(tracking_uri, plots=False)
    a.on_study_start(study)
    b.on_study_start(study)
    for k in range(8):
        observer = (a, b)[k % 2]
        study.optimize(_objective, n_trials=1, callbacks=[observer.on_trial_end], catch=(RuntimeError,))
    a.on_study_end(study)
    b.on_study_end(study)
    counts = _counts(tracking_uri, study.study_name)
    assert set(counts) == _finished(study) and set(counts.values()) == {1}
    front = {t.number for t in pareto_trials(study.trials, study_directions(study))}
    tagged = {int(r.data.tags["trial_number"]) for r in _trial_runs(tracking_uri, study.study_name)
              if r.data.tags["on_pareto"] == "true"}
    assert tagged == front
