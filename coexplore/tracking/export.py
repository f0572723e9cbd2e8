"""Every trial of a study as one table row (params, metrics, objectives, state), for pandas users."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from coexplore.record.front import is_feasible
from coexplore.tracking.summary import StudyView

if TYPE_CHECKING:
    import optuna

ExportFormat = Literal["csv", "parquet"]
_FIXED = ["number", "state", "pe_type", "feasible", "infeasible_reason", "on_pareto", "proxy_cache_hit", "source",
          "datetime_start", "datetime_complete", "duration_s"]


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: ``number``, ``state``, ``values_<objective>``, ``params_<name>``,
    ``metrics_<name>``, PE type, feasibility, ``on_pareto`` and timing.

    Args:
        study: any Optuna study following the driver's user_attrs contract (missing attrs are empty).

    Example:
        >>> df = trials_frame(study)  # doctest: +SKIP
        >>> df[df.on_pareto][["number", "values_accuracy", "values_energy_j"]]  # doctest: +SKIP
    """
    view = StudyView.of(study)
    front = view.front_numbers()
    rows = []
    for t in sorted(view.trials, key=lambda t: t.number):
        rec = view.record(t)
        row: dict[str, object] = {
            "number": t.number,
            "state": t.state.name,
            "pe_type": view.pe_type(t),
            "feasible": is_feasible(t) if t.state.is_finished() else None,
            "infeasible_reason": rec.infeasible_reason if rec is not None else None,
            "on_pareto": t.number in front,
            "proxy_cache_hit": rec.proxy_cache_hit if rec is not None else None,
            "source": rec.source if rec is not None else None,
            "datetime_start": t.datetime_start,
            "datetime_complete": t.datetime_complete,
            "duration_s": t.duration.total_seconds() if t.duration is not None else None,
        }
        for name, v in zip(view.objectives, t.values or []):
            row[f"values_{name}"] = v
        for k, v in t.params.items():
            row[f"params_{k}"] = v
        for k, v in (rec.metrics if rec is not None else {}).items():
            row[f"metrics_{k}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=_FIXED)
    ordered = _FIXED + sorted(c for c in df.columns if c not in _FIXED)
    return df[ordered]


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing types (a categorical param with int and str choices) become text for Parquet."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1:
                out[col] = out[col].map(lambda v: None if pd.isna(v) else str(v))
    return out


def export_trials(study: optuna.Study, fmt: ExportFormat, out: Path | None = None) -> Path:
    """Write :func:`trials_frame` to ``out`` (default ``<study>-trials.<fmt>``); returns the path.

    Args:
        study: the study to export.
        fmt: ``"csv"`` or ``"parquet"``.
        out: output file; its folder is created.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"export format {fmt!r} is not supported; use 'csv' or 'parquet'")
    out = Path(out) if out is not None else Path(f"{study.study_name}-trials.{fmt}")
    out.parent.mkdir(parents=True, exist_ok=True)
    df = trials_frame(study)
    if fmt == "csv":
        df.to_csv(out, index=False)
    else:
        _arrow_safe(df).to_parquet(out, index=False)
    return out
