"""Adding a metric is one registry entry: a study can then optimize it and every trial records it."""

from __future__ import annotations

import pytest
import yaml
from optuna.trial import TrialState

from coexplore import api
from coexplore.record import METRICS, Metric, read_record, register_metric
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.study_config import load_study
from tests.search.doubles import FakeProxy, fake_ppa, workload

NAME = "macs_per_mm2"


@pytest.fixture
def macs_per_mm2(monkeypatch):
    """A metric no module of coexplore knows, registered for this test only."""
    monkeypatch.setitem(METRICS, NAME, None)  # the test's undo removes the entry again
    return register_metric(Metric(NAME, "MACs/mm^2", "maximize", ("macs", "area_mm2"), lambda m, a: m / a))


def test_a_registered_metric_is_an_objective_and_a_constraint_every_trial_records(tmp_path, macs_per_mm2):
    study = {"name": "m", "dataset": "digits", "n_trials": 5, "sampler": {"name": "random"}, "tracking": False,
             "hardware_search": "joint",
             "space": {"hardware": {"pe_rows": {"type": "int", "low": 2, "high": 16, "step": 2},
                                    "glb_kib": {"type": "int", "low": 32, "high": 256, "log": True}},
                       "model": {"pe_type": ["int8", "int4"]}},
             "objectives": {"objectives": ["accuracy", NAME], "constraints": [f"{NAME} >= 1"],
                            "reference_point": {"accuracy": 0.5, NAME: 0.0}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(study))
    cfg = load_study(path)
    evaluator = TrialEvaluator(cfg.space, cfg.objectives, FakeProxy(), workload(), ppa_evaluate=fake_ppa)

    result = api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False, evaluator=evaluator)

    assert result.study.metric_names == ["accuracy", NAME]
    assert result.study.directions[1].name == "MAXIMIZE", "the metric's own direction"
    trials = result.study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 5
    for t in trials:
        m = read_record(t).metrics
        assert m[NAME] == pytest.approx(m["macs"] / m["area_mm2"])
        assert t.values[1] == pytest.approx(m[NAME])
        assert t.constraints[f"{NAME} >= 1"] == pytest.approx(1 - m[NAME])
