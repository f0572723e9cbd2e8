"""A trial's model-side transforms applied in their fixed order, costed and evaluated consistently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from coexplore.accuracy import fp32_distance
from coexplore.quant import calibrate_quantizers, quantize_model
from coexplore.transforms._base import STAGES, ModelTransform

if TYPE_CHECKING:
    import torch
    from torch import nn

    from coexplore.accuracy import ProxyEvaluator, ProxyResult
    from coexplore.quant import QuantPlan
    from coexplore.workload import Workload


def apply_transforms(model: nn.Module, transforms: Mapping[str, ModelTransform], choices: Mapping[str, Any]) -> nn.Module:
    """``model`` transformed by every chosen transform, in :data:`STAGES` order."""
    for t in sorted(transforms.values(), key=lambda t: STAGES.index(t.stage)):
        if t.name in choices and not t.is_identity(choices[t.name]):
            model = t.apply(model, choices[t.name])
    return model


class ModelSide:
    """The proxy plus a study's transforms: accuracy and workload of (transform choices, plan).

    Both come from the same transformed network: the proxy fine-tunes it (through
    :meth:`ProxyEvaluator.evaluate_variant`, cached under every transform's key and the plan's
    per-layer quantizers), and the PPA model costs its workload. Choices that transform nothing
    fall back to the plain plan (same cache entry as a study without these axes).

    Args:
        proxy: the accuracy proxy.
        transforms: the study's transforms by name (``{"prune": FilterPruning(...)}``).

    Example:
        >>> side = ModelSide(proxy, {"prune": FilterPruning(proxy)})  # doctest: +SKIP
        >>> side.evaluate(QuantPlan(pe_type="int8"), {"prune": 0.5}).accuracy  # doctest: +SKIP
    """

    def __init__(self, proxy: ProxyEvaluator, transforms: Mapping[str, ModelTransform]) -> None:
        self.proxy = proxy
        self.transforms = dict(transforms)

    def _active(self, choices: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(choices) - set(self.transforms)
        if unknown:
            raise ValueError(f"no transform named {', '.join(sorted(unknown))}; known: {', '.join(self.transforms)}")
        return {k: v for k, v in choices.items() if not self.transforms[k].is_identity(v)}

    def workload(self, choices: Mapping[str, Any]) -> Workload:
        """The transformed network's workload (batch of 1) under the proxy's layer names."""
        active = self._active(choices)
        # Transforms that rewrite a workload (ViP) apply, in stage order, to the others' network.
        ordered = sorted(active, key=lambda k: STAGES.index(self.transforms[k].stage))
        shaping = [k for k in ordered if not hasattr(self.transforms[k], "rewrite")]
        if len(shaping) > 1:  # several shape-changing transforms: trace the composed network itself
            workload = self._composed_workload({k: active[k] for k in shaping})
        else:
            workload = self.transforms[shaping[0]].workload(active[shaping[0]]) if shaping else self.proxy.workload()
        for k in ordered:
            if k not in shaping:
                workload = self.transforms[k].rewrite(workload, active[k])
        return workload

    def _composed_workload(self, choices: Mapping[str, Any]) -> Workload:
        """The workload of a freshly built network with ``choices`` applied in stage order (shapes
        depend on the choices only, not on the weights)."""
        import torch

        from coexplore.accuracy import build_model
        from coexplore.workload import from_module

        with torch.random.fork_rng(devices=[]):
            model = build_model(self.proxy.model_name, self.proxy.data.num_classes, self.proxy.input_shape[1])
        model = apply_transforms(model, self.transforms, choices)
        return from_module(model, self.proxy.input_shape, self.proxy.model_name)

    def evaluate(self, plan: QuantPlan, choices: Mapping[str, Any], fidelity: str = "brief") -> ProxyResult:
        """Accuracy of ``plan`` on the network ``choices`` give, after the proxy's fine-tune."""
        active = self._active(choices)
        if not active:
            return self.proxy.evaluate(plan, fidelity)
        names = self.proxy.layer_names
        specs = [s.canonical() for s in plan.layer_specs(names)]
        key = {"kind": "transformed", "transforms": {k: self.transforms[k].key(v) for k, v in sorted(active.items())},
               "layers": specs}

        def build(fp32: nn.Module, calibration: torch.Tensor) -> nn.Module:
            model = apply_transforms(fp32, self.transforms, active)
            model = quantize_model(model, plan, inplace=True, layer_names=names)
            calibrate_quantizers(model.to(calibration.device), calibration)
            return model

        detail = {"plan": plan.key(), "model": self.proxy.model_name, "transforms": dict(active)}
        return self.proxy.evaluate_variant(key, build, detail, fidelity, fp32_distance(*plan.resolve(names)))
