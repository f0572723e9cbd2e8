"""Parameter importance over the designs as evaluated, not the raw samples.

Optuna's fANOVA reads ``trial.params``: the sampled values, which alias (``act_bits=8`` on an
int4 PE runs at 4 bits) and so hide what mattered. Here each complete trial's record
``effective`` design becomes the parameters of a trial in an in-memory study; a per-layer list
of bits counts as its mean. The accuracy proxy sees only the model side of a design (PE type,
bits), so for the accuracy objectives only the space's model-side parameters are ranked: the
hardware sizing cannot change accuracy, and any importance fANOVA gave it would be noise.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

if TYPE_CHECKING:
    from coexplore.tracking.summary import StudyView

log = logging.getLogger(__name__)
MIN_TRIALS = 8
"""Below this many complete trials no importance is drawn (Optuna answers, but it would mislead)."""
_ACCURACY_OBJECTIVES = ("accuracy", "accuracy_drop")


def _scalar(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        if value and all(v == value[0] for v in value):
            return value[0]
        nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return sum(nums) / len(nums) if nums and len(nums) == len(value) else str(value)
    return value


def effective_table(view: StudyView) -> tuple[list[dict[str, Any]], list[list[float]]]:
    """(designs as evaluated, objective values) of the complete trials with a record."""
    designs, values = [], []
    for t in view.trials:
        rec = view.record(t)
        if t.state != TrialState.COMPLETE or t.values is None or rec is None or not rec.effective:
            continue
        designs.append({k: _scalar(v) for k, v in rec.effective.items()})
        values.append(list(t.values))
    return designs, values


def _distributions(designs: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    out = {}
    for k in keys:
        vals = [d.get(k) for d in designs]
        if any(v is None for v in vals) or len({repr(v) for v in vals}) < 2:
            continue  # absent somewhere or constant: nothing to rank
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            out[k] = FloatDistribution(float(min(vals)), float(max(vals)))
        else:
            out[k] = CategoricalDistribution(sorted({str(v) for v in vals}))
    return out


def model_side_params(view: StudyView) -> set[str] | None:
    """The space's model-side parameter names (None when the study has no stored space)."""
    space = (view.user_attrs.get("config") or {}).get("space") or {}
    model = space.get("model")
    return set(model) if isinstance(model, dict) else None


def importances(view: StudyView) -> tuple[dict[str, dict[str, float]], str] | None:
    """Objective name -> {parameter: share of variance}, and a note saying over what; None when
    there are too few trials or nothing varies."""
    import optuna

    designs, values = effective_table(view)
    if len(designs) < MIN_TRIALS:
        return None
    keys = sorted({k for d in designs for k in d})
    dists = _distributions(designs, keys)
    model_side = model_side_params(view)
    per_obj: dict[str, dict[str, float]] = {}
    for i, name in enumerate(view.objectives):
        use = {k: d for k, d in dists.items()
               if name not in _ACCURACY_OBJECTIVES or model_side is None or k.split(".")[0] in model_side}
        if not use:
            continue
        study = optuna.create_study(direction=view.directions[i])
        study.add_trials([optuna.trial.create_trial(
            params={k: (str(d[k]) if not isinstance(use[k], optuna.distributions.FloatDistribution) else float(d[k]))
                    for k in use}, distributions=use, value=v[i]) for d, v in zip(designs, values)])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
        except Exception as exc:  # noqa: BLE001 - degenerate data: skip this objective
            log.info("parameter importance for %s skipped: %s", name, exc)
            continue
        if imp:
            per_obj[name] = dict(imp)
    if not per_obj:
        return None
    note = f"{len(designs)} complete trials; per-layer bits as their mean"
    if model_side is not None and any(n in _ACCURACY_OBJECTIVES for n in per_obj):
        note += "; accuracy over model-side parameters only (the proxy never sees hardware sizing)"
    return per_obj, note
