"""Every trial of a study as one table row (design as evaluated, metrics, objectives, state), for pandas users."""

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

    ``params_<name>`` is the design as evaluated (the trial record's ``effective`` values: bits
    after clipping to the PE type, fixed values included), as in MLflow; a per-layer list whose
    entries are equal is that one value, any other is text (``"[8, 4, 4]"``). Integer columns stay
    integers (pandas' nullable ``Int64`` where some trials lack the value). Optuna's own
    ``study.trials_dataframe()`` has the raw samples.

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
        design = rec.effective if rec is not None and rec.effective else t.params
        for k, v in design.items():
            row[f"params_{k}"] = _cell(v)
        for k, v in (rec.metrics if rec is not None else {}).items():
            row[f"metrics_{k}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=_FIXED)
    ordered = _FIXED + sorted(c for c in df.columns if c not in _FIXED)
    return _integers_stay_integers(df[ordered])


def _cell(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return value[0] if value and all(v == value[0] for v in value) else str(list(value))
    return value


def _integers_stay_integers(df: pd.DataFrame) -> pd.DataFrame:
    """Columns whose values are all integers (Python or NumPy, not bool) become ``Int64`` (missing
    values would otherwise turn them into floats: bits written as ``2.0``)."""
    import numbers

    out = df.copy()
    for col in out.columns:
        values = out[col].dropna()
        if len(values) and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
            out[col] = out[col].astype("Int64")
    return out


def default_export_path(study: optuna.Study, storage_url: str, fmt: str) -> Path:
    """``<study>-trials.<fmt>`` in the study's run folder: beside an SQLite storage (by default
    ``coexplore-runs/``), else ``./coexplore-runs/``."""
    from coexplore.tracking.store import DEFAULT_RUNS_DIR, sqlite_path

    db = sqlite_path(storage_url)
    folder = db.parent if db is not None else DEFAULT_RUNS_DIR
    return folder / f"{study.study_name}-trials.{fmt}"


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing types (a categorical param with int and str choices) become text for Parquet."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1:
                out[col] = out[col].map(lambda v: None if pd.isna(v) else str(v))
    return out


def export_trials(study: optuna.Study, fmt: ExportFormat, out: Path | None = None,
                  storage_url: str | None = None) -> Path:
    """Write :func:`trials_frame` to ``out``; returns the path.

    Args:
        study: the study to export.
        fmt: ``"csv"`` or ``"parquet"``.
        out: output file (its folder is created); default :func:`default_export_path`.
        storage_url: the study's storage URL, for the default path (``""``: the working directory's
            ``coexplore-runs/``).
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"export format {fmt!r} is not supported; use 'csv' or 'parquet'")
    out = Path(out) if out is not None else default_export_path(study, storage_url or "", fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    df = trials_frame(study)
    if fmt == "csv":
        df.to_csv(out, index=False)
    else:
        _arrow_safe(df).to_parquet(out, index=False)
    return out
