"""`coexplore ppa` commands: evaluate one design on a workload (a thin layer over coexplore.ppa)."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from coexplore.workload import Workload

app = typer.Typer(help="Analytical power, performance and area of accelerator designs.", no_args_is_help=True)


class Criterion(str, Enum):
    edp = "edp"
    energy = "energy"
    latency = "latency"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _fail(message: str) -> None:
    """Print an actionable error (one line per problem) to stderr and exit with status 2."""
    for line in message.splitlines():
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)


def _resolve_workload(spec: str) -> Workload:
    """The workload named by ``--workload``, or exit naming the option and what was wrong."""
    from coexplore.workload import resolve

    try:
        return resolve(spec)
    except (KeyError, ValueError) as exc:
        _fail(f"--workload {spec}: {exc.args[0] if exc.args else exc}")


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_table(d: dict, per_layer: bool, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped: do not truncate layer names to 80 columns
        console = Console(width=160)
    top = Table(title=title)
    top.add_column("metric")
    top.add_column("value", justify="right")
    for key, value in d.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                top.add_row(f"{key}.{sub}", _fmt(v))
        elif key != "layers" and not (key == "infeasible_reason" and not value):
            top.add_row(key, _fmt(value))
    console.print(top)
    if per_layer:
        layers = Table(title="per layer")
        keys = ["name", "macs", "cycles", "energy_j", "utilization", "dram_bytes", "weight_bits", "act_bits",
                "mapping"]
        for k in keys:
            layers.add_column(k, justify="left" if k == "name" else "right")
        for row in d["layers"]:
            layers.add_row(*(_fmt(row[k]) for k in keys))
        console.print(layers)


def _csv_text(d: dict, per_layer: bool) -> str:
    buf = io.StringIO()
    if per_layer:
        rows = d["layers"]
    else:
        flat = {k: v for k, v in d.items() if not isinstance(v, (dict, list))}
        flat.update({f"energy_{c}_j": e for c, e in d["energy_breakdown_j"].items()})
        flat.update({f"area_{c}_mm2": a for c, a in d["area_breakdown_mm2"].items()})
        rows = [flat]
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@app.command()
def evaluate(
    hw: Annotated[Path, typer.Option("--hw", help="Design point YAML (keys of coexplore.hardware.DesignPoint).")],
    workload: Annotated[str, typer.Option("--workload", help="Zoo name, .csv/.yaml path, or module:function.")],
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Also report every layer.")] = False,
    tech: Annotated[
        Optional[list[Path]],  # noqa: UP045 - Typer reads the annotation at runtime
        typer.Option("--tech", help="Technology table, or a characterization (YAML/CSV of measured points) "
                     "to fit; repeat to stack: a full table first, then measured points (later files win)."),
    ] = None,
    criterion: Annotated[
        Criterion,
        typer.Option("--criterion", help="How the mapper picks each layer's mapping inside the array."),
    ] = "edp",
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
) -> None:
    """Evaluate one design point on a workload: cycles, latency, energy, area and derived metrics."""
    from coexplore.hardware import DesignError, load_design
    from coexplore.hardware.characterization import CharacterizationError
    from coexplore.hardware.technology import TechError, TechnologyTable
    from coexplore.ppa import evaluate_point

    try:
        design = load_design(hw)
    except DesignError as exc:
        _fail(str(exc))
    wl = _resolve_workload(workload)
    table = None
    if tech:
        try:
            table = TechnologyTable.load_stack(tech)
        except (TechError, CharacterizationError) as exc:
            _fail(str(exc))
        for report in table.fit_reports():
            typer.echo(f"fit {report.line()}", err=True)
    result = evaluate_point(design, wl, tech=table, criterion=Criterion(criterion).value)
    d = result.to_dict(0, per_layer=per_layer)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(d, indent=2))
    elif fmt is OutputFormat.csv:
        sys.stdout.write(_csv_text(d, per_layer))
    else:
        _print_table(d, per_layer, f"{hw.name} on {wl.name} ({len(wl)} layers)")


@app.command()
def sweep(
    space: Annotated[Path, typer.Option("--space", help="Search space YAML; its hardware axes are swept.")],
    workload: Annotated[str, typer.Option("--workload", help="Zoo name, .csv/.yaml path, or module:function.")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .csv or .parquet.")],
    samples: Annotated[
        Optional[int],  # noqa: UP045 - Typer reads the annotation at runtime
        typer.Option("--samples", min=1, help="Evaluate N random design points instead of the whole grid."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random design points.")] = 0,
) -> None:
    """Evaluate the grid of a space's hardware axes (or N random points of it); one row per design."""
    from coexplore.search.configio import ConfigError
    from coexplore.search.space import load_space
    from coexplore.search.sweep import run_sweep

    if out.suffix not in (".csv", ".parquet"):
        _fail(f"--out {out}: must end in .csv or .parquet")
    try:
        sp = load_space(space)
    except ConfigError as exc:
        _fail(str(exc))
    wl = _resolve_workload(workload)
    df = run_sweep(sp, wl, samples=samples, seed=seed, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        df.to_csv(out, index=False)
    else:
        df.to_parquet(out, index=False)
    n_ok = int(df["feasible"].sum()) if len(df) else 0
    typer.echo(f"wrote {len(df)} design points ({n_ok} feasible) to {out}")
