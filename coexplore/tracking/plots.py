"""Review plots of a study, each as a static PNG (matplotlib) and an interactive plotly figure.

Pareto front (2-D projection for each pair of objectives, PE type as colour, infeasible greyed),
hypervolume over trials, per-layer energy breakdown and area breakdown of the front's designs, and
parameter importance when Optuna can compute it. PNGs use matplotlib's object API (no pyplot
state, no display); the interactive figures go into one offline HTML page with plotly.js inlined
once (kaleido is not used: it needs a browser download).
"""

from __future__ import annotations

import html as _html
import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from optuna.trial import TrialState

from coexplore.hardware.design import PE_TYPES
from coexplore.record.front import is_feasible, non_dominated_mask
from coexplore.tracking.entities import flatten_breakdowns

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

    from coexplore.tracking.summary import StudyView

log = logging.getLogger(__name__)

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_INFEASIBLE = "#b0b0b0"
_ENERGY_COMPONENT = re.compile(r"^energy_(.+)_j$")
_AREA_COMPONENT = re.compile(r"^area_(.+)_mm2$")
MAX_BREAKDOWN_DESIGNS = 8
MIN_TRIALS_FOR_IMPORTANCE = 8


@dataclass
class Plot:
    """One plot: a file stem, a title, the matplotlib figure and the plotly figure."""

    name: str
    title: str
    png: Figure
    html: go.Figure


def pe_colour(pe_type: str) -> str:
    """A stable colour per PE type (known types first, others after)."""
    names = list(PE_TYPES) + ["cim"]
    idx = names.index(pe_type) if pe_type in names else len(names) + sum(map(ord, pe_type))
    return _PALETTE[idx % len(_PALETTE)]


def _label(view: StudyView, i: int) -> str:
    return f"{view.objectives[i]} ({'max' if view.directions[i] == 'maximize' else 'min'})"


def pareto_plot(view: StudyView) -> Plot | None:
    """2-D projections of the objectives, one panel per pair; front marked, infeasible grey."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    done = [t for t in view.trials if t.state == TrialState.COMPLETE and t.values is not None]
    m = len(view.directions)
    if m < 2 or not done:
        return None
    pairs = list(itertools.combinations(range(m), 2))
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    front = view.front_numbers()
    feasible = [t for t in done if is_feasible(t)]
    infeasible = [t for t in done if not is_feasible(t)]
    pes = sorted({view.pe_type(t) for t in feasible})
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    pfig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{view.objectives[a]} vs {view.objectives[b]}"
                                                                 for a, b in pairs])
    for k, (a, b) in enumerate(pairs):
        ax, r, c = axes[k], k // cols + 1, k % cols + 1
        if infeasible:
            xy = np.array([(t.values[a], t.values[b]) for t in infeasible])
            ax.scatter(xy[:, 0], xy[:, 1], c=_INFEASIBLE, marker="x", s=14, label="infeasible")
            pfig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name="infeasible",
                                      legendgroup="infeasible", showlegend=k == 0,
                                      marker={"color": _INFEASIBLE, "symbol": "x", "size": 6},
                                      text=[f"trial {t.number}" for t in infeasible]), row=r, col=c)
        for pe in pes:
            group = [t for t in feasible if view.pe_type(t) == pe]
            xy = np.array([(t.values[a], t.values[b]) for t in group])
            on = np.array([t.number in front for t in group])
            ax.scatter(xy[:, 0], xy[:, 1], c=pe_colour(pe), s=np.where(on, 40, 16),
                       edgecolors=np.where(on, "black", "none").tolist(), linewidths=0.8, label=pe)
            pfig.add_trace(go.Scatter(
                x=xy[:, 0], y=xy[:, 1], mode="markers", name=pe, legendgroup=pe, showlegend=k == 0,
                marker={"color": pe_colour(pe), "size": np.where(on, 11, 7).tolist(),
                            "line": {"color": "black", "width": np.where(on, 1.5, 0).tolist()}},
                text=[f"trial {t.number}{' (Pareto)' if t.number in front else ''}<br>" +
                      "<br>".join(f"{p}={v}" for p, v in t.params.items()) for t in group],
                hovertemplate="%{text}<br>x=%{x:.4g}<br>y=%{y:.4g}<extra></extra>"), row=r, col=c)
        if feasible:
            xy = np.array([(t.values[a], t.values[b]) for t in feasible])
            nd = xy[non_dominated_mask(xy, [view.directions[a], view.directions[b]])]
            nd = nd[np.argsort(nd[:, 0])]
            ax.step(nd[:, 0], nd[:, 1], where="post", color="black", lw=0.8, alpha=0.6)
            pfig.add_trace(go.Scatter(x=nd[:, 0], y=nd[:, 1], mode="lines", line={"shape": "hv", "color": "black",
                                      "width": 1}, name="2-D front", legendgroup="front2d", showlegend=k == 0,
                                      hoverinfo="skip"), row=r, col=c)
        ax.set_xlabel(_label(view, a))
        ax.set_ylabel(_label(view, b))
        pfig.update_xaxes(title_text=_label(view, a), row=r, col=c)
        pfig.update_yaxes(title_text=_label(view, b), row=r, col=c)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, title="PE type (front: black edge)", title_fontsize=7)
    fig.suptitle(f"{view.name}: Pareto front projections")
    pfig.update_layout(title=f"{view.name}: Pareto front projections (front: outlined)", height=420 * rows)
    return Plot("pareto_front", "Pareto front", fig, pfig)


def hypervolume_plot(view: StudyView) -> Plot | None:
    """Hypervolume of the feasible front after each finished trial (needs a reference point)."""
    import plotly.graph_objects as go

    if view.reference_point is None or not any(t.state.is_finished() for t in view.trials):
        return None
    hist = np.array(view.hypervolume_by_trial, dtype=float)
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.step(hist[:, 0], hist[:, 1], where="post", color=_PALETTE[0])
    ax.set_xlabel("trial number")
    ax.set_ylabel("hypervolume")
    ax.set_title(f"{view.name}: hypervolume (reference {view.reference_point})", fontsize=9)
    pfig = go.Figure(go.Scatter(x=hist[:, 0], y=hist[:, 1], mode="lines+markers", line={"shape": "hv"}))
    pfig.update_layout(title=f"{view.name}: hypervolume over trials", xaxis_title="trial number",
                       yaxis_title="hypervolume")
    return Plot("hypervolume", "Hypervolume over trials", fig, pfig)


def _front_sample(view: StudyView) -> list:
    front = sorted(view.front, key=lambda t: t.values[0])
    if len(front) <= MAX_BREAKDOWN_DESIGNS:
        return front
    idx = np.unique(np.linspace(0, len(front) - 1, MAX_BREAKDOWN_DESIGNS).round().astype(int))
    return [front[i] for i in idx]


_COMPONENTS = ["mac", "spad", "noc", "glb", "dram", "leakage", "pe_array", "spads", "adc", "total"]


def _component_colour(name: str) -> str:
    """The same colour for a component in every panel and plot."""
    idx = _COMPONENTS.index(name) if name in _COMPONENTS else len(_COMPONENTS) + sum(map(ord, name))
    return _PALETTE[idx % len(_PALETTE)]


def _stacked(ax, pfig, x: list[str], parts: dict[str, list[float]], cell: tuple[int, int] | None, first: bool,
             **kw) -> None:
    """Stacked bars of ``parts`` (component -> one value per x) on ``ax`` and in ``pfig`` (at ``cell``)."""
    import plotly.graph_objects as go

    bottom = np.zeros(len(x))
    for comp, vals in parts.items():
        colour = _component_colour(comp)
        ax.bar(x, vals, bottom=bottom, color=colour, label=comp, **kw)
        bottom += np.asarray(vals)
        trace = go.Bar(x=x, y=vals, name=comp, legendgroup=comp, showlegend=first, marker_color=colour)
        if cell:
            pfig.add_trace(trace, row=cell[0], col=cell[1])
        else:
            pfig.add_trace(trace)


def energy_breakdown_plot(view: StudyView) -> Plot | None:
    """Per-layer energy of the front's designs (up to 8), stacked by component, one panel each."""
    from plotly.subplots import make_subplots

    designs = [t for t in _front_sample(view) if view.record(t) is not None and view.record(t).per_layer]
    if not designs:
        return None
    cols = 2 if len(designs) > 3 else 1
    nrows = -(-len(designs) // cols)
    fig = Figure(figsize=(7 * cols, 2.6 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax in axes[len(designs):]:
        ax.set_visible(False)
    titles = [f"trial {t.number} ({view.pe_type(t)})" for t in designs]
    pfig = make_subplots(rows=nrows, cols=cols, subplot_titles=titles)
    for i, t in enumerate(designs):
        rows = [flatten_breakdowns(r) for r in view.record(t).per_layer]
        names = [str(r.get("name", k)) for k, r in enumerate(rows)]
        comps = [c for c in rows[0] if _ENERGY_COMPONENT.match(str(c))]
        if comps:
            parts = {_ENERGY_COMPONENT.match(c).group(1): [float(r.get(c) or 0.0) for r in rows] for c in comps}
        else:
            parts = {"total": [float(r.get("energy_j") or 0.0) for r in rows]}
        _stacked(axes[i], pfig, names, parts, (i // cols + 1, i % cols + 1), i == 0)
        axes[i].set_title(titles[i], fontsize=9)
        axes[i].set_ylabel("energy (J)")
        axes[i].tick_params(axis="x", labelrotation=90, labelsize=6)
    axes[0].legend(fontsize=7, ncols=min(6, len(parts)))
    fig.suptitle(f"{view.name}: per-layer energy of Pareto designs")
    pfig.update_layout(barmode="stack", height=280 * nrows + 120,
                       title=f"{view.name}: per-layer energy of Pareto designs (J)")
    return Plot("energy_breakdown", "Per-layer energy breakdown", fig, pfig)


def area_breakdown_plot(view: StudyView) -> Plot | None:
    """Area of each front design split by component (metrics ``area_<component>_mm2``)."""
    import plotly.graph_objects as go

    designs = sorted(view.front, key=lambda t: t.values[0])
    metrics = [view.record(t).metrics if view.record(t) is not None else {} for t in designs]
    comps = sorted({k for m in metrics for k in m if _AREA_COMPONENT.match(k)})
    if not designs or not comps:
        return None
    x = [f"#{t.number} {view.pe_type(t)}" for t in designs]
    parts = {_AREA_COMPONENT.match(c).group(1): [float(m.get(c, 0.0)) for m in metrics] for c in comps}
    fig = Figure(figsize=(max(5.0, 0.5 * len(designs) + 2), 3.8), layout="constrained")
    ax = fig.subplots()
    pfig = go.Figure()
    _stacked(ax, pfig, x, parts, None, True)
    ax.set_ylabel("area (mm²)")
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title(f"{view.name}: area of Pareto designs", fontsize=9)
    pfig.update_layout(barmode="stack", title=f"{view.name}: area of Pareto designs (mm²)",
                       xaxis_title="trial (PE type)", yaxis_title="area (mm²)")
    return Plot("area_breakdown", "Area breakdown", fig, pfig)


def importance_plot(study: optuna.Study, view: StudyView) -> Plot | None:
    """fANOVA parameter importance per objective; None below 8 complete trials or when Optuna
    cannot compute it (e.g. a parameter that never varies)."""
    import optuna
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    done = [t for t in view.trials if t.state == TrialState.COMPLETE and t.values is not None]
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        return None  # Optuna answers even for one trial (uniform shares); that would mislead
    per_obj: dict[str, dict[str, float]] = {}
    for i, name in enumerate(view.objectives):
        try:
            imp = optuna.importance.get_param_importances(
                study, target=lambda t, i=i: t.values[i],
                evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
        except Exception as exc:  # noqa: BLE001 - too few trials, constant params, conditional spaces
            log.info("parameter importance for %s skipped: %s", name, exc)
            continue
        if imp:
            per_obj[name] = dict(imp)
    if not per_obj:
        return None
    n = len(per_obj)
    fig = Figure(figsize=(4.2 * n, 0.25 * max(len(v) for v in per_obj.values()) + 1.5), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False).ravel()
    pfig = make_subplots(rows=1, cols=n, subplot_titles=list(per_obj))
    for k, (name, imp) in enumerate(per_obj.items()):
        keys = list(imp)[::-1]
        axes[k].barh(keys, [imp[p] for p in keys], color=_PALETTE[k % len(_PALETTE)])
        axes[k].set_title(name, fontsize=9)
        axes[k].tick_params(axis="y", labelsize=7)
        pfig.add_trace(go.Bar(x=[imp[p] for p in keys], y=keys, orientation="h", name=name), row=1, col=k + 1)
    fig.suptitle(f"{view.name}: parameter importance (fANOVA)")
    pfig.update_layout(title=f"{view.name}: parameter importance (fANOVA)", showlegend=False)
    return Plot("param_importance", "Parameter importance", fig, pfig)


def build_plots(study: optuna.Study, view: StudyView) -> list[Plot]:
    """Every plot that the study's data allows (a plot that fails is logged and skipped)."""
    builders: list[Callable[[], Plot | None]] = [
        lambda: pareto_plot(view), lambda: hypervolume_plot(view), lambda: energy_breakdown_plot(view),
        lambda: area_breakdown_plot(view), lambda: importance_plot(study, view),
    ]
    plots = []
    for build in builders:
        try:
            plot = build()
        except Exception:
            log.warning("a review plot failed; continuing without it", exc_info=True)
            continue
        if plot is not None:
            plots.append(plot)
    return plots


def write_plots(plots: list[Plot], out_dir: Path, title: str) -> list[Path]:
    """Write ``<name>.png`` per plot and one offline ``report.html`` with all interactive figures."""
    import plotly.io as pio

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in plots:
        path = out_dir / f"{p.name}.png"
        p.png.savefig(path, dpi=110)
        paths.append(path)
    if plots:
        body = []
        for k, p in enumerate(plots):
            body.append(f"<h2>{_html.escape(p.title)}</h2>")
            body.append(pio.to_html(p.html, full_html=False, include_plotlyjs=k == 0))
        t = _html.escape(title)
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{t}</title></head>"
                f"<body style='font-family:sans-serif'><h1>{t}</h1>{''.join(body)}</body></html>")
        path = out_dir / "report.html"
        path.write_text(page, encoding="utf-8")
        paths.append(path)
    return paths
