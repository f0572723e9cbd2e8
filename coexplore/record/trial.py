"""The trial record: what one trial evaluated and measured, written by one function, read by one.

Every producer (the study driver, the hybrid digital + CIM evaluator, ENOS, sweeps) builds a
:class:`TrialRecord` and stores it with :func:`write_record` (a live trial) or
:func:`frozen_trial` (a trial added with ``study.add_trial``); every reader (tracking, export,
report, the CLI) gets it back with :func:`read_record`. On the Optuna trial the record is one user
attribute, :data:`RECORD_ATTR`, and its constraint values are also set as Optuna constraints
(``Trial.set_constraint``), which samplers and ``study.best_trials`` honour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

RECORD_ATTR = "coexplore_record"
"""The trial user attribute that holds the record (a JSON-able dict)."""
ERROR_ATTR = "error"
"""User attribute of a failed trial: its exception, one line, secrets masked."""
OVER_BUDGET_ATTR = "over_budget"
"""User attribute of a trial pruned because the budget was already taken by earlier trials."""
FEASIBLE = "feasible"
"""Constraint that the design is valid and the cost model finds it feasible (0 yes, 1 no)."""

SOURCE_SAMPLER = "sampler"
SOURCE_ENOS = "enos"
SOURCE_NAS = "nas"


@dataclass
class TrialRecord:
    """What one trial evaluated and measured.

    Attributes:
        values: the objective values in the study's objective order (the reference point's value
            where a metric is missing, so model-based samplers always get finite numbers).
        metrics: every finite registry metric plus extra measurements (area and energy by
            component as ``area_<part>_mm2`` / ``energy_<part>_j``, ``baseline_accuracy``).
        constraints: name -> violation (satisfied iff <= 0); :data:`FEASIBLE` always present.
        infeasible_reason: why the trial is not feasible ("" when it is).
        pe_type: the PE type evaluated (``"hybrid"`` for a digital + CIM assignment).
        effective: the design as evaluated: parameter name -> value after the model's own rules
            (bits clipped to what the PE type holds, fixed values filled in). Two trials with equal
            ``effective`` are the same design.
        per_layer: one dict per layer (``name``, ``macs``, ``cycles``, ``energy_j``, bits, ...).
        proxy_cache_hit: the accuracy came from the proxy's cache (None: no proxy was asked).
        proxy_seconds, ppa_seconds: wall time of the proxy call and of the cost model.
        source: who proposed the trial (``sampler``, ``enos``, ...).
        extra: facts particular to the source (an ENOS lambda, ...), JSON-able.
    """

    values: list[float]
    metrics: dict[str, float]
    constraints: dict[str, float]
    infeasible_reason: str = ""
    pe_type: str = ""
    effective: dict[str, Any] = field(default_factory=dict)
    per_layer: list[dict[str, Any]] = field(default_factory=list)
    proxy_cache_hit: bool | None = None
    proxy_seconds: float = 0.0
    ppa_seconds: float = 0.0
    source: str = SOURCE_SAMPLER
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """True when no reason was given and every constraint is satisfied."""
        return not self.infeasible_reason and all(v <= 0.0 for v in self.constraints.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form stored on the trial."""
        d = asdict(self)
        d["proxy_seconds"] = round(self.proxy_seconds, 4)
        d["ppa_seconds"] = round(self.ppa_seconds, 5)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """The record from :meth:`to_dict`'s form (unknown keys from newer versions ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def write_record(trial: optuna.Trial, record: TrialRecord) -> None:
    """Store ``record`` on a live trial: the record attribute and one Optuna constraint per entry."""
    trial.set_user_attr(RECORD_ATTR, record.to_dict())
    for name, value in record.constraints.items():
        trial.set_constraint(name, float(value))


def frozen_trial(
    record: TrialRecord, params: Mapping[str, Any], distributions: Mapping[str, BaseDistribution],
    user_attrs: Mapping[str, Any] | None = None,
) -> FrozenTrial:
    """A COMPLETE trial holding ``record``, for ``study.add_trial`` (a result computed elsewhere)."""
    import optuna

    return optuna.trial.create_trial(
        params=dict(params), distributions=dict(distributions), values=[float(v) for v in record.values],
        user_attrs={**(user_attrs or {}), RECORD_ATTR: record.to_dict()},
        constraints={k: float(v) for k, v in record.constraints.items()},
    )


def read_record(trial: FrozenTrial) -> TrialRecord | None:
    """The record of a finished trial; None for a trial that never got one (failed, pruned)."""
    data = trial.user_attrs.get(RECORD_ATTR)
    return TrialRecord.from_dict(data) if isinstance(data, Mapping) else None


def effective_key(record: TrialRecord) -> tuple:
    """A hashable identity of the evaluated design (equal keys: the same design)."""
    return tuple(sorted((k, repr(v)) for k, v in record.effective.items()))


def finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``metrics`` that are finite numbers, as floats."""
    out = {}
    for k, v in metrics.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[k] = f
    return out


def objective_values(metrics: Mapping[str, float], names: Sequence[str], reference: Sequence[float]) -> list[float]:
    """Objective values from metrics; the reference point's value where a metric is missing."""
    return [float(metrics[n]) if n in metrics and math.isfinite(metrics[n]) else float(r)
            for n, r in zip(names, reference)]
