"""`coexplore prune` commands: the filter-pruning axis of a study (LeGR, Chin et al., CVPR 2020)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coexplore.cli.common import StorageOpt, err, errors, out

app = typer.Typer(help="Filter pruning: learn and inspect a study's ranking.", no_args_is_help=True)


@app.command()
def learn(
    study: str = typer.Argument(..., help="Study file (studies/*.yaml) or a stored study's name."),
    storage: str | None = StorageOpt,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar (e.g. in logs)."),
) -> None:
    """Learn the study's filter ranking (or load it from the storage) and print the channels each
    pruning level keeps, layer by layer."""
    from coexplore import api

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, disable=no_progress)
    tasks: dict[str, object] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase.startswith("fine-tune"):
            return
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done)

    with errors(), bar:
        pruning = api.learn_pruning(Path(study) if Path(study).is_file() else study, storage=storage,
                                    progress=progress)
    s = pruning.settings
    learned = pruning.learned
    if learned is None:
        out.print(f"method {s.method}: nothing to learn (the {s.method} ranking is fixed)", markup=False)
    else:
        how = "loaded from the study storage" if pruning.learned_from_cache else "learned"
        out.print(f"LeGR ranking {how}: {learned.fine_tunes} candidates x {s.evolution.steps} fine-tune steps in "
                  f"{learned.seconds:.1f} s; fitness at {s.learn_level:.0%} MACs removed {learned.fitness:.4f} "
                  f"(unlearned L2 ranking {learned.identity_fitness:.4f})", markup=False)
    _print_channels(pruning)


def _print_channels(pruning) -> None:
    """A table of each layer's output channels at the space's tightest level and 0/25/50/70%."""
    graph = pruning.graph
    levels = sorted({0.0, 0.25, 0.5, 0.7, pruning.settings.learn_level})
    table = Table(title=f"channels kept per layer ({pruning.settings.method})")
    table.add_column("layer")
    table.add_column("channels", justify="right")
    for level in levels:
        table.add_column(f"{level:.0%} MACs removed", justify="right")
    rows = {level: pruning.channels(level) for level in levels}
    for name, full in graph.layer_channels(graph.sizes).items():
        table.add_row(name, str(full), *(str(rows[level][name]) for level in levels))
    macs = [pruning.workload(level).macs for level in levels]
    table.add_row("MACs", f"{graph.total_macs:,}", *(f"{m:,} ({m / graph.total_macs:.1%})" for m in macs))
    out.print(table)
