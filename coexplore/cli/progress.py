"""The study progress bar: an observer of the driver, drawn with Rich."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from coexplore.record import read_record
from coexplore.record.front import FrontTracker, study_directions
from coexplore.search.loop import state_counts

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial
    from rich.console import Console


class ProgressObserver:
    """Complete / budget, the front's hypervolume, trials per minute and proxy runs of this process.

    Args:
        console: where to draw (stderr in the CLI).
        reference_point: the hypervolume reference point (objective order).
    """

    def __init__(self, console: Console | None, reference_point: list[float]) -> None:
        self.console = console
        self.reference_point = reference_point
        self._bar: Progress | None = None
        self._task = None
        self._tracker: FrontTracker | None = None
        self._start = 0.0
        self._ran = 0
        self._proxy = 0

    def on_study_start(self, study: optuna.Study) -> None:
        """Draw the bar at the study's current count."""
        self._tracker = FrontTracker(study_directions(study), self.reference_point)
        self._tracker.fold(study.get_trials(deepcopy=False))
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("HV {task.fields[hv]:.4g}"), TextColumn("{task.fields[rate]:.1f} trials/min"),
            TextColumn("proxy runs {task.fields[proxy]}"), TimeElapsedColumn(),
            console=self.console, transient=False,
        )
        self._bar.start()
        budget = int(study.user_attrs.get("n_trials", 0))
        self._task = self._bar.add_task(study.study_name, total=budget, completed=state_counts(study)["complete"],
                                        hv=self._tracker.hypervolume, rate=0.0, proxy=0)
        self._start = time.perf_counter()

    def on_trial_end(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Advance the bar."""
        if self._bar is None or self._tracker is None:
            return
        self._ran += 1
        rec = read_record(trial)
        self._proxy += int(rec is not None and rec.proxy_cache_hit is False)
        self._tracker.fold([trial])
        budget = int(study.user_attrs.get("n_trials", 0))
        rate = 60.0 * self._ran / max(time.perf_counter() - self._start, 1e-9)
        self._bar.update(self._task, total=budget, completed=min(state_counts(study)["complete"], budget),
                         hv=self._tracker.hypervolume, rate=rate, proxy=self._proxy)

    def on_study_end(self, study: optuna.Study) -> None:
        """Leave the bar where it is."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
