"""`coexplore study` commands: start, resume, worker, status, list, pareto (a thin layer over coexplore.search).

Exit status: 0 done, 1 a study or storage problem (message on stderr), 2 an invalid study file
(one line per problem, nothing created in storage).
"""

from __future__ import annotations

import csv
import io
import re
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from coexplore.cli.common import StorageOpt, echo_json, err, errors, out

app = typer.Typer(help="Run and inspect joint hardware/quantization searches.", no_args_is_help=True)

TrackingOpt = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: mlflow.db beside an SQLite storage).")
NoTrackingOpt = typer.Option(False, "--no-tracking", help="Do not log to MLflow.")
NoProgressOpt = typer.Option(False, "--no-progress", help="No progress bar (e.g. in logs).")


class TableFormat(str, Enum):
    table = "table"
    json = "json"


class ParetoFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _print_summary(result) -> None:
    from coexplore.record import mask_url

    for line in result.summary.lines():
        out.print(line, markup=False)
    out.print(f"this process ran {result.trials_run} trials; storage {mask_url(result.storage_url)}", markup=False)


def _run(session, *, no_tracking: bool, no_progress: bool) -> None:
    """Run an opened study with the MLflow observer and, unless turned off, a progress bar."""
    from coexplore import api

    observers = []
    if not no_progress:
        from coexplore.cli.progress import ProgressObserver

        observers.append(ProgressObserver(err, session.config.objectives.reference))
    with errors(resume_hint=session.config.name):
        result = api.run_session(session, tracking=not no_tracking, observers=observers)
    _print_summary(result)


@app.command()
def start(
    file: Path = typer.Argument(..., help="Study file (studies/*.yaml)."),
    storage: str | None = StorageOpt,
    tracking_uri: str | None = TrackingOpt,
    n_trials: int | None = typer.Option(None, "--n-trials", min=1, help="Budget of COMPLETE trials (overrides the file)."),
    name: str | None = typer.Option(None, "--name", help="Study name (overrides the file)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed (overrides the file)."),
    no_tracking: bool = NoTrackingOpt,
    no_progress: bool = NoProgressOpt,
) -> None:
    """Validate a study file, create the study and run it to its budget."""
    from coexplore.search import driver

    with errors():
        session = driver.open_new(file, storage=storage, tracking_uri=tracking_uri, n_trials=n_trials, name=name,
                                  seed=seed)
    _run(session, no_tracking=no_tracking, no_progress=no_progress)


@app.command()
def resume(
    name: str = typer.Argument(..., help="Study name."),
    n_trials: int | None = typer.Option(None, "--n-trials", min=1, help="New total budget of COMPLETE trials."),
    storage: str | None = StorageOpt,
    tracking_uri: str | None = TrackingOpt,
    no_tracking: bool = NoTrackingOpt,
    no_progress: bool = NoProgressOpt,
) -> None:
    """Continue a study after a crash or with a larger budget (config read from the storage)."""
    from coexplore.search import driver

    with errors():
        session = driver.open_existing(name, storage=storage, n_trials=n_trials, tracking_uri=tracking_uri)
    _run(session, no_tracking=no_tracking, no_progress=no_progress)


@app.command()
def worker(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = StorageOpt,
    tracking_uri: str | None = TrackingOpt,
    no_tracking: bool = NoTrackingOpt,
    no_progress: bool = NoProgressOpt,
) -> None:
    """Join a study from another process or machine; all workers together stop at the budget."""
    from coexplore.search import driver

    with errors():
        session = driver.open_existing(name, storage=storage, tracking_uri=tracking_uri, worker=True)
    _run(session, no_tracking=no_tracking, no_progress=no_progress)


@app.command()
def status(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = StorageOpt,
    format: TableFormat = typer.Option(TableFormat.table, "--format", help="table or json."),
) -> None:
    """Trials by state, budget, proxy evaluations and the best values so far."""
    from coexplore.search.report import summarize
    from coexplore.search.study import load_for_reading

    with errors():
        study, _ = load_for_reading(name, storage)
        summary = summarize(study)
    if format == TableFormat.json:
        echo_json(summary.to_dict())
        return
    for line in summary.lines():
        if line.startswith("best per objective:"):
            line = "best per objective: " + _best_text(summary.best)
        out.print(line, markup=False)


@app.command("list")
def list_(
    storage: str | None = StorageOpt,
    format: TableFormat = typer.Option(TableFormat.table, "--format", help="table or json."),
) -> None:
    """The studies in a storage, with their progress against the budget."""
    from coexplore.search.driver import list_storage
    from coexplore.search.report import list_studies

    with errors():
        rows = list_studies(list_storage(storage))
    if format == TableFormat.json:
        echo_json(rows)
        return
    table = Table("study", "complete / budget", "trials", "objectives", "started")
    for r in rows:
        table.add_row(r["name"], f"{r['complete']} / {r['budget']}", str(r["trials"]), ", ".join(r["objectives"]), r["started"] or "")
    out.print(table)


@app.command()
def pareto(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = StorageOpt,
    format: ParetoFormat = typer.Option(ParetoFormat.table, "--format", help="table, csv or json."),
) -> None:
    """The feasible Pareto set: trial number, each objective, and the parameters."""
    from coexplore.search.report import objective_names, pareto_rows
    from coexplore.search.study import load_for_reading

    with errors():
        study, _ = load_for_reading(name, storage)
        rows = pareto_rows(study)
        names = objective_names(study)
    if format == ParetoFormat.json:
        echo_json(rows)
        return
    params = sorted({k for r in rows for k in r["params"]} - {"pe_type"})
    if format == ParetoFormat.csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["trial", *names, "pe_type", *params])
        for r in rows:
            w.writerow([r["trial"], *(r[n] for n in names), r["pe_type"],
                        *(_text(r["params"].get(p, "")) for p in params)])
        typer.echo(buf.getvalue(), nl=False)
        return
    out.print(pareto_table(name, rows, names))


def _best_text(best: dict[str, float]) -> str:
    """``accuracy 98.89 %, energy_mj 1.170 µJ, area_mm2 0.2210 mm²``: each in a unit that reads."""
    from coexplore.tracking.units import display_unit

    return ", ".join(f"{n} {display_unit(n, [v]).format(v)} {display_unit(n, [v]).unit}".rstrip()
                     for n, v in best.items())


_UNIT_SUFFIX = re.compile(r"_(j|mj|ms|mm2|w)$")  # energy_mj shown in µJ is headed "energy (µJ)"


def _text(value) -> str:
    """A parameter value for a table cell: a per-layer list of equal entries as that one value."""
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value and all(v == value[0] for v in value) else "/".join(map(str, value))
    return str(value)


def pareto_table(name: str, rows: list[dict], names: list[str]) -> Table:
    """The front as a table: sorted by the first objective (best first), one column per objective
    in a unit chosen for the column (4 significant digits), PE type, one column per parameter
    that differs across the front (the constant ones in the caption)."""
    from coexplore.tracking.units import display_unit

    units = {n: display_unit(n, [r[n] for r in rows]) for n in names}
    params = sorted({k for r in rows for k in r["params"]} - {"pe_type"})
    varying = [p for p in params if len({_text(r["params"].get(p, "")) for r in rows}) > 1]
    fixed = [f"{p}={_text(rows[0]['params'].get(p, ''))}" for p in params if p not in varying] if rows else []
    table = Table(title=f"Pareto set of {name} ({len(rows)} designs, best {names[0] if names else ''} first)",
                  caption=f"same on every design: {', '.join(fixed)}" if fixed else None)
    table.add_column("trial", justify="right", no_wrap=True)
    for n in names:
        table.add_column(f"{_UNIT_SUFFIX.sub('', n)}\n({units[n].unit})" if units[n].unit else n, justify="right",
                         no_wrap=True)
    table.add_column("pe_type", no_wrap=True)
    for p in varying:
        table.add_column(p, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(str(r["trial"]), *(units[n].format(r[n]) for n in names), r["pe_type"],
                      *(_text(r["params"].get(p, "")) for p in varying))
    return table


@app.command()
def delete(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = StorageOpt,
    mlflow: bool = typer.Option(False, "--mlflow", help="Also delete the study's MLflow experiment and runs."),
    tracking_uri: str | None = TrackingOpt,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a study's trials and config from the storage (and, with --mlflow, its MLflow experiment)."""
    from coexplore.record import mask_url
    from coexplore.search.study import delete_study, load_for_reading

    with errors():
        study, url = load_for_reading(name, storage)
        n = len(study.get_trials(deepcopy=False))
        if not yes and not typer.confirm(f"delete study '{name}' ({n} trials) from {mask_url(url)}"
                                         f"{' and its MLflow experiment' if mlflow else ''}?"):
            raise typer.Exit(1)
        if mlflow:
            from coexplore.cli.tracking import tracking_uri_for
            from coexplore.tracking.report import open_client

            uri = tracking_uri_for(study, url, tracking_uri)
            client = open_client(uri)
            exp = client.get_experiment_by_name(name)
            if exp is not None and exp.lifecycle_stage == "active":
                client.delete_experiment(exp.experiment_id)
                out.print(f"deleted MLflow experiment {name} ({mask_url(uri)})", markup=False)
        delete_study(name, storage)
    out.print(f"deleted study {name} ({n} trials) from {mask_url(url)}", markup=False)


@app.command()
def recheck(
    name: str = typer.Argument(..., help="Study name."),
    storage: str | None = StorageOpt,
    tracking_uri: str | None = TrackingOpt,
    no_tracking: bool = NoTrackingOpt,
    full_validation: bool = typer.Option(
        False, "--full-validation",
        help="Validate on the whole validation split, not the study's proxy.val_samples subset."),
) -> None:
    """Re-check the front at high fidelity: fine-tune every front design's model-side choice for the
    proxy's long budget, recompute the front and hypervolume, report the rank agreement. With
    --full-validation each re-check is validated on the whole validation split."""
    from coexplore import api
    from coexplore.search.recheck import recheck_front
    from coexplore.search.study import load_for_reading, stored_config

    with errors(resume_hint=None):
        study, url = load_for_reading(name, storage)
        cfg = stored_config(study)
        subset = cfg.proxy.get("val_samples")
        if full_validation:
            cfg = cfg.model_copy(update={"proxy": {k: v for k, v in cfg.proxy.items() if k != "val_samples"}})
        evaluator = api.build_evaluator(cfg, url)
        result = recheck_front(study, evaluator.proxy_accuracy)
    if full_validation:
        out.print("validated on the whole validation split" + (f" (the search used {subset} images per fold)"
                  if subset else " (the search did too: no proxy.val_samples)"), markup=False)
    for line in result.lines():
        out.print(line, markup=False)
    for row in result.rows:
        mark = "" if row["trial"] in result.front_after else "  (leaves the front)"
        out.print(f"  trial {row['trial']} {row['pe_type']}: accuracy {row['accuracy_brief']:.4f} brief, "
                  f"{row['accuracy_high']:.4f} high{mark}", markup=False)
    if not no_tracking and cfg.tracking:
        from coexplore.cli.tracking import tracking_uri_for
        from coexplore.tracking.recheck import log_recheck

        with errors():
            n = log_recheck(study, tracking_uri_for(study, url, tracking_uri), result.to_dict())
        out.print(f"MLflow: accuracy_high_fidelity logged on {n} front runs and the outcome on the parent run",
                  markup=False)
