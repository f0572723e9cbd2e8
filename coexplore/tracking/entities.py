"""What an MLflow run holds for one Optuna trial: params, metrics, tags, ``trial.json`` and the per-layer CSV.

Pure functions over a ``FrozenTrial`` and its :class:`coexplore.record.TrialRecord` (no MLflow
client, no I/O except writing the two files), so the mapping from the trial record to MLflow can
be read and tested in one place. A run's params are the design as evaluated (the record's
``effective`` parameters: bits after the PE type's clipping, fixed hardware filled in), not the raw
samples. Its metrics are few, so that MLflow's runs table reads without configuration: the
objectives, :data:`KEY_METRICS`, the constrained metrics and each constraint's margin; the rest
of the record goes to ``trial.json``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from coexplore.record import ERROR_ATTR, TrialRecord, mask_secrets, mask_url, read_record
from coexplore.record.front import is_feasible
from coexplore.record.metrics import METRICS
from coexplore.record.trial import FEASIBLE
from coexplore.tracking.store import safe_key

# Tag keys on every coexplore run; the first four are the user-facing ones asked for in issue 5.
TAG_TRIAL_NUMBER = "trial_number"
TAG_STATE = "state"
TAG_ON_PARETO = "on_pareto"
TAG_PE_TYPE = "pe_type"
TAG_ROLE = "coexplore.role"  # "study" for the parent run, "trial" for a child run
TAG_STUDY = "coexplore.study"
TAG_SOURCE = "source"  # who proposed the trial: sampler, enos, ...
TAG_PARENT = "mlflow.parentRunId"
TAG_DESCRIPTION = "mlflow.note.content"  # the run's (or experiment's) description in the MLflow UI
ROLE_STUDY = "study"
ROLE_TRIAL = "trial"

PER_LAYER_CSV = "per_layer.csv"
_MAX_PARAM_LEN = 6000
_MAX_TAG_LEN = 8000


def ms(dt: Any) -> int | None:
    """Milliseconds since the epoch of a datetime (None stays None)."""
    return None if dt is None else int(dt.timestamp() * 1000)


def objective_names(study_user_attrs: dict[str, Any], n_values: int) -> list[str]:
    """Objective names in the order of the trial values; ``value_<i>`` where the study has none."""
    objs = study_user_attrs.get("objectives") or []
    names = [str(o.get("name", f"value_{i}")) for i, o in enumerate(objs)]
    return names + [f"value_{i}" for i in range(len(names), n_values)]


_BREAKDOWN = re.compile(r"^(?P<what>.+)_breakdown_(?P<unit>[A-Za-z0-9]+)$")


def flatten_breakdowns(row: dict[str, Any]) -> dict[str, Any]:
    """Nested component dicts made flat, in the contract's spelling.

    ``{"energy_breakdown_j": {"mac": 1e-9}}`` becomes ``{"energy_mac_j": 1e-9}`` (likewise
    ``area_breakdown_mm2`` -> ``area_<component>_mm2``); any other nested dict ``d`` becomes
    ``d.<key>`` entries. Flat rows pass through unchanged.
    """
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            m = _BREAKDOWN.match(str(key))
            for sub, v in value.items():
                out[f"{m['what']}_{sub}_{m['unit']}" if m else f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def _param_text(value: Any) -> str:
    """A param value as text: a per-layer list whose entries are all equal becomes that one value."""
    if isinstance(value, (list, tuple)) and value and all(v == value[0] for v in value):
        value = value[0]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return mask_url(str(value))[:_MAX_PARAM_LEN]


def trial_params(trial: FrozenTrial, record: TrialRecord | None = None) -> dict[str, str]:
    """The run's params: the design as evaluated (the record's ``effective``), else the samples."""
    record = record if record is not None else read_record(trial)
    values = record.effective if record is not None and record.effective else trial.params
    return {safe_key(k): _param_text(v) for k, v in values.items()}


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def constraint_key(name: str) -> str:
    """Metric key of a constraint's Optuna value: ``"area_mm2 <= 2"`` -> ``constraint_area_mm2_le_2``."""
    return safe_key("constraint_" + _constraint_text(name))


def margin_key(name: str) -> str:
    """Metric key of a constraint's margin: ``"accuracy_drop <= 10"`` -> ``margin_accuracy_drop_le_10``."""
    return safe_key("margin_" + _constraint_text(name))


def _constraint_text(name: str) -> str:
    text = re.sub(r"\s*<=\s*", "_le_", str(name))
    text = re.sub(r"\s*>=\s*", "_ge_", text)
    return re.sub(r"\s+", "_", text.strip())


def constraint_margin(name: str, value: float) -> float:
    """How far inside its limit a trial is, in the constrained metric's unit (negative: violated),
    from Optuna's constraint value, which is relative to the bound (``(v - bound) / |bound|``, see
    :class:`coexplore.search.objectives.Constraint`): ``accuracy_drop <= 10`` at 9.1 -> 0.9."""
    m = re.match(r"^\s*\S+\s*[<>]=\s*(\S+)\s*$", str(name))
    try:
        bound = float(m.group(1)) if m else 1.0
    except ValueError:
        bound = 1.0
    return -float(value) * (abs(bound) if bound != 0 else 1.0)


def constrained_metric(name: str) -> str:
    """The metric a constraint bounds: ``"accuracy_drop <= 10"`` -> ``accuracy_drop``."""
    return re.split(r"\s*[<>]=\s*", str(name).strip())[0]


KEY_METRICS = ("accuracy", "accuracy_drop", "energy_mj", "latency_ms", "area_mm2")
"""Beside the objectives and constrained metrics, the metrics every trial's run carries at top level
(the runs table's columns); every other measurement is in the run's ``trial.json``."""
TRIAL_JSON = "trial.json"


def top_level_metrics(objectives: Sequence[str], constraints: Sequence[str] = ()) -> list[str]:
    """Names of the metrics a trial's run logs: objectives, key metrics, constrained metrics.

    ``energy_mj`` is left out when an objective is already an energy (``energy_j``).
    """
    names = list(objectives)
    for m in (*KEY_METRICS, *(constrained_metric(c) for c in constraints if c != FEASIBLE)):
        if m in names or (m == "energy_mj" and "energy_j" in names):
            continue
        names.append(m)
    return names


def trial_metrics(trial: FrozenTrial, objectives: Sequence[str], record: TrialRecord | None = None) -> dict[str, float]:
    """The run's metrics: objective values (equal to the trial's values), key metrics, and each
    constraint's margin.

    ``margin_<constraint>`` is how far inside its limit the trial is, in the constrained metric's
    unit (``margin_accuracy_drop_le_10 = 0.9``: 0.9 percentage points below the 10-point limit);
    negative means violated (:func:`constraint_margin`). Everything else the record
    holds (energy and area by component, EDP, power, proxy facts) is in ``trial.json``.
    """
    record = record if record is not None else read_record(trial)
    constraints = [k for k in trial.constraints if k != FEASIBLE]
    out: dict[str, float] = {}
    measured = record.metrics if record is not None else {}
    for name in top_level_metrics(objectives, constraints):
        f = _as_float(measured.get(name))
        if f is not None and math.isfinite(f):
            out[safe_key(name)] = f
    if trial.values is not None:
        for name, v in zip(objectives, trial.values):
            out[safe_key(name)] = float(v)
    for key in constraints:
        out[margin_key(key)] = constraint_margin(key, trial.constraints[key])
    return out


def _unit_of(metric: str) -> str:
    if metric in METRICS:
        return METRICS[metric].unit
    for suffix, unit in (("_mm2", "mm^2"), ("_j", "J"), ("_s", "s"), ("_w", "W")):
        if metric.endswith(suffix):
            return unit
    return "fraction" if metric.endswith("accuracy") else ""


def trial_details(trial: FrozenTrial, objectives: Sequence[str], record: TrialRecord | None = None) -> dict[str, Any]:
    """Everything the trial evaluated and measured, for the run's ``trial.json``: the design as
    evaluated and as sampled, every metric with its unit, each constraint with its margin."""
    record = record if record is not None else read_record(trial)
    data: dict[str, Any] = {"trial": trial.number, "state": trial.state.name,
                            "objectives": dict(zip(objectives, trial.values or []))}
    if record is not None:
        data["design"] = record.effective
    data["sampled_params"] = dict(trial.params)
    if record is not None:
        data["metrics"] = {k: {"value": v, "unit": _unit_of(k)} for k, v in record.metrics.items()}
        data["constraints"] = {k: {"optuna_value": c, "margin": constraint_margin(k, c), "satisfied": c <= 0}
                               for k, c in record.constraints.items()}
        data.update(feasible=record.feasible, infeasible_reason=record.infeasible_reason, pe_type=record.pe_type,
                    source=record.source, proxy_cache_hit=record.proxy_cache_hit,
                    proxy_seconds=record.proxy_seconds, ppa_seconds=record.ppa_seconds, extra=record.extra)
    return mask_secrets(data)


def trial_description(trial: FrozenTrial, record: TrialRecord | None = None) -> str:
    """A few lines for the run's description: the design as evaluated and its key figures, in
    readable units (the logged metrics keep the registry's units)."""
    from coexplore.tracking.units import display_unit

    record = record if record is not None else read_record(trial)
    if record is None:
        return f"Trial {trial.number}: {trial.state.name}, no measurements."
    design = ", ".join(f"{k}={_param_text(v)}" for k, v in record.effective.items())
    figures = [f"{display_unit(m, [v]).label} {display_unit(m, [v]).format(v)} {display_unit(m, [v]).unit}"
               for m in ("accuracy", "energy_mj", "latency_ms", "area_mm2") if (v := record.metrics.get(m)) is not None]
    state = "feasible" if record.feasible else f"infeasible: {record.infeasible_reason or 'a constraint is violated'}"
    return mask_url(f"Trial {trial.number} ({record.pe_type}, {state}).\n\n{'; '.join(figures)}.\n\n"
                    f"Design as evaluated: {design}.\n\nEvery metric with its unit: `{TRIAL_JSON}`; "
                    f"per layer: `{PER_LAYER_CSV}`.")[:_MAX_TAG_LEN]


def trial_tags(trial: FrozenTrial, *, study_name: str, parent_run_id: str | None, on_pareto: bool,
               record: TrialRecord | None = None) -> dict[str, str]:
    """Tags of a trial's run: trial number, state, on_pareto, PE type, feasibility, source, and its
    description (the design and key figures in readable units)."""
    record = record if record is not None else read_record(trial)
    tags = {
        TAG_TRIAL_NUMBER: str(trial.number),
        TAG_STATE: trial.state.name,
        TAG_ON_PARETO: "true" if on_pareto else "false",
        TAG_PE_TYPE: record.pe_type if record is not None else str(trial.params.get("pe_type", "")),
        "feasible": "true" if trial.state == TrialState.COMPLETE and is_feasible(trial) else "false",
        TAG_ROLE: ROLE_TRIAL,
        TAG_STUDY: study_name,
    }
    if record is not None:
        tags[TAG_SOURCE] = record.source
        if record.infeasible_reason:
            tags["infeasible_reason"] = mask_url(record.infeasible_reason)[:_MAX_TAG_LEN]
    if trial.state == TrialState.FAIL:
        fail = trial.user_attrs.get(ERROR_ATTR) or trial.system_attrs.get("fail_reason")
        if fail:
            tags["fail_reason"] = mask_url(str(fail))[:_MAX_TAG_LEN]
    if parent_run_id:
        tags[TAG_PARENT] = parent_run_id
    tags[TAG_DESCRIPTION] = trial_description(trial, record)
    return tags


def run_status(state: TrialState) -> str:
    """MLflow run status for a finished trial state."""
    return {TrialState.COMPLETE: "FINISHED", TrialState.FAIL: "FAILED", TrialState.PRUNED: "KILLED"}.get(
        state, "FINISHED"
    )


def write_per_layer_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Write the per-layer breakdown (one row per layer, union of keys as columns, component dicts
    flattened to ``energy_<component>_j``); None if there are no rows."""
    if not rows:
        return None
    rows = [flatten_breakdowns(r) for r in rows]
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
    return path


def write_trial_files(trial: FrozenTrial, objectives: Sequence[str], record: TrialRecord | None,
                      folder: Path) -> list[Path]:
    """Write the run's artifacts into ``folder``: ``trial.json`` and, with per-layer rows, the CSV."""
    import json

    path = folder / TRIAL_JSON
    path.write_text(json.dumps(trial_details(trial, objectives, record), indent=1, default=str), encoding="utf-8")
    paths = [path]
    if record is not None:
        csv_path = write_per_layer_csv(record.per_layer, folder / PER_LAYER_CSV)
        if csv_path is not None:
            paths.append(csv_path)
    return paths


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return "" if value is None else value
