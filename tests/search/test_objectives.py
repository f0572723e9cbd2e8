"""Objectives files: metric registry, directions, constraints and the reference point."""

from __future__ import annotations

from pathlib import Path

import pytest

from coexplore.record import METRICS, compute_metrics
from coexplore.search.configio import ConfigError
from coexplore.search.objectives import load_objectives, parse_constraint, parse_objectives

ROOT = Path(__file__).resolve().parents[2]


def test_direction_defaults_to_the_metrics_natural_direction():
    cfg = parse_objectives({"objectives": ["accuracy", "energy_mj"], "reference_point": {"accuracy": 0, "energy_mj": 1}})
    assert cfg.directions == ["maximize", "minimize"]


def test_unknown_metric_lists_the_allowed_ones():
    with pytest.raises(ConfigError) as exc:
        parse_objectives({"objectives": ["acuracy"], "reference_point": {"acuracy": 0}})
    assert "unknown metric 'acuracy'" in exc.value.lines[0] and "tops_per_w" in exc.value.lines[0]


def test_reference_point_must_cover_every_objective():
    with pytest.raises(ConfigError, match="reference_point"):
        parse_objectives({"objectives": ["accuracy", "edp"], "reference_point": {"accuracy": 0}})


def test_constraint_violation_is_positive_only_when_violated():
    le, ge = parse_constraint("area_mm2 <= 4"), parse_constraint("tops_per_w >= 2")
    assert le.violation({"area_mm2": 3.0}) < 0 < le.violation({"area_mm2": 5.0})
    assert ge.violation({"tops_per_w": 3.0}) < 0 < ge.violation({"tops_per_w": 1.0})


def test_malformed_constraint_says_the_expected_form():
    with pytest.raises(ValueError, match="expected '<metric> <= <number>'"):
        parse_constraint("area_mm2 < four")


def test_metric_units_convert_from_raw_totals():
    m = compute_metrics({"accuracy": 0.9, "baseline_accuracy": 0.92, "energy_j": 2e-3, "latency_s": 5e-3, "area_mm2": 1,
                         "edp": 1e-5, "power_w": 0.4, "gops_per_mm2": 10, "tops_per_w": 1})
    assert m["energy_mj"] == pytest.approx(2.0) and m["latency_ms"] == pytest.approx(5.0)
    assert m["accuracy_drop"] == pytest.approx(2.0)
    assert set(m) == set(METRICS)


@pytest.mark.parametrize("name", ["accuracy-energy-area.yaml", "accuracy-perf-per-area.yaml"])
def test_shipped_objectives_files_load(name):
    assert load_objectives(ROOT / "objectives" / name).reference
