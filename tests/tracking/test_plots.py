"""Review plots: what each one shows, in readable units, and skipping where the data does not allow it."""

from __future__ import annotations

import itertools

import optuna
import pytest

from coexplore.record.front import is_feasible
from coexplore.tracking.html import page_json
from coexplore.tracking.plots import (
    MAX_LAYER_PANELS,
    area_plot,
    build_plots,
    energy_by_design_plot,
    energy_per_layer_plot,
    hypervolume_plot,
    importance_plot,
    pareto_pair_plot,
    write_plots,
)
from coexplore.tracking.summary import StudyView
from coexplore.tracking.units import display_unit, sig
from tests.tracking.conftest import drive, driven_study, new_study

MAX_PAGE_BYTES = 1_000_000


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return driven_study(tmp_path_factory, "plots-module", 24)


@pytest.fixture(scope="module")
def written(study, tmp_path_factory):
    view = StudyView.of(study)
    return write_plots(build_plots(study, view), tmp_path_factory.mktemp("plots"))


def test_one_pareto_plot_per_pair_of_objectives(study):
    view = StudyView.of(study)
    names = [p.name for p in build_plots(study, view) if p.name.startswith("pareto_")]
    assert names == [f"pareto_{a}_vs_{b}" for a, b in itertools.combinations(view.objectives, 2)]


def test_pareto_plot_gives_each_pe_type_its_own_colour_and_greys_infeasible(study):
    view = StudyView.of(study)
    plot = pareto_pair_plot(view, 0, 1)
    pes = {view.pe_type(t) for t in view.trials if t.values is not None and is_feasible(t)}
    colours = {tr.name: tr.marker.color for tr in plot.html.data if tr.mode == "markers"}
    assert colours.pop("infeasible", "#b0b0b0") == "#b0b0b0"
    assert set(colours) == pes
    assert len(set(colours.values())) == len(colours), "two PE types share a colour"


def test_pareto_axes_say_unit_and_direction_scaled_for_reading(study):
    view = StudyView.of(study)
    plot = pareto_pair_plot(view, 0, 1)  # accuracy (fraction) vs energy_j (~1e-5 J)
    ax = plot.png.axes[0]
    assert ax.get_xlabel() == "accuracy (%), higher is better"
    assert ax.get_ylabel().startswith("energy per inference (µJ)") and "lower is better" in ax.get_ylabel()
    xs = [x for tr in plot.html.data if tr.mode == "markers" for x in tr.x]
    assert 1 < max(xs) <= 100, "accuracy shown in percent"


def test_display_units_pick_a_prefix_that_reads_at_a_glance():
    assert display_unit("energy_mj", [0.00125, 0.002]).unit == "µJ"
    assert display_unit("energy_j", [3e-3]).unit == "mJ"
    assert display_unit("latency_ms", [0.0215]).unit == "µs"
    assert display_unit("area_mm2", [0.5]).title() == "chip area (mm²)"
    assert display_unit("accuracy", [0.98]).format(0.98401) == "98.40"
    assert [sig(v) for v in (0.98400556, 1169.56, 2.0)] == ["0.9840", "1170", "2.000"]


def test_every_front_design_is_in_the_energy_and_area_bars(study):
    view = StudyView.of(study)
    for plot in (energy_by_design_plot(view), area_plot(view)):
        for trace in plot.html.data:
            assert len(trace.x) == len(view.front), f"{plot.name}: a front design is missing"


def test_energy_bars_stack_the_components_and_area_bars_the_area_parts(study):
    view = StudyView.of(study)
    assert {tr.name for tr in energy_by_design_plot(view).html.data} == {"mac", "glb", "dram"}
    assert {tr.name for tr in area_plot(view).html.data} == {"pe_array", "glb", "spads"}


def test_per_layer_energy_panels_share_one_y_scale_and_legend_sits_outside(study):
    plot = energy_per_layer_plot(StudyView.of(study))
    visible = [ax for ax in plot.png.axes if ax.get_visible()]
    assert len({ax.get_ylim() for ax in visible}) == 1, "panels on different y scales"
    assert all(ax.get_legend() is None for ax in visible), "a legend inside a panel can cover bars"
    assert len(plot.png.legends) == 1


def test_per_layer_energy_names_the_layers_of_a_deep_network(tmp_path, monkeypatch):
    layers = [f"stage{i // 4}.block{i % 4}.conv" for i in range(17)]
    monkeypatch.setattr("tests.tracking.conftest.LAYERS", layers)
    s = new_study(f"sqlite:///{tmp_path / 's.db'}", "deep")
    drive(s, None, 6)
    plot = energy_per_layer_plot(StudyView.of(s))
    for ax in (ax for ax in plot.png.axes if ax.get_visible()):
        assert [tick.get_text() for tick in ax.get_xticklabels()] == layers, "a layer shown by index, not name"


def test_per_layer_energy_says_which_designs_when_the_front_is_large(study, monkeypatch):
    view = StudyView.of(study)
    monkeypatch.setattr("coexplore.tracking.plots.MAX_LAYER_PANELS", 2)
    plot = energy_per_layer_plot(view)
    if len(view.front) > 2:
        assert f"2 of {len(view.front)} Pareto-front designs" in plot.png.get_suptitle()
    assert MAX_LAYER_PANELS >= 12


def test_hypervolume_plot_needs_a_reference_point(study):
    view = StudyView.of(study)
    assert hypervolume_plot(view) is not None
    view.reference_point = None
    assert hypervolume_plot(view) is None


def test_importance_ranks_the_design_as_evaluated(study):
    plot = importance_plot(StudyView.of(study))
    ranked = {y for tr in plot.html.data for y in tr.y}
    assert ranked <= {"pe_type", "pe_rows", "pe_cols", "glb_kib"}


def test_importance_is_skipped_with_too_few_trials(tmp_path):
    s = new_study(f"sqlite:///{tmp_path / 's.db'}", "one-trial")
    drive(s, None, 1)
    assert importance_plot(StudyView.of(s)) is None


def test_single_objective_study_gets_no_pareto_plot_and_no_error(tmp_path):
    s = optuna.create_study(storage=f"sqlite:///{tmp_path / 'so.db'}")
    s.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    assert all(not p.name.startswith("pareto") for p in build_plots(s, StudyView.of(s)))


def test_each_plot_is_a_png_about_a_screen_wide_and_a_self_contained_page_under_1_mb(written):
    from PIL import Image

    pngs = [p for p in written if p.suffix == ".png"]
    pages = [p for p in written if p.suffix == ".html"]
    assert {p.stem for p in pngs} == {p.stem for p in pages}
    for p in pngs:
        width = Image.open(p).size[0]
        assert 800 <= width <= 1400, f"{p.name} is {width} px wide"
    for p in pages:
        assert p.stat().st_size < MAX_PAGE_BYTES, f"{p.name} is {p.stat().st_size} bytes"
        text = p.read_text()
        assert "<script src=" not in text, "the artifact pane runs only what a page carries inline"
        assert page_json(p)["data"], f"{p.name} holds no figure"
