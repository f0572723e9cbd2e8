"""The accuracy proxy: pretrain FP32 once (cached), then per plan quantize, fine-tune briefly, validate."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from coexplore.accuracy.cache import load_checkpoint, open_result_cache, save_checkpoint, stable_hash
from coexplore.accuracy.budget import finetune_steps, fp32_distance
from coexplore.accuracy.config import ProxyConfig
from coexplore.accuracy.datasets import DATASETS, DatasetError, load_dataset
from coexplore.accuracy.errors import ProxyError
from coexplore.accuracy.folds import Fold, cv_folds
from coexplore.accuracy.models import build_model
from coexplore.accuracy.recheck import RecheckReport, recheck
from coexplore.accuracy.training import (
    Progress,
    correct,
    logits,
    reestimate_batchnorm,
    torch_settings,
    train,
)
from coexplore.quant import QuantPlan, calibrate_quantizers, quantizable_layers, quantize_model

if TYPE_CHECKING:
    from coexplore.workload import Workload

VariantBuilder = Callable[[nn.Module, torch.Tensor], nn.Module]
"""``build(fp32_model, calibration_batch) -> model``: a model-side variant ready to fine-tune."""

CACHE_VERSION = 2
"""Bumped whenever a change to quantizers or training alters results, so old entries go unused.

2: cross-validation folds, distillation from the FP32 teacher, BatchNorm re-estimation, step
budget scaled by distance from FP32, fidelity levels (issue 19)."""


@dataclass(frozen=True)
class ProxyResult:
    """One proxy evaluation: accuracies are fractions in [0, 1]; ``drop = baseline - accuracy``.

    ``seconds`` is this call's wall time: milliseconds on a cache hit, and including the one-off
    FP32 pretraining when the first miss finds no checkpoint. ``key`` is the cache key;
    ``fidelity`` (``brief`` or ``high``) and ``steps`` (fine-tune steps per fold) say how long the
    plan was fine-tuned.
    """

    accuracy: float
    baseline_accuracy: float
    drop: float
    seconds: float
    cache_hit: bool
    key: str
    fidelity: str = "brief"
    steps: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


_torch_settings = torch_settings
"""Former private name, still imported by ``coexplore.enos.study`` and ``coexplore.search.hybrid``."""


class ProxyEvaluator:
    """Accuracy of a quantization plan on a model and data set, after a brief fine-tune.

    Args:
        config: model, data, seed and recipes.
        cache_dir: folder for the FP32 checkpoint (and the default result database).
        cache_url: SQLAlchemy URL of the result cache (the study's storage); None: an SQLite file
            ``proxy_cache.db`` in ``cache_dir``.
        progress: optional callback ``(phase, done, total)`` during pretraining and fine-tuning.

    Example:
        >>> import tempfile
        >>> ev = ProxyEvaluator(ProxyConfig(finetune_steps=20), cache_dir=tempfile.mkdtemp())
        >>> ev.layer_names
        ['features.0', 'features.3', 'features.7', 'classifier']
        >>> r = ev.evaluate(QuantPlan(pe_type="int8"))  # doctest: +SKIP
    """

    def __init__(
        self,
        config: ProxyConfig,
        cache_dir: Path | str,
        cache_url: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        if config.dataset not in DATASETS:
            raise DatasetError(
                f"proxy.dataset: unknown {config.dataset!r}; allowed: {', '.join(DATASETS)}"
            )
        self.model_name: str = config.model or DATASETS[config.dataset].default_model
        self.data = load_dataset(config.dataset, config.data_dir)
        self.input_shape: tuple[int, ...] = self.data.input_shape
        self.device = config.torch_device()
        sample = torch.zeros(2, *self.input_shape[1:])
        with torch.random.fork_rng(devices=[]):
            model = self._new_model()
        self.layer_names: list[str] = quantizable_layers(model, sample)
        if not self.layer_names:
            raise ProxyError(f"model {self.model_name}: has no Conv2d/Linear layer to quantize")
        from coexplore.workload import from_module

        self._workload = from_module(model, self.input_shape, self.model_name)
        self.macs_per_sample = self._workload.macs
        self.threads = config.resolved_threads(self.macs_per_sample * config.batch_size)
        self.folds: list[Fold] = cv_folds(
            self.data, config.folds or DATASETS[config.dataset].default_folds
        )
        architecture = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        data_print = self.data.fingerprint()
        self._pretrain_keys = [
            stable_hash(
                {
                    "v": CACHE_VERSION,
                    "model": self.model_name,
                    # parameter names and shapes: a changed architecture never loads a stale checkpoint
                    "architecture": architecture,
                    "dataset": config.dataset,
                    "data": data_print,
                    "fold": fold.name,
                    "recipe": config.pretrain_recipe(),
                }
            )
            for fold in self.folds
        ]
        self.pretrain_key: str = self._pretrain_keys[0]
        """Fold 0's checkpoint key (the data set's own split), also a salt for other caches."""
        self.cache = open_result_cache(
            cache_url or f"sqlite:///{(self.cache_dir / 'proxy_cache.db').resolve()}"
        )
        self.training_runs = 0
        """How many pretrains and fine-tunes this evaluator ran (a cache hit runs none)."""
        self._checkpoints: dict[int, dict] = {}
        self._on_device: dict[int, dict[str, torch.Tensor]] = {}

    # ----------------------------------------------------------------------------- FP32 model
    def _new_model(self) -> nn.Module:
        torch.manual_seed(self.config.seed)
        return build_model(self.model_name, self.data.num_classes, self.data.input_shape[1])

    def _checkpoint_path(self, fold: int) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.model_name)
        key = self._pretrain_keys[fold]
        return self.cache_dir / f"fp32-{slug}-{self.config.dataset}-{key[:16]}.pt"

    @property
    def checkpoint_path(self) -> Path:
        """Fold 0's FP32 checkpoint file, named by model, data set and the pretrain key."""
        return self._checkpoint_path(0)

    def _tensors(self, fold: int) -> dict[str, torch.Tensor]:
        """Fold ``fold``'s data on the device, with the FP32 teacher's logits on its training set."""
        if fold not in self._on_device:
            f = self.folds[fold]
            t = {k: getattr(f, k).to(self.device) for k in ("train_x", "train_y", "val_x", "val_y")}
            teacher = self.fp32_model(fold).to(self.device)
            with torch_settings(self.threads):
                t["teacher"] = logits(teacher, t["train_x"])
            self._on_device[fold] = t
        return self._on_device[fold]

    def _ensure_pretrained(self, fold: int = 0) -> dict:
        if fold not in self._checkpoints:
            path, key = self._checkpoint_path(fold), self._pretrain_keys[fold]
            ckpt = load_checkpoint(path)
            if ckpt is None or ckpt.get("key") != key:
                ckpt = self._pretrain(fold)
                save_checkpoint(path, ckpt)
            self._checkpoints[fold] = ckpt
        return self._checkpoints[fold]

    def _pretrain(self, fold: int) -> dict:
        cfg, f = self.config, self.folds[fold]
        train_x, train_y = f.train_x.to(self.device), f.train_y.to(self.device)
        steps_per_epoch = max(1, len(train_y) // min(cfg.batch_size, len(train_y)))
        with torch_settings(self.threads):
            model = self._new_model().to(self.device)
            train(
                model,
                train_x,
                train_y,
                steps=cfg.pretrain_epochs * steps_per_epoch,
                lr=cfg.pretrain_lr,
                batch_size=cfg.batch_size,
                seed=cfg.seed,
                num_classes=self.data.num_classes,
                weight_decay=cfg.weight_decay,
                phase="pretrain" if len(self.folds) == 1 else f"pretrain fold {fold}",
                progress=self.progress,
            )
            hits = correct(model, f.val_x.to(self.device), f.val_y.to(self.device))
        self.training_runs += 1
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return {
            "key": self._pretrain_keys[fold],
            "state_dict": state,
            "val_accuracy": hits / max(len(f.val_y), 1),
            "val_correct": hits,
            "model": self.model_name,
        }

    def fp32_model(self, fold: int = 0) -> nn.Module:
        """A pretrained FP32 model (pretrains once and caches on disk), on the CPU.

        Fold 0's (the default) trained on the data set's own training split (``self.data``).
        """
        with torch.random.fork_rng(devices=[]):
            model = self._new_model()
        model.load_state_dict(self._ensure_pretrained(fold)["state_dict"])
        return model.eval()

    @property
    def baseline_accuracy(self) -> float:
        """FP32 validation accuracy pooled over the folds, a fraction in [0, 1] (cached on disk)."""
        ckpts = [self._ensure_pretrained(k) for k in range(len(self.folds))]
        hits = sum(round(c["val_accuracy"] * len(f.val_y)) for c, f in zip(ckpts, self.folds))
        return hits / sum(len(f.val_y) for f in self.folds)

    def workload(self) -> Workload:
        """The model's layer shapes for the PPA model, under the same layer names as the plans.

        Traced once when the evaluator is built (batch of 1); a :class:`Workload` is immutable.
        """
        return self._workload

    # ------------------------------------------------------------------------------ evaluation
    def steps(self, plan: QuantPlan, fidelity: str = "brief") -> int:
        """Fine-tune steps (per fold) for ``plan`` at ``fidelity``: scaled by its distance from FP32.

        ``brief``: ``finetune_steps x (1 + step_scale x d)``; ``high``: the same rule with
        ``config.high_fidelity``'s steps and scale. ``d`` is
        :func:`coexplore.accuracy.budget.fp32_distance` of the plan's bits.
        """
        weights, acts = plan.resolve(self.layer_names)
        return self._steps(fidelity, fp32_distance(weights, acts))

    def _steps(self, fidelity: str, distance: float) -> int:
        recipe = self.config.finetune_recipe(fidelity)
        return finetune_steps(recipe["steps"], recipe["step_scale"], distance)

    def key(self, plan: QuantPlan, fidelity: str = "brief") -> str:
        """The cache key of ``plan`` at ``fidelity``: its per-layer quantizers, the checkpoints and
        the fine-tune recipe with the plan's step budget.

        Plans that give every layer the same quantizers (``int8`` at 4 bits and ``int4``) share a
        key; a brief and a high-fidelity result never do (their step budgets differ).
        """
        layers = [s.canonical() for s in plan.layer_specs(self.layer_names)]
        return self.variant_key({"layers": layers}, self.steps(plan, fidelity), fidelity)

    def variant_key(self, choices: dict, steps: int | None = None, fidelity: str = "brief") -> str:
        """The cache key of a model-side variant described by ``choices`` (JSON-able): the choices,
        the checkpoints, the fine-tune recipe at ``fidelity`` (with ``steps``, default the budget
        at no distance) and the cache version; nothing else."""
        recipe = self.config.finetune_recipe(fidelity)
        recipe["steps"] = steps or self._steps(fidelity, 0.0)
        return stable_hash(
            {"v": CACHE_VERSION, "checkpoints": self._pretrain_keys, **choices, "recipe": recipe}
        )

    def evaluate(self, plan: QuantPlan, fidelity: str = "brief") -> ProxyResult:
        """Validation accuracy of ``plan`` after a fine-tune, from the cache when stored.

        Args:
            plan: the quantization plan.
            fidelity: ``"brief"`` (the search's proxy) or ``"high"`` (the long fine-tune of
                ``config.high_fidelity``, to re-check a Pareto front); cached under separate keys.

        Raises:
            QuantPlanError: the plan names unknown layers or bits a scheme cannot take.
            ProxyError: fine-tuning diverged (NaN/inf or exploding loss); the message says where.

        Example:
            >>> ev.evaluate(QuantPlan(pe_type="int4"), fidelity="high").accuracy  # doctest: +SKIP
        """
        weights, acts = plan.resolve(self.layer_names)
        detail = {"plan": plan.key(), "model": self.model_name, "dataset": self.config.dataset,
                  "weight_bits": weights, "act_bits": acts}

        def build(fp32: nn.Module, calibration: torch.Tensor) -> nn.Module:
            model = quantize_model(fp32, plan, inplace=True, layer_names=self.layer_names)
            calibrate_quantizers(model.to(calibration.device), calibration)
            return model

        steps = self.steps(plan, fidelity)
        return self._evaluate(self.key(plan, fidelity), build, detail, fidelity, steps)

    def evaluate_variant(
        self,
        choices: dict,
        build: VariantBuilder,
        detail: dict | None = None,
        fidelity: str = "brief",
        distance: float = 0.0,
    ) -> ProxyResult:
        """Accuracy of a model-side variant of the FP32 model after the same fine-tune as plans.

        The one path for every model-side choice other than a plain quantization plan (ENOS
        operator assignments, later pruned or searched architectures): one recipe, one cache,
        one cache-key version.

        Args:
            choices: everything the variant's accuracy depends on (JSON-able); the cache key is
                built from it with :meth:`variant_key`.
            build: ``build(fp32_model, calibration_batch) -> model``: the variant, ready to
                fine-tune (quantizers calibrated), on the calibration batch's device. Called once
                per fold.
            detail: stored beside the cached result, for review.
            fidelity: ``"brief"`` or ``"high"``, as for :meth:`evaluate`.
            distance: the variant's distance from FP32 in [0, 1], which scales its step budget
                (:func:`coexplore.accuracy.budget.fp32_distance`); 0: the base budget.

        Example:
            >>> ev.evaluate_variant({"kind": "enos", "layers": [...]}, build)  # doctest: +SKIP
        """
        steps = self._steps(fidelity, distance)
        key = self.variant_key(choices, steps, fidelity)
        return self._evaluate(key, build, {**(detail or {}), "choices": choices}, fidelity, steps)

    def _evaluate(
        self, key: str, build: VariantBuilder, detail: dict, fidelity: str, steps: int
    ) -> ProxyResult:
        start = time.perf_counter()
        hit = self.cache.get(key)
        if hit is not None:
            return ProxyResult(
                hit.accuracy,
                hit.baseline_accuracy,
                hit.baseline_accuracy - hit.accuracy,
                time.perf_counter() - start,
                True,
                key,
                fidelity,
                steps,
            )
        baseline = self.baseline_accuracy
        recipe = {**self.config.finetune_recipe(fidelity), "steps": steps}
        hits = sum(self._finetune(build, fold, recipe) for fold in range(len(self.folds)))
        acc = hits / sum(len(f.val_y) for f in self.folds)
        seconds = time.perf_counter() - start
        recipe["folds"] = len(self.folds)
        self.cache.put(
            key, acc, baseline, seconds, {**detail, "fidelity": fidelity, "recipe": recipe}
        )
        return ProxyResult(acc, baseline, baseline - acc, seconds, False, key, fidelity, steps)

    def _finetune(self, build: VariantBuilder, fold: int, recipe: dict) -> int:
        """Correctly classified validation images of ``fold`` after fine-tuning ``build``'s model.

        Distils from the fold's FP32 model (its logits on the training set, computed once) and
        re-estimates BatchNorm statistics afterwards, as the recipe says.
        """
        cfg, t = self.config, self._tensors(fold)
        with torch_settings(self.threads):
            calibration = t["train_x"][: max(cfg.batch_size, 256)]
            model = build(self.fp32_model(fold).to(self.device), calibration).to(self.device)
            torch.manual_seed(cfg.seed)
            train(
                model,
                t["train_x"],
                t["train_y"],
                steps=recipe["steps"],
                lr=recipe["lr"],
                batch_size=cfg.batch_size,
                seed=cfg.seed + 1,
                num_classes=self.data.num_classes,
                weight_decay=cfg.weight_decay,
                quant_lr=recipe["lr"] * cfg.quantizer_lr_scale,
                regularization_weight=cfg.distribution_loss_weight,
                teacher_logits=t["teacher"],
                distill_weight=cfg.distill_weight,
                temperature=cfg.distill_temperature,
                phase="fine-tune" if len(self.folds) == 1 else f"fine-tune fold {fold}",
                progress=self.progress,
            )
            if cfg.bn_reestimate:
                reestimate_batchnorm(model, t["train_x"])
            hits = correct(model, t["val_x"], t["val_y"])
        self.training_runs += 1
        return hits

    def recheck(self, plans: Iterable[QuantPlan]) -> RecheckReport:
        """Each distinct plan's brief and high-fidelity accuracy and their rank agreement.

        See :func:`coexplore.accuracy.recheck.recheck`.
        """
        return recheck(self, plans)

    def close(self) -> None:
        """Release the result cache's database connections."""
        self.cache.dispose()
