"""What an MLflow run holds for one Optuna trial: params, metrics, tags and the per-layer CSV.

Pure functions over a ``FrozenTrial`` and its :class:`coexplore.record.TrialRecord` (no MLflow
client, no I/O except writing the CSV), so the mapping from the trial record to MLflow can be read
and tested in one place. A run's params are the design as evaluated (the record's ``effective``
parameters: bits after the PE type's clipping, fixed hardware filled in), not the raw samples.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from coexplore.record import ERROR_ATTR, TrialRecord, mask_url, read_record
from coexplore.record.front import is_feasible
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
    """Metric key of a constraint's value: ``"area_mm2 <= 2"`` -> ``constraint_area_mm2_le_2``."""
    text = re.sub(r"\s*<=\s*", "_le_", str(name))
    text = re.sub(r"\s*>=\s*", "_ge_", text)
    return safe_key("constraint_" + re.sub(r"\s+", "_", text.strip()))


def trial_metrics(trial: FrozenTrial, objectives: Sequence[str], record: TrialRecord | None = None) -> dict[str, float]:
    """All metrics of a trial: the record's metrics, the objective values, feasibility, timing.

    The objective values are logged under the objective names so that the run's metrics equal the
    trial's values even where the record lacks one; Optuna's constraint values (<= 0 is
    satisfied) as ``constraint_<key>``.
    """
    record = record if record is not None else read_record(trial)
    out: dict[str, float] = {}
    for k, v in (record.metrics if record is not None else {}).items():
        f = _as_float(v)
        if f is not None:
            out[safe_key(k)] = f
    if trial.values is not None:
        for name, v in zip(objectives, trial.values):
            out[safe_key(name)] = float(v)
    for key, c in trial.constraints.items():
        out[constraint_key(key)] = float(c)
    if record is not None:
        out["feasible"] = float(is_feasible(trial))
        if record.proxy_cache_hit is not None:
            out["proxy_cache_hit"] = float(record.proxy_cache_hit)
    if trial.duration is not None:
        out["trial_duration_s"] = trial.duration.total_seconds()
    return out


def trial_tags(trial: FrozenTrial, *, study_name: str, parent_run_id: str | None, on_pareto: bool,
               record: TrialRecord | None = None) -> dict[str, str]:
    """Tags of a trial's run: trial number, state, on_pareto, PE type, feasibility, source."""
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


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return "" if value is None else value
