"""Hardware-only sweeps: the whole grid of a space (or N random points) through the PPA model.

No accuracy proxy is involved: every design runs at its PE type's native precision. This is what
``coexplore ppa sweep`` prints and what the PPA throughput benchmark times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coexplore.hardware.design import DesignBatch

if TYPE_CHECKING:
    from coexplore.search.space import SearchSpace
    from coexplore.workload.layer import Workload

SWEEP_METRICS: tuple[str, ...] = (
    "feasible", "infeasible_reason", "macs", "cycles", "latency_s", "energy_j", "area_mm2",
    "power_w", "gops_per_mm2", "tops_per_w", "edp",
)
"""Top-level PPA totals in a sweep's rows, after the design parameters."""


def _chunk(cols: dict[str, list], lo: int, hi: int) -> dict[str, list]:
    return {k: v[lo:hi] for k, v in cols.items()}


def run_sweep(
    space: SearchSpace,
    workload: Workload,
    samples: int | None = None,
    seed: int = 0,
    progress: bool = True,
    *,
    chunk_size: int = 4096,
    ppa_evaluate: Callable[..., Any] | None = None,
) -> pd.DataFrame:
    """Evaluate a space's hardware grid (or ``samples`` random points) on a workload.

    Args:
        space: the search space (its hardware axes and PE types; model-side bits are not used).
        workload: the network to evaluate.
        samples: number of random design points; None evaluates the whole grid.
        seed: seed of the random points.
        progress: show a Rich progress bar over the chunks.
        chunk_size: design points per vectorized PPA call (bounds memory: chunk x layers arrays).
        ppa_evaluate: the PPA model's ``evaluate`` (default :func:`coexplore.ppa.evaluate`).

    Returns:
        One row per design point: its parameters (PE type and dataflow as names) then
        :data:`SWEEP_METRICS`.

    Example:
        >>> from coexplore.search.space import load_space
        >>> from coexplore.workload import resolve
        >>> df = run_sweep(load_space("spaces/quidam.yaml"), resolve("resnet18"), samples=100, progress=False)
        >>> len(df)
        100
    """
    if ppa_evaluate is None:
        from coexplore.ppa import evaluate as ppa_evaluate
    cols = space.hardware_grid() if samples is None else space.sample_hardware(samples, seed)
    n = len(cols["pe_type"])
    frames = []
    chunks = range(0, n, chunk_size)

    def step(lo: int) -> None:
        part = _chunk(cols, lo, min(lo + chunk_size, n))
        res = ppa_evaluate(DesignBatch.from_columns(part), workload)
        df = pd.DataFrame(part)
        for key in SWEEP_METRICS:
            df[key] = np.asarray(getattr(res, key))
        frames.append(df)

    if progress and n:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("[bold]PPA sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("designs"),
            TimeElapsedColumn(), console=Console(stderr=True),
        ) as bar:
            task = bar.add_task("sweep", total=n)
            for lo in chunks:
                step(lo)
                bar.update(task, completed=min(lo + chunk_size, n))
    else:
        for lo in chunks:
            step(lo)
    if not frames:
        return pd.DataFrame(columns=[*cols, *SWEEP_METRICS])
    return pd.concat(frames, ignore_index=True)
