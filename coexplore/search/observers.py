"""What watches a study: the observer contract and a group that calls many observers safely.

The driver knows nothing of MLflow or progress bars: the caller (the CLI, a notebook) builds the
observers it wants and passes them in. Everything an observer needs is in the Optuna study and
its trials (each finished trial carries a :class:`coexplore.record.TrialRecord`, read with
:func:`coexplore.record.read_record`), so an observer started later (``coexplore study report``)
sees the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from coexplore.record import mask_url

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)


class StudyObserver(Protocol):
    """Hooks the driver calls; each must be idempotent (a resumed study calls them again)."""

    def on_study_start(self, study: optuna.Study) -> None:
        """Called once per process before the first trial of this process."""

    def on_trial_end(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Called after every trial this process finished (complete, failed or pruned)."""

    def on_study_end(self, study: optuna.Study) -> None:
        """Called once when this process stops optimizing (budget reached, or an error)."""


class ObserverGroup:
    """Calls every observer's hook in turn; a failing hook is logged, never allowed to stop the study.

    Example:
        >>> group = ObserverGroup([MlflowObserver(uri)])  # doctest: +SKIP
        >>> group.on_study_start(study)  # doctest: +SKIP
    """

    def __init__(self, observers: Iterable[StudyObserver] = ()) -> None:
        self.observers = list(observers)

    def _each(self, hook: str, *args: object) -> None:
        for obs in self.observers:
            try:
                getattr(obs, hook)(*args)
            except Exception as exc:  # noqa: BLE001 - observers are optional; the search must go on
                log.warning("observer %s.%s failed: %s", type(obs).__name__, hook, mask_url(str(exc)))

    def on_study_start(self, study: optuna.Study) -> None:
        """Tell every observer that this process starts on ``study``."""
        self._each("on_study_start", study)

    def on_trial_end(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Tell every observer that this process finished ``trial``."""
        self._each("on_trial_end", study, trial)

    def on_study_end(self, study: optuna.Study) -> None:
        """Tell every observer that this process stops."""
        self._each("on_study_end", study)

    def on_interrupt(self, study: optuna.Study) -> None:
        """Ctrl-C: call each observer's optional quick ``on_interrupt`` (the user waits; a resume
        reconciles the rest), else its ``on_study_end``."""
        for obs in self.observers:
            hook = getattr(obs, "on_interrupt", None)
            try:
                (hook or obs.on_study_end)(study)
            except Exception as exc:  # noqa: BLE001 - observers are optional
                log.warning("observer %s failed on interrupt: %s", type(obs).__name__, mask_url(str(exc)))
