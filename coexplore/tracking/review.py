"""What a reader of a study's MLflow experiment sees first: the runs-table view and the legend.

MLflow's runs table shows only run attributes until a reader picks columns, and nests the trials
under the parent run. A *shared view* (an experiment tag ``mlflow.sharedViewState.<key>``, the
state MLflow's own "Share" button saves) fixes that: the address ``...?viewStateShareKey=<key>``
opens the trials flat, front first, with the objective, key-metric, design and ``on_pareto``
columns. The legend (the experiment's and the parent run's description) says what each column
means and in which unit.

Example:
    >>> view_state(["accuracy", "energy_mj"], ["accuracy_drop <= 10"], ["pe_rows"])["orderByKey"]
    'tags.`on_pareto`'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from coexplore.tracking import entities as E

VIEW_KEY = "coexplore-review"
"""The share key of the review view: ``#/experiments/<id>/runs?viewStateShareKey=coexplore-review``."""
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
KIND_TAG = "mlflow.experimentKind"
KIND_MODEL_DEVELOPMENT = "custom_model_development"
"""MLflow's UI opens such an experiment on its runs (not its GenAI traces) and its runs in the
machine-learning view."""

_MEANING = {
    "accuracy": ("validation accuracy of the quantized model after the brief fine-tune", "fraction: 0.984 = 98.4 %"),
    "accuracy_drop": ("FP32 baseline accuracy minus accuracy", "percentage points"),
    "energy_j": ("energy of one inference (chip + DRAM)", "J"),
    "energy_mj": ("energy of one inference (chip + DRAM)", "mJ: 0.00125 mJ = 1.25 µJ"),
    "latency_ms": ("latency of one inference", "ms: 0.0215 ms = 21.5 µs"),
    "area_mm2": ("chip area (PE array, scratchpads, global buffer, NoC)", "mm²"),
    "edp": ("energy-delay product", "J·s"),
    "power_w": ("average power", "W"),
    "gops_per_mm2": ("throughput per area, 1 MAC = 2 ops", "GOPS/mm²"),
    "tops_per_w": ("energy efficiency, 1 MAC = 2 ops", "TOPS/W"),
    "macs": ("multiply-accumulates of one inference", "MACs"),
}


def _col(kind: str, key: str) -> str:
    return f"{kind}.`{key}`"


def view_state(objectives: Sequence[str], constraints: Sequence[str], design_params: Sequence[str]) -> dict[str, Any]:
    """The shared view's state: sorted by ``on_pareto`` (front first; a sort also un-nests the
    trials from the parent run); columns in reading order: ``on_pareto``, PE type, the objectives
    (wide enough for every digit), the other metrics a trial logs, the design parameters."""
    tags = [_col("tags", E.TAG_ON_PARETO), _col("tags", E.TAG_PE_TYPE)]
    objective_cols = [_col("metrics", m) for m in objectives]
    metrics = [_col("metrics", m) for m in E.top_level_metrics(objectives, constraints) if m not in objectives]
    metrics += [_col("metrics", E.margin_key(c)) for c in constraints]
    params = [_col("params", p) for p in design_params if p != "pe_type"]
    columns = [*tags, *objective_cols, *metrics, _col("tags", "feasible"), *params]
    return {"searchFilter": "", "orderByKey": _col("tags", E.TAG_ON_PARETO), "orderByAsc": False,
            "selectedColumns": columns, "columnOrder": [_col("attributes", "Run Name"), *columns],
            "columnWidths": {c: 170 for c in objective_cols}}


def design_params(config: dict[str, Any] | None) -> list[str]:
    """The space's searched parameters (hardware and model side) from a stored study config."""
    space = (config or {}).get("space") or {}
    return [*(space.get("model") or {}), *(space.get("hardware") or {})]


def view_url(runs_table_url: str) -> str:
    """A runs-table address (``.../runs?workflowType=machine_learning``) opening the review view."""
    sep = "&" if "?" in runs_table_url else "?"
    return f"{runs_table_url}{sep}viewStateShareKey={VIEW_KEY}"


def legend(study_name: str, objectives: Sequence[str], directions: Sequence[str], constraints: Sequence[str]) -> str:
    """Markdown for the experiment's and the parent run's description: what each column means."""
    goals = ", ".join(f"{o} ({'max' if d == 'maximize' else 'min'})" for o, d in zip(objectives, directions))
    lines = [f"**coexplore study `{study_name}`**: {goals}"
             + (f"; constraints: {'; '.join(f'`{c}`' for c in constraints)}" if constraints else "") + ".",
             "",
             (f"One child run per trial (`trial-<n>`); the parent run `{study_name}` holds the study, space and "
              "objectives files (`config/`), the summary metrics and the plots (`plots/`, PNG and interactive HTML)."),
             "",
             "| column | meaning | unit |", "|---|---|---|"]
    for m in E.top_level_metrics(objectives, constraints):
        meaning, unit = _MEANING.get(m, (m, ""))
        lines.append(f"| `{m}` | {meaning} | {unit} |")
    for c in constraints:
        unit = _MEANING.get(E.constrained_metric(c), ("", ""))[1].split(":")[0]
        lines.append(f"| `{E.margin_key(c)}` | how far inside `{c}`, in the metric's unit; negative = violated "
                     f"(Optuna's constraint value is this relative to the bound, sign flipped) | {unit} |")
    lines += [
        "| `on_pareto` (tag) | on the feasible Pareto front (one trial per distinct evaluated design) | |",
        "| `pe_type` (tag) | processing-element type evaluated | |",
        "| `feasible` (tag) | the design fits and every constraint holds | |",
        "| params | the design as evaluated: bits after clipping to the PE type, fixed values included | |",
        "",
        (f"Every other measurement (energy and area by component, EDP, power, proxy facts) is in each trial's "
         f"`{E.TRIAL_JSON}`, with its unit; per-layer figures in `{E.PER_LAYER_CSV}`."),
    ]
    return "\n".join(lines)


def view_tag_value(state: dict[str, Any]) -> str:
    """The experiment tag's value (plain JSON, which MLflow's UI reads)."""
    return json.dumps(state, separators=(",", ":"))
