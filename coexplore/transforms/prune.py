"""Filter pruning to a MAC budget (the ``prune`` axis): LeGR, unlearned L2 or uniform ranking.

The value is the pruning level, the fraction of the network's MACs removed. How many channels each
group keeps at a level is decided once, on fold 0's FP32 model (so the architecture, and with it
the workload, is the same on every fold); which channels stay in each fold's model is ranked on
that fold's own filters with the same per-layer transform.

The LeGR transform is learned on first need (:meth:`FilterPruning.prepare`): each candidate prunes
fold 0's FP32 model to the tightest level of the space and fine-tunes it (in FP32, with the proxy's
learning rate and distillation) on 80% of fold 0's training images; its fitness is the accuracy on
the other 20%, so the validation images the proxy reports stay unseen. The result is stored in
the study's storage (the proxy's result table, under a key of the checkpoints, the level and the
evolution budget) and as JSON beside the FP32 checkpoint, so workers share it and a resumed study
does not learn it again.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from coexplore.accuracy import build_model, torch_settings
from coexplore.accuracy.training import accuracy, logits, reestimate_batchnorm, train
from coexplore.transforms._base import ModelTransform
from coexplore.transforms.channels import ChannelGraph, channel_graph, producer_norms, prune_model
from coexplore.transforms.legr import LearnedRanking, LearnProgress, evolve
from coexplore.transforms.ranking import (
    Affine,
    channel_scores,
    keep_counts,
    keep_indices,
    producer_layers,
)
from coexplore.transforms.settings import PruneSettings
from coexplore.workload import Workload, from_module

if TYPE_CHECKING:
    from torch import nn

    from coexplore.accuracy import ProxyEvaluator

HOLDOUT = 0.2
"""Fraction of fold 0's training images that score LeGR's candidates."""


class FilterPruning(ModelTransform):
    """Removes the lowest-ranked filters until the MACs meet ``(1 - level)`` of the unpruned ones.

    Args:
        proxy: the study's accuracy proxy (its model, data, FP32 checkpoints and result cache).
        settings: method, pinning, LeGR's level and budget.
        progress: called while LeGR learns, as ``(phase, done, total)``.

    Example:
        >>> pruning = FilterPruning(proxy, PruneSettings(method="l2"))  # doctest: +SKIP
        >>> pruning.channels(0.5)  # doctest: +SKIP
        {'features.0': 11, 'features.3': 12, 'features.7': 18, 'classifier': 10}
    """

    name = "prune"
    stage = "pruning"

    def __init__(self, proxy: ProxyEvaluator, settings: PruneSettings | None = None,
                 progress: LearnProgress | None = None) -> None:
        self.proxy = proxy
        self.settings = settings or PruneSettings()
        self.progress = progress
        with torch.random.fork_rng(devices=[]):
            skeleton = build_model(proxy.model_name, proxy.data.num_classes, proxy.input_shape[1])
        self.graph: ChannelGraph = channel_graph(skeleton, proxy.input_shape, keep_ends=self.settings.keep_ends,
                                                 name=proxy.model_name)
        self.learned: LearnedRanking | None = None
        self.learned_from_cache = False
        self._counts: dict[float, np.ndarray] = {}
        self._workloads: dict[float, Workload] = {}

    # ---- the ranking ----------------------------------------------------------------------
    def ranking_key(self) -> str:
        """Cache key of the learned LeGR transform: checkpoints, fine-tune recipe, level, budget, pinning."""
        s = self.settings
        return self.proxy.variant_key({"kind": "legr-ranking", "level": s.learn_level, "keep_ends": s.keep_ends,
                                       "evolution": s.evolution.model_dump(), "holdout": HOLDOUT})

    def _ranking_file(self) -> Any:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.proxy.model_name)
        return self.proxy.cache_dir / f"legr-{slug}-{self.ranking_key()[:16]}.json"

    def prepare(self) -> None:
        """Load LeGR's transform from the study storage, or learn and store it (other methods: no-op)."""
        if self.settings.method != "legr" or self.learned is not None:
            return
        key, cache = self.ranking_key(), self.proxy.cache
        hit = cache.get(key)
        if hit is not None and "legr" in hit.detail:
            self.learned, self.learned_from_cache = LearnedRanking.from_dict(hit.detail["legr"]), True
        else:
            learned = self.learn()
            cache.put(key, learned.fitness, learned.identity_fitness, learned.seconds,
                      {"legr": learned.to_dict(), "model": self.proxy.model_name, "level": self.settings.learn_level})
            stored = cache.get(key)  # another worker may have stored its own first: everyone uses one
            self.learned = LearnedRanking.from_dict(stored.detail["legr"]) if stored is not None else learned
        path = self._ranking_file()
        if not path.is_file():
            path.write_text(json.dumps(self.learned.to_dict(), indent=1))

    def affine(self) -> Affine:
        """The per-layer transform of the filter norms (the identity for ``l2`` and ``uniform``)."""
        if self.settings.method != "legr":
            return Affine.identity(producer_layers(self.graph))
        self.prepare()
        assert self.learned is not None
        return self.learned.affine

    def learn(self) -> LearnedRanking:
        """Run LeGR's evolution on fold 0 (no cache); see the module docs for the fitness."""
        proxy, cfg = self.proxy, self.proxy.config
        fold, level = proxy.folds[0], self.settings.learn_level
        gen = torch.Generator().manual_seed(self.settings.evolution.seed)
        perm = torch.randperm(len(fold.train_y), generator=gen)
        cut = round(len(perm) * (1 - HOLDOUT))
        fit, held = perm[:cut], perm[cut:]
        dev = proxy.device
        x, y = fold.train_x[fit].to(dev), fold.train_y[fit].to(dev)
        hx, hy = fold.train_x[held].to(dev), fold.train_y[held].to(dev)
        fp32 = proxy.fp32_model(0)
        with torch_settings(proxy.threads):
            teacher = logits(fp32.to(dev), x)

        def fitness(affine: Affine) -> float:
            model = proxy.fp32_model(0)
            scores = channel_scores(model, self.graph, affine)
            counts = keep_counts(self.graph, scores, level)
            model = prune_model(model, self.graph, keep_indices(scores, counts)).to(dev)
            with torch_settings(proxy.threads):
                torch.manual_seed(cfg.seed)
                train(model, x, y, steps=self.settings.evolution.steps, lr=cfg.lr, batch_size=cfg.batch_size,
                      seed=cfg.seed + 1, num_classes=proxy.data.num_classes, weight_decay=cfg.weight_decay,
                      teacher_logits=teacher, distill_weight=cfg.distill_weight,
                      temperature=cfg.distill_temperature, phase="legr candidate")
                if cfg.bn_reestimate:
                    reestimate_batchnorm(model, x)
                return accuracy(model, hx, hy)

        layers = producer_layers(self.graph)
        norms: dict[str, torch.Tensor] = {}
        for g in self.graph.prunable:
            norms.update(producer_norms(fp32, self.graph.groups[g]))
        std = [float(norms[name].std()) for name in layers]
        return evolve(layers, std, fitness, self.settings.evolution, self.progress)

    # ---- the contract ---------------------------------------------------------------------
    def is_identity(self, value: Any) -> bool:
        return float(value) <= 0.0

    def counts(self, level: float) -> np.ndarray:
        """Channels kept in each channel group at ``level`` (decided on fold 0's FP32 model)."""
        level = float(level)
        if level not in self._counts:
            scores = channel_scores(self.proxy.fp32_model(0), self.graph, self.affine())
            self._counts[level] = keep_counts(self.graph, scores, level, uniform=self.settings.method == "uniform")
        return self._counts[level]

    def channels(self, level: float) -> dict[str, int]:
        """Output channels of every layer at ``level``, by layer name."""
        return self.graph.layer_channels(self.counts(level))

    def key(self, value: Any) -> dict:
        level = float(value)
        return {"level": level, "method": self.settings.method, "keep_ends": self.settings.keep_ends,
                "channels": self.counts(level).tolist(), "ranking": self.affine().key()}

    def apply(self, model: nn.Module, value: Any) -> nn.Module:
        if self.is_identity(value):
            return model
        scores = channel_scores(model, self.graph, self.affine())
        return prune_model(model, self.graph, keep_indices(scores, self.counts(float(value))))

    def workload(self, value: Any) -> Workload:
        level = float(value)
        if level not in self._workloads:
            with torch.random.fork_rng(devices=[]):
                model = build_model(self.proxy.model_name, self.proxy.data.num_classes, self.proxy.input_shape[1])
            if not self.is_identity(level):
                counts = self.counts(level)
                prune_model(model, self.graph, {g: torch.arange(int(counts[g])) for g in self.graph.prunable})
            self._workloads[level] = from_module(model, self.proxy.input_shape, self.proxy.model_name)
        return self._workloads[level]
