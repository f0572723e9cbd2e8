"""Adding a PE type is one registry line: design points, the PPA model, quantizers, spaces and a
whole study then know it."""

from __future__ import annotations

import pytest
import yaml

from coexplore import api
from coexplore.hardware import DesignPoint, PEType, pe_type_names, register_pe_type
from coexplore.hardware.pe import PE_TYPE_REGISTRY, IntMAC
from coexplore.quant import layer_spec
from coexplore.record import read_record
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.study_config import load_study
from tests.search.doubles import FakeProxy, workload


@pytest.fixture
def int6(monkeypatch):
    """A PE type no module of coexplore names, registered for this test only."""
    monkeypatch.setitem(PE_TYPE_REGISTRY, "int6", None)  # the test's undo removes the entry again
    return register_pe_type(PEType("int6", IntMAC(), (6, 6), "uniform", integer=True))


def test_a_registered_pe_type_is_a_design_point_a_plan_and_unknown_ones_are_refused(int6):
    assert "int6" in pe_type_names()
    assert (DesignPoint(pe_type="int6").weight_bits, DesignPoint(pe_type="int6").act_bits) == (6, 6)
    assert layer_spec("int6", "conv", 6, 6).weight_scheme == "uniform"
    with pytest.raises(ValueError, match="more than a int6 PE holds"):
        DesignPoint(pe_type="int6", weight_bits=8)
    with pytest.raises(ValueError, match="allowed: .*int6"):
        DesignPoint(pe_type="int7")


def test_a_study_searches_a_registered_pe_type_end_to_end(tmp_path, int6):
    study = {"name": "pe", "dataset": "digits", "n_trials": 6, "sampler": {"name": "random"}, "tracking": False,
             "space": {"hardware": {"pe_rows": {"type": "int", "low": 4, "high": 16, "step": 4}},
                       "model": {"pe_type": ["int8", "int6"], "weight_bits": {"choices": [4, 8]}}},
             "objectives": {"objectives": ["accuracy", "energy_mj", "area_mm2"],
                            "reference_point": {"accuracy": 0.0, "energy_mj": 1.0, "area_mm2": 10.0}}}
    path = tmp_path / "pe.yaml"
    path.write_text(yaml.safe_dump(study))
    cfg = load_study(path)
    evaluator = TrialEvaluator(cfg.space, cfg.objectives, FakeProxy(), workload())  # the real PPA model

    result = api.start_study(path, storage=f"sqlite:///{tmp_path / 's.db'}", tracking=False, seed=3,
                             evaluator=evaluator)

    records = [read_record(t) for t in result.study.trials]
    six = [r for r in records if r.pe_type == "int6"]
    assert six, "the sampler proposed the new PE type"
    assert all(r.feasible and r.metrics["area_mm2"] > 0 for r in six)
    assert all(max(r.effective["weight_bits"]) <= 6 for r in six), "8-bit choices clipped to what it holds"
