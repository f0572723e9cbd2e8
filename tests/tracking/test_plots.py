"""Review plots: what each one shows, and skipping where the data does not allow it."""

from __future__ import annotations

import optuna
import pytest

from coexplore.record.front import is_feasible
from coexplore.tracking.plots import (
    area_breakdown_plot,
    build_plots,
    energy_breakdown_plot,
    hypervolume_plot,
    importance_plot,
    pareto_plot,
    write_plots,
)
from coexplore.tracking.summary import StudyView
from tests.tracking.conftest import drive, driven_study, new_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return driven_study(tmp_path_factory, "plots-module", 16)


def test_pareto_plot_has_one_panel_per_objective_pair(study):
    view = StudyView.of(study)
    plot = pareto_plot(view)
    assert len(plot.png.axes) == 3  # 3 objectives: 3 pairs, one row of three
    pes = {t.params["pe_type"] for t in view.trials if t.values is not None and is_feasible(t)}
    assert {tr.name for tr in plot.html.data} - {"infeasible"} == pes | {"2-D front"}
    assert len(plot.html.layout.annotations) == 3  # one titled panel per pair


def test_pareto_plot_gives_each_pe_type_its_own_colour_and_greys_infeasible(study):
    plot = pareto_plot(StudyView.of(study))
    colours = {tr.name: tr.marker.color for tr in plot.html.data if tr.mode == "markers"}
    assert colours.pop("infeasible", "#b0b0b0") == "#b0b0b0"
    assert len(set(colours.values())) == len(colours), "two PE types share a colour"
    assert "#b0b0b0" not in colours.values()


def test_hypervolume_plot_needs_a_reference_point(study):
    view = StudyView.of(study)
    assert hypervolume_plot(view) is not None
    view.reference_point = None
    assert hypervolume_plot(view) is None


def test_energy_breakdown_stacks_the_per_layer_components(study):
    plot = energy_breakdown_plot(StudyView.of(study))
    assert {tr.name for tr in plot.html.data} == {"mac", "glb", "dram"}


def test_area_breakdown_uses_the_area_component_metrics(study):
    plot = area_breakdown_plot(StudyView.of(study))
    assert {tr.name for tr in plot.html.data} == {"pe_array", "glb", "spads"}


def test_importance_is_skipped_when_optuna_cannot_compute_it(tmp_path):
    s = new_study(f"sqlite:///{tmp_path / 's.db'}", "one-trial")
    drive(s, None, 1)
    assert importance_plot(s, StudyView.of(s)) is None


def test_single_objective_study_gets_no_pareto_plot_and_no_error(tmp_path):
    s = optuna.create_study(storage=f"sqlite:///{tmp_path / 'so.db'}")
    s.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    view = StudyView.of(s)
    assert pareto_plot(view) is None
    assert all(p.name != "pareto_front" for p in build_plots(s, view))


def test_write_plots_gives_pngs_and_one_offline_html(study, tmp_path):
    view = StudyView.of(study)
    paths = write_plots(build_plots(study, view), tmp_path, "t")
    names = {p.name for p in paths}
    assert {"pareto_front.png", "hypervolume.png", "energy_breakdown.png", "report.html"} <= names
    assert all(p.stat().st_size > 1000 for p in paths)
    assert (tmp_path / "pareto_front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
