"""Trials of a space with model-side transform axes (``model.architecture``, ``model.prune``, ``model.vip``): each trial's network is
transformed, fine-tuned by the proxy and costed by the PPA model as that same network.

:class:`TransformTrialEvaluator` evaluates a trial exactly as :class:`TrialEvaluator` does, on a
view of itself whose proxy and workload are the transformed network's (:class:`ModelSide`), so
records, constraints and per-layer rows come from the one path. A trial whose transforms change
nothing (``prune: 0``) is a plain trial and shares the plain trial's cached accuracy.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from coexplore.search.configio import ConfigError
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.model_axes import PRUNE_PARAM, VIP_CHOICE

if TYPE_CHECKING:
    from coexplore.accuracy import ProxyEvaluator, ProxyResult
    from coexplore.quant import QuantPlan
    from coexplore.record import TrialRecord
    from coexplore.search.space import ModelChoice
    from coexplore.search.study_config import StudyConfig
    from coexplore.transforms import FilterPruning, ModelSide, VirtualPooling
    from coexplore.transforms.legr import LearnProgress
    from coexplore.workload import Workload


class _TransformedProxy:
    """The proxy as one trial's transformed network sees it: ``evaluate(plan)`` and ``workload()``."""

    def __init__(self, side: ModelSide, choices: dict[str, Any]) -> None:
        self._side, self._choices = side, choices

    def evaluate(self, plan: QuantPlan, fidelity: str = "brief") -> ProxyResult:
        return self._side.evaluate(plan, self._choices, fidelity)

    def workload(self) -> Workload:
        return self._side.workload(self._choices)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._side.proxy, name)


class TransformTrialEvaluator(TrialEvaluator):
    """A :class:`TrialEvaluator` whose trials may transform the network (prune it, ...).

    Args: as :class:`TrialEvaluator`, plus ``model_side``, the proxy with the space's transforms.
    """

    def __init__(self, *args: Any, model_side: ModelSide, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model_side = model_side

    def view(self, choice: ModelChoice) -> TrialEvaluator:
        """This evaluator with the proxy and workload of ``choice``'s transformed network."""
        if not choice.transforms:
            return self
        view = copy.copy(self)
        view.proxy = _TransformedProxy(self.model_side, dict(choice.transforms))
        view.workload = view.proxy.workload()
        return view

    def evaluate(self, hw: dict[str, Any], choice: ModelChoice) -> TrialRecord:
        """Evaluate one (hardware, model-side choice) pair on the transformed network."""
        if not choice.transforms:
            return super().evaluate(hw, choice)
        record = TrialEvaluator.evaluate(self.view(choice), hw, choice)
        extra = dict(record.extra)
        pruning = self.model_side.transforms.get(PRUNE_PARAM)
        if pruning is not None and PRUNE_PARAM in choice.transforms:
            extra["channels"] = pruning.channels(choice.transforms[PRUNE_PARAM])
        return replace(record, effective={**record.effective, **choice.transforms}, extra=extra)

    def _layer_bits(self, plan: QuantPlan) -> tuple[Any, Any]:
        """Per-layer bits of the transformed workload: a ViP fill pass runs at its convolution's bits."""
        from coexplore.transforms.vip import base_layer

        names = self.workload.layer_names
        if names == self.layer_names:
            return super()._layer_bits(plan)
        w, a = plan.resolve(self.layer_names)
        index = {n: i for i, n in enumerate(self.layer_names)}
        pick = [index[base_layer(n)] for n in names]
        return np.asarray(w, dtype=np.int64)[pick], np.asarray(a, dtype=np.int64)[pick]

    def proxy_accuracy(self, params: dict[str, Any], fidelity: str = "brief") -> tuple[float, float, str]:
        """(accuracy, baseline, cache key) of a trial's model-side choice, transforms included."""
        import optuna

        _, choice = self.space.suggest(optuna.trial.FixedTrial(params), self.layer_names)
        r = self.model_side.evaluate(self.plan(choice), choice.transforms, fidelity)
        return float(r.accuracy), float(r.baseline_accuracy), str(r.key)


def pruning_transform(cfg: StudyConfig, proxy: ProxyEvaluator, progress: LearnProgress | None = None) -> FilterPruning:
    """The study's pruning transform on its proxy (nothing learned yet).

    Raises:
        ConfigError: the space has no ``model.prune``, or the study costs another workload than
            the proxy model's (a pruned network's workload is the proxy model's, pruned).
    """
    from coexplore.transforms import FilterPruning

    model = cfg.space.model
    if model is None or getattr(model, "prune", None) is None:
        raise ConfigError([f"study {cfg.name}: space.model.prune: not set; this study has no pruning axis"])
    if cfg.workload:
        raise ConfigError([(f"study {cfg.name}: workload: {cfg.workload!r} cannot be pruned; remove it so the "
                            "PPA model costs the proxy model's own (pruned) layers")])
    return FilterPruning(proxy, model.prune.settings(model.pin_first_last), progress=progress)


def vip_transform(cfg: StudyConfig, proxy: ProxyEvaluator) -> VirtualPooling:
    """The study's ViP transform on its proxy model.

    Raises:
        ConfigError: ``model.vip`` names no layer, a layer ViP cannot run on, ``per: group`` without
            groups, or the study costs another workload than the proxy model's.
    """
    from coexplore.transforms import VirtualPooling

    model, where = cfg.space.model, f"study {cfg.name}: space.model.vip"
    vip, names = model.vip, list(proxy.layer_names)
    if cfg.workload:
        raise ConfigError([(f"study {cfg.name}: workload: {cfg.workload!r} cannot run ViP; remove it so the "
                            "PPA model costs the proxy model's own layers")])
    if vip.per == "group" and not model.groups:
        raise ConfigError([f"{where}.per: 'group' but no groups are defined (add model.groups)"])
    allowed = vip.allowed(names)
    if not allowed:
        raise ConfigError([f"{where}.layers: {vip.layers} match no layer of {proxy.model_name} ({', '.join(names)})"])
    try:
        return VirtualPooling(proxy, allowed, min_map=vip.min_map)
    except ValueError as exc:
        raise ConfigError([f"{where}.layers: {exc}"]) from None


def transform_evaluator(cfg: StudyConfig, proxy: ProxyEvaluator) -> TransformTrialEvaluator:
    """The trial evaluator of a study whose space has model-side transform axes."""
    from coexplore.transforms import ModelSide

    if getattr(cfg, "hardware_search", "joint") != "joint":
        raise ConfigError([(f"study {cfg.name}: hardware_search: {cfg.hardware_search} does not cost pruned "
                            "workloads yet; use hardware_search: joint with model.prune")])
    transforms: dict[str, Any] = {}
    if cfg.space.model.prune is not None:
        transforms[PRUNE_PARAM] = pruning_transform(cfg, proxy)
    if getattr(cfg.space.model, "vip", None) is not None:
        transforms[VIP_CHOICE] = vip_transform(cfg, proxy)
    if getattr(cfg.space.model, "architecture", None) is not None:
        from coexplore.nas import ARCH_CHOICE, ArchitectureError, SinglePathArchitecture

        try:
            transforms[ARCH_CHOICE] = SinglePathArchitecture(proxy)
        except ArchitectureError as exc:
            raise ConfigError([f"study {cfg.name}: space.model.architecture: {exc}"]) from None
    side = ModelSide(proxy, transforms)
    return TransformTrialEvaluator(cfg.space, cfg.objectives, proxy, proxy.workload(), model_side=side)


def learn_pruning(cfg: StudyConfig, storage_url: str, progress: LearnProgress | None = None) -> FilterPruning:
    """The study's pruning transform with its ranking ready: loaded from the study's storage, or
    learned (pretraining the FP32 folds first if needed) and stored there for every worker."""
    from coexplore.accuracy import ProxyEvaluator
    from coexplore.search.storage import proxy_cache_dir

    proxy = ProxyEvaluator(cfg.proxy_config(), cache_dir=proxy_cache_dir(storage_url), cache_url=storage_url,
                           progress=progress)
    pruning = pruning_transform(cfg, proxy, progress=progress)
    pruning.prepare()
    return pruning
