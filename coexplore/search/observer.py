"""The contract between the study driver and whatever watches it (MLflow tracking, progress).

The driver knows nothing of MLflow: it calls these hooks. Everything an observer needs is in the
Optuna study and its trials, so an observer started later (``coexplore study report``) sees the
same data. The driver records, on every finished trial (``trial.user_attrs``):

- ``metrics``: dict of metric name -> float (every PPA and proxy metric, not only objectives)
- ``pe_type``: str (``"hybrid"`` for a digital + CIM trial, whose per-layer rows add ``choice``
  and ``mode``); ``feasible``: bool, true only when the design point is valid, the PPA model
  found it feasible and every constraint holds; ``infeasible_reason``: str naming what failed
  ("" when feasible). The constraint values are also set with ``Trial.set_constraint``.
- ``per_layer``: list of dicts, one per layer (``name``, ``macs``, ``cycles``, ``energy_j``,
  ``utilization``, ``dram_bytes``, ``weight_bits``, ``act_bits`` and the energy by component,
  flat as ``energy_<component>_j``)
- ``proxy_cache_hit``: bool
- also, for review and debugging: ``constraint_values`` (name -> value, feasible iff <= 0),
  ``hypervolume`` (of the feasible front after this trial), ``proxy_seconds``, ``ppa_seconds``,
  and on failures ``error`` (the exception, one line) or ``over_budget`` (pruned: budget reached)

and on the study (``study.user_attrs``): ``objectives`` (list of ``{"name", "direction"}`` with
direction ``"minimize"``/``"maximize"``, in the order of the trial values), ``reference_point``
(list of floats, one per objective), ``constraints`` (list of strings such as
``"area_mm2 <= 4"``), ``n_trials`` (the budget), ``config`` (the resolved study config as a dict,
no secrets in it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import optuna


@runtime_checkable
class StudyObserver(Protocol):
    """Hooks the driver calls; each must be idempotent (a resumed study calls them again)."""

    def on_study_start(self, study: optuna.Study) -> None:
        """Called once per process before the first trial of this process."""

    def on_trial_end(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Called after every trial this process finished (complete, failed or pruned)."""

    def on_study_end(self, study: optuna.Study) -> None:
        """Called once when this process stops optimizing (budget reached or interrupted)."""
