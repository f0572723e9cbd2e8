"""The metric registry: every metric a study can optimize, constrain or log, with its unit.

Each metric declares the raw quantities it needs and how it is computed from them. Raw
quantities are what producers measure: the accuracy proxy (``accuracy``, ``baseline_accuracy``,
fractions in [0, 1]) and the cost model (``energy_j``, ``latency_s``, ``area_mm2``, ``macs``,
``cycles``, and the derived totals ``power_w``, ``edp``, ``gops_per_mm2``, ``tops_per_w`` that
:func:`coexplore.ppa.derived_totals` computes in one place). A metric whose raw quantities are
missing or not finite is NaN. Adding a metric is one :func:`register_metric` call.

=============== ============================================== =========
name            meaning                                        direction
=============== ============================================== =========
accuracy        validation accuracy, fraction in [0, 1]        maximize
accuracy_drop   baseline minus accuracy, percentage points     minimize
energy_j        energy of one inference, joules                minimize
energy_mj       the same in millijoules                        minimize
latency_ms      latency of one inference, milliseconds         minimize
area_mm2        chip area, mm^2                                minimize
edp             energy-delay product, joule-seconds            minimize
power_w         average power, watts                           minimize
gops_per_mm2    throughput per area, GOPS/mm^2, 1 MAC = 2 ops  maximize
tops_per_w      energy efficiency, TOPS/W, 1 MAC = 2 ops       maximize
macs            multiply-accumulates of one inference          minimize
=============== ============================================== =========
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class Metric:
    """A named metric: unit, natural direction, the raw quantities it needs and how to compute it.

    ``compute`` takes the needed quantities as positional arguments, in the order of ``needs``;
    they are floats for one trial or NumPy arrays for a batch of designs.
    """

    name: str
    unit: str
    direction: Direction
    needs: tuple[str, ...]
    compute: Callable[..., Any]


METRICS: dict[str, Metric] = {}
"""The metric registry, by name."""


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to the registry (replacing one of the same name) and return it."""
    METRICS[metric.name] = metric
    return metric


def _same(x: Any) -> Any:
    return x


for _m in (
    Metric("accuracy", "fraction", "maximize", ("accuracy",), _same),
    Metric("accuracy_drop", "percentage points", "minimize", ("accuracy", "baseline_accuracy"),
           lambda acc, base: (base - acc) * 100.0),
    Metric("energy_j", "J", "minimize", ("energy_j",), _same),
    Metric("energy_mj", "mJ", "minimize", ("energy_j",), lambda e: e * 1e3),
    Metric("latency_ms", "ms", "minimize", ("latency_s",), lambda t: t * 1e3),
    Metric("area_mm2", "mm^2", "minimize", ("area_mm2",), _same),
    Metric("edp", "J*s", "minimize", ("edp",), _same),
    Metric("power_w", "W", "minimize", ("power_w",), _same),
    Metric("gops_per_mm2", "GOPS/mm^2", "maximize", ("gops_per_mm2",), _same),
    Metric("tops_per_w", "TOPS/W", "maximize", ("tops_per_w",), _same),
    Metric("macs", "MACs", "minimize", ("macs",), _same),
):
    register_metric(_m)


def compute_metrics(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every registered metric from raw quantities; NaN where a needed quantity is missing.

    Example:
        >>> compute_metrics({"accuracy": 0.9, "baseline_accuracy": 0.95})["accuracy_drop"]
        5.000000000000004
    """
    out: dict[str, Any] = {}
    for name, m in METRICS.items():
        args = [raw.get(k, math.nan) for k in m.needs]
        out[name] = m.compute(*args)
    return out


def unknown_metric_error(name: str) -> str:
    """The one-line message for a metric name the registry does not hold."""
    return f"unknown metric '{name}'; allowed: {', '.join(METRICS)}"
