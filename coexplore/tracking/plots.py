"""Review plots of a study, each a static PNG (matplotlib) and an interactive plotly page.

One Pareto plot per pair of objectives (PE type as colour, the front outlined and numbered,
infeasible greyed), hypervolume over trials, the energy and the area of every front design split
by component, the per-layer energy of the front's designs on one y scale, and parameter
importance over the designs as evaluated. Axes carry units scaled for reading
(:mod:`coexplore.tracking.units`). PNGs are about 900-1250 px wide and legible in MLflow's
artifact pane; each interactive page is one self-contained HTML file of about 0.5 MB that draws
in a second (:mod:`coexplore.tracking.html`).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from optuna.trial import FrozenTrial, TrialState

from coexplore.hardware.pe.registry import pe_type_names
from coexplore.record.front import is_feasible, non_dominated_mask
from coexplore.tracking.entities import flatten_breakdowns
from coexplore.tracking.html import write_page
from coexplore.tracking.importance import importances
from coexplore.tracking.units import display_unit

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

    from coexplore.tracking.summary import StudyView

__all__ = ["Plot", "build_plots", "pe_colour", "write_plots"]

log = logging.getLogger(__name__)

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_INFEASIBLE = "#b0b0b0"
_ENERGY_PART = re.compile(r"^energy_(.+)_j$")
_AREA_PART = re.compile(r"^area_(.+)_mm2$")
_COMPONENTS = ["dram", "glb", "noc", "spad", "spads", "mac", "pe", "pe_array", "leakage", "adc", "total"]
MAX_LAYER_PANELS = 15
"""The per-layer plot draws at most this many front designs (spread along the first objective)."""
MAX_LAYER_LABELS = 40
"""A per-layer panel names at most this many layers on its axis (every k-th beyond; the HTML names all)."""
DPI = 110


@dataclass
class Plot:
    """One plot: a file stem, a title, the matplotlib figure and the plotly figure."""

    name: str
    title: str
    png: Figure
    html: go.Figure


def pe_colour(pe_type: str) -> str:
    """A stable colour per PE type (known types first, others after)."""
    names = list(pe_type_names()) + ["cim", "hybrid"]
    idx = names.index(pe_type) if pe_type in names else len(names) + sum(map(ord, pe_type))
    return _PALETTE[idx % len(_PALETTE)]


def _component_colour(name: str) -> str:
    """The same colour for a component in every panel and plot."""
    idx = _COMPONENTS.index(name) if name in _COMPONENTS else len(_COMPONENTS) + sum(map(ord, name))
    return _PALETTE[idx % len(_PALETTE)]


def _ordered(parts: Sequence[str]) -> list[str]:
    return sorted(parts, key=lambda p: (_COMPONENTS.index(p) if p in _COMPONENTS else len(_COMPONENTS), p))


def _done(view: StudyView) -> list[FrozenTrial]:
    return [t for t in view.trials if t.state == TrialState.COMPLETE and t.values is not None]


def _front_best_first(view: StudyView) -> list[FrozenTrial]:
    sign = -1.0 if view.directions[0] == "maximize" else 1.0
    return sorted(view.front, key=lambda t: (sign * t.values[0], t.number))


def _legend_outside(ax) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)


def _label_points(ax, points: list[tuple[float, float, int]]) -> None:
    """``#n`` beside each point; points whose labels would overlap share one label (``#3, #8``; past
    three numbers ``#3, #8, #9 +2``: the hover text of the HTML page names every trial)."""
    ax.autoscale_view()
    placed: list[list] = []  # [x px, y px, numbers, (x, y)]
    for x, y, n in sorted(points, key=lambda p: (p[1], p[0])):
        px, py = ax.transData.transform((x, y))
        near = next((lab for lab in placed if abs(lab[0] - px) < 40 and abs(lab[1] - py) < 12), None)
        if near is not None:
            near[2].append(n)
        else:
            placed.append([px, py, [n], (x, y)])
    for _, _, numbers, xy in placed:
        numbers = sorted(numbers)
        text = ", ".join(f"#{k}" for k in numbers[:3]) + (f" +{len(numbers) - 3}" if len(numbers) > 3 else "")
        ax.annotate(text, xy, xytext=(5, 3), textcoords="offset points", fontsize=8, zorder=5)


def pareto_pair_plot(view: StudyView, a: int, b: int) -> Plot | None:
    """Objective ``a`` against objective ``b`` for every complete trial; the study's front (over all
    objectives) outlined and numbered, the pair's own trade-off curve dashed."""
    import plotly.graph_objects as go

    done = _done(view)
    if not done:
        return None
    ua = display_unit(view.objectives[a], [t.values[a] for t in done])
    ub = display_unit(view.objectives[b], [t.values[b] for t in done])
    front = view.front_numbers()
    feasible = [t for t in done if is_feasible(t)]
    infeasible = [t for t in done if not is_feasible(t)]
    fig = Figure(figsize=(8.2, 5.6), layout="constrained")
    ax = fig.subplots()
    pfig = go.Figure()

    def xy(group: list[FrozenTrial]) -> np.ndarray:
        return np.array([(t.values[a] * ua.scale, t.values[b] * ub.scale) for t in group]).reshape(-1, 2)

    def hover(t: FrozenTrial) -> str:
        rec = view.record(t)
        design = rec.effective if rec is not None and rec.effective else t.params
        return (f"trial {t.number}{' (Pareto front)' if t.number in front else ''}<br>"
                + "<br>".join(f"{k}={v}" for k, v in design.items()))

    if infeasible:
        p = xy(infeasible)
        ax.scatter(p[:, 0], p[:, 1], c=_INFEASIBLE, marker="x", s=18, label=f"infeasible ({len(infeasible)})")
        pfig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", name="infeasible",
                                  marker={"color": _INFEASIBLE, "symbol": "x", "size": 6},
                                  text=[hover(t) for t in infeasible], hovertemplate="%{text}<extra></extra>"))
    for pe in sorted({view.pe_type(t) for t in feasible}):
        group = [t for t in feasible if view.pe_type(t) == pe]
        p, on = xy(group), np.array([t.number in front for t in group])
        ax.scatter(p[~on, 0], p[~on, 1], c=pe_colour(pe), s=22, alpha=0.8, linewidths=0, label=pe, zorder=3)
        ax.scatter(p[on, 0], p[on, 1], c=pe_colour(pe), s=64, edgecolors="black", linewidths=1.2, zorder=4,
                   label=None if (~on).any() else pe)
        pfig.add_trace(go.Scatter(
            x=p[:, 0], y=p[:, 1], mode="markers", name=pe,
            marker={"color": pe_colour(pe), "size": np.where(on, 12, 7).tolist(),
                    "line": {"color": "black", "width": np.where(on, 1.5, 0).tolist()}},
            text=[hover(t) for t in group], hovertemplate="%{text}<br>x=%{x:.4g}<br>y=%{y:.4g}<extra></extra>"))
    _label_points(ax, [(*xy([t])[0], t.number) for t in feasible if t.number in front])
    if feasible:
        p = xy(feasible)
        nd = p[non_dominated_mask(p, [view.directions[a], view.directions[b]])]
        nd = nd[np.argsort(nd[:, 0])]
        ax.step(nd[:, 0], nd[:, 1], where="post", color="black", lw=0.9, ls="--", alpha=0.6,
                label="best trade-off of this pair")
        pfig.add_trace(go.Scatter(x=nd[:, 0], y=nd[:, 1], mode="lines", name="best trade-off of this pair",
                                  line={"shape": "hv", "color": "black", "width": 1, "dash": "dash"},
                                  hoverinfo="skip"))
    ax.scatter([], [], s=60, facecolors="white", edgecolors="black", linewidths=1.2,
               label=f"Pareto front, all objectives\n({len(front)} designs, #trial)")
    ax.set_xlabel(ua.axis_title(view.directions[a]), fontsize=11)
    ax.set_ylabel(ub.axis_title(view.directions[b]), fontsize=11)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    title = f"{ua.label} vs {ub.label}"
    ax.set_title(f"{view.name}: {title} ({len(done)} complete trials)", fontsize=12)
    pfig.update_layout(title=f"{view.name}: {title} (front outlined)", xaxis_title=ua.axis_title(view.directions[a]),
                       yaxis_title=ub.axis_title(view.directions[b]), height=600)
    return Plot(f"pareto_{view.objectives[a]}_vs_{view.objectives[b]}", f"Pareto front: {title}", fig, pfig)


def hypervolume_plot(view: StudyView) -> Plot | None:
    """Hypervolume of the feasible front after each finished trial (needs a reference point)."""
    import plotly.graph_objects as go

    if view.reference_point is None or not view.hypervolume_by_trial:
        return None
    hist = np.array(view.hypervolume_by_trial, dtype=float)
    ref = ", ".join(f"{n}={r:g}" for n, r in zip(view.objectives, view.reference_point))
    fig = Figure(figsize=(8.2, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.step(hist[:, 0], hist[:, 1], where="post", color=_PALETTE[0])
    ax.set_xlabel("trial number", fontsize=11)
    ax.set_ylabel("hypervolume (product of objective units)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.set_title(f"{view.name}: hypervolume of the feasible front\nreference point {ref}", fontsize=11)
    pfig = go.Figure(go.Scatter(x=hist[:, 0], y=hist[:, 1], mode="lines+markers", line={"shape": "hv"}))
    pfig.update_layout(title=f"{view.name}: hypervolume over trials (reference {ref})", xaxis_title="trial number",
                       yaxis_title="hypervolume")
    return Plot("hypervolume", "Hypervolume over trials", fig, pfig)


def _design_parts(view: StudyView, t: FrozenTrial, pattern: re.Pattern) -> dict[str, float]:
    """Component -> value of one design: the record's ``<what>_<part>_<unit>`` metrics, else (energy)
    the sum over its per-layer rows."""
    rec = view.record(t)
    parts = {pattern.match(k).group(1): float(v) for k, v in rec.metrics.items() if pattern.match(k)}
    if parts or pattern is not _ENERGY_PART:
        return parts
    for row in rec.per_layer:
        for k, v in flatten_breakdowns(row).items():
            m = pattern.match(str(k))
            if m and v is not None:
                parts[m.group(1)] = parts.get(m.group(1), 0.0) + float(v)
    return parts


def _components_plot(view: StudyView, pattern: re.Pattern, metric: str, name: str, what: str) -> Plot | None:
    """One stacked bar per front design (best first objective first) of the ``pattern`` components."""
    import plotly.graph_objects as go

    designs = [t for t in _front_best_first(view) if view.record(t) is not None]
    by_design = [_design_parts(view, t, pattern) for t in designs]
    parts = _ordered({p for d in by_design for p in d})
    if not designs or not parts:
        return None
    values = {p: np.array([d.get(p, 0.0) for d in by_design]) for p in parts}
    unit = display_unit(metric, sum(values.values()))
    many = len(designs) > 16
    x = [f"#{t.number}{' ' if many else chr(10)}{view.pe_type(t)}" for t in designs]
    fig = Figure(figsize=(min(12.0, max(7.0, 0.55 * len(designs) + 3.5)), 4.8 + (0.6 if many else 0)),
                 layout="constrained")
    ax = fig.subplots()
    pfig = go.Figure()
    bottom = np.zeros(len(designs))
    for p in parts:
        v = values[p] * unit.scale
        ax.bar(x, v, bottom=bottom, color=_component_colour(p), label=p)
        pfig.add_trace(go.Bar(x=[s.replace("\n", " ") for s in x], y=v, name=p, marker_color=_component_colour(p)))
        bottom += v
    ax.set_ylabel(unit.title(), fontsize=11)
    ax.set_xlabel(f"Pareto-front design (trial, PE type), best {view.objectives[0]} first", fontsize=10)
    ax.tick_params(axis="x", labelsize=7 if many else 8, labelrotation=90 if many else 0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(*[list(reversed(h)) for h in ax.get_legend_handles_labels()], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False, title="component")
    ax.set_title(f"{view.name}: {what} of all {len(designs)} Pareto-front designs", fontsize=12)
    pfig.update_layout(barmode="stack", title=f"{view.name}: {what} of the Pareto-front designs",
                       yaxis_title=unit.title(), xaxis_title="trial, PE type")
    return Plot(name, what[0].upper() + what[1:], fig, pfig)


def energy_by_design_plot(view: StudyView) -> Plot | None:
    """Energy per inference of every front design, stacked by component (DRAM, GLB, NoC, ...)."""
    return _components_plot(view, _ENERGY_PART, "energy_j", "energy_by_design", "energy per inference")


def area_plot(view: StudyView) -> Plot | None:
    """Chip area of every front design, stacked by component."""
    return _components_plot(view, _AREA_PART, "area_mm2", "area_by_design", "chip area")


def energy_per_layer_plot(view: StudyView) -> Plot | None:
    """Per-layer energy of the front's designs (all up to 15; else 15 spread along the first
    objective, as the title says), stacked by component, every panel on one y scale."""
    from plotly.subplots import make_subplots

    front = [t for t in _front_best_first(view) if view.record(t) is not None and view.record(t).per_layer]
    if not front:
        return None
    designs = front
    if len(front) > MAX_LAYER_PANELS:
        idx = np.unique(np.linspace(0, len(front) - 1, MAX_LAYER_PANELS).round().astype(int))
        designs = [front[i] for i in idx]
    rows_of = {t.number: [flatten_breakdowns(r) for r in view.record(t).per_layer] for t in designs}
    parts = _ordered({_ENERGY_PART.match(str(k)).group(1) for rows in rows_of.values() for k in rows[0]
                      if _ENERGY_PART.match(str(k))}) or ["total"]

    def layer_parts(rows: list[dict]) -> dict[str, np.ndarray]:
        if parts == ["total"]:
            return {"total": np.array([float(r.get("energy_j") or 0.0) for r in rows])}
        return {p: np.array([float(r.get(f"energy_{p}_j") or 0.0) for r in rows]) for p in parts}

    per_design = {n: layer_parts(rows) for n, rows in rows_of.items()}
    unit = display_unit("energy_j", [float(x) for d in per_design.values() for x in sum(d.values())])
    cols = min(3, len(designs))
    nrows = -(-len(designs) // cols)
    fig = Figure(figsize=(3.6 * cols + 0.6, 2.5 * nrows + 1.0), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False, sharey=True).ravel()
    titles = [f"#{t.number} {view.pe_type(t)}" for t in designs]
    pfig = make_subplots(rows=nrows, cols=cols, subplot_titles=titles, shared_yaxes="all")
    import plotly.graph_objects as go

    for i, t in enumerate(designs):
        names = [str(r.get("name", k)) for k, r in enumerate(rows_of[t.number])]
        many = len(names) > 10
        x = np.arange(len(names))
        bottom = np.zeros(len(names))
        for p, v in per_design[t.number].items():
            axes[i].bar(x, v * unit.scale, bottom=bottom, color=_component_colour(p), label=p if i == 0 else None)
            bottom += v * unit.scale
            pfig.add_trace(go.Bar(x=names, y=v * unit.scale, name=p, legendgroup=p, showlegend=i == 0,
                                  marker_color=_component_colour(p)), row=i // cols + 1, col=i % cols + 1)
        ticks = x[:: -(-len(x) // MAX_LAYER_LABELS)]  # every layer up to the limit, else every k-th
        axes[i].set_xticks(ticks)
        axes[i].set_xticklabels([names[k] for k in ticks], rotation=90 if many else 30,
                                ha="center" if many else "right", fontsize=6 if many else 8)
        axes[i].set_title(titles[i], fontsize=10)
        axes[i].grid(axis="y", alpha=0.3)
        if i % cols == 0:
            axes[i].set_ylabel(unit.title(), fontsize=9)
    for ax in axes[len(designs):]:
        ax.set_visible(False)
    shown = (f"all {len(front)} Pareto-front designs" if len(designs) == len(front) else
             f"{len(designs)} of {len(front)} Pareto-front designs, spread along {view.objectives[0]} "
             f"(all are in energy_by_design.png)")
    fig.suptitle(f"{view.name}: energy per layer, {shown}; one y scale", fontsize=11)
    fig.legend(loc="outside lower center", ncols=len(parts), fontsize=9, frameon=False)
    pfig.update_layout(barmode="stack", height=260 * nrows + 140,
                       title=f"{view.name}: energy per layer ({unit.unit}), {shown}")
    return Plot("energy_per_layer", "Energy per layer", fig, pfig)


def importance_plot(view: StudyView) -> Plot | None:
    """fANOVA importance of each design parameter (as evaluated) per objective."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    result = importances(view)
    if result is None:
        return None
    per_obj, note = result
    n = len(per_obj)
    longest = max(len(v) for v in per_obj.values())
    fig = Figure(figsize=(max(8.2, 3.2 * n), 0.3 * longest + 1.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False).ravel()
    pfig = make_subplots(rows=1, cols=n, subplot_titles=list(per_obj))
    for k, (name, imp) in enumerate(per_obj.items()):
        keys = list(imp)[::-1]
        axes[k].barh(keys, [imp[p] for p in keys], color=_PALETTE[k % len(_PALETTE)])
        axes[k].set_title(name, fontsize=10)
        axes[k].set_xlim(0, 1)
        axes[k].set_xlabel("share of variance", fontsize=9)
        axes[k].tick_params(axis="y", labelsize=9)
        pfig.add_trace(go.Bar(x=[imp[p] for p in keys], y=keys, orientation="h", name=name), row=1, col=k + 1)
    fig.suptitle(f"{view.name}: parameter importance (fANOVA over the designs as evaluated)\n{note}", fontsize=10)
    pfig.update_layout(title=f"{view.name}: parameter importance (fANOVA). {note}", showlegend=False)
    return Plot("param_importance", "Parameter importance", fig, pfig)


def build_plots(study: optuna.Study | None, view: StudyView) -> list[Plot]:
    """Every plot that the study's data allows (a plot that fails is logged and skipped)."""
    pairs = list(itertools.combinations(range(len(view.directions)), 2))
    builders: list[Callable[[], Plot | None]] = [
        *(lambda a=a, b=b: pareto_pair_plot(view, a, b) for a, b in pairs),
        lambda: hypervolume_plot(view), lambda: energy_by_design_plot(view), lambda: energy_per_layer_plot(view),
        lambda: area_plot(view), lambda: importance_plot(view),
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


def write_plots(plots: list[Plot], out_dir: Path) -> list[Path]:
    """Write ``<name>.png`` and a self-contained interactive ``<name>.html`` per plot into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in plots:
        path = out_dir / f"{p.name}.png"
        p.png.savefig(path, dpi=DPI)
        paths.append(path)
    for p in plots:
        paths.append(write_page(p.html, out_dir / f"{p.name}.html", f"{p.title} (coexplore)"))
    return paths
