"""The accuracy proxy: pretrain FP32 once (cached), then per plan quantize, fine-tune briefly, validate."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from coexplore.accuracy.budget import finetune_steps, fp32_distance
from coexplore.accuracy.cache import open_result_cache, stable_hash
from coexplore.accuracy.config import ProxyConfig
from coexplore.accuracy.datasets import dataset_spec, load_dataset
from coexplore.accuracy.errors import ProxyError
from coexplore.accuracy.folds import Fold, cv_folds
from coexplore.accuracy.fp32 import (
    baseline_correct,
    checkpoint_path,
    ensure_fp32,
    fp32_keys,
    subset_validation,
)
from coexplore.accuracy.models import ModelError, build_model
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
        spec = dataset_spec(config.dataset)
        self.model_name: str = config.model or spec.default_model
        if not self.model_name:
            raise ModelError("model: a user data set needs a model (a registered name or file.py:factory)")
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
        # A user checkpoint trained on its own split: one fold, that split (coexplore.accuracy.fp32).
        n_folds = 1 if config.checkpoint is not None else config.folds or spec.default_folds
        self.full_folds: list[Fold] = cv_folds(self.data, n_folds)
        self.folds: list[Fold] = subset_validation(self.full_folds, config.val_samples)
        """The folds as validated: each validation split cut to ``config.val_samples`` when set."""
        architecture = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        self._pretrain_keys = fp32_keys(self, architecture, CACHE_VERSION)
        self.pretrain_key: str = self._pretrain_keys[0]
        """Fold 0's FP32 key (the data set's split; a user checkpoint's content), a salt for other caches."""
        self.cache = open_result_cache(
            cache_url or f"sqlite:///{(self.cache_dir / 'proxy_cache.db').resolve()}"
        )
        self.training_runs = 0
        """How many pretrains and fine-tunes this evaluator ran (a cache hit runs none)."""
        self._checkpoints: dict[int, dict] = {}
        self._baseline_hits: dict[int, int] = {}
        self._on_device: dict[int, dict[str, torch.Tensor]] = {}
        if config.checkpoint is not None:
            ensure_fp32(self, 0)  # a checkpoint that does not fit is refused now, not at the first plan

    # ----------------------------------------------------------------------------- FP32 model
    def _new_model(self) -> nn.Module:
        torch.manual_seed(self.config.seed)
        return build_model(self.model_name, self.data.num_classes, self.data.input_shape[1])

    @property
    def checkpoint_path(self) -> Path:
        """Fold 0's pretrained FP32 checkpoint file, named by model, data set and the pretrain key."""
        return checkpoint_path(self, 0)

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
        return ensure_fp32(self, fold)

    def fp32_model(self, fold: int = 0) -> nn.Module:
        """The FP32 model, on the CPU: the user's checkpoint, or pretrained once (cached on disk).

        Fold 0's (the default) trained on the data set's own training split (``self.data``).
        """
        with torch.random.fork_rng(devices=[]):
            model = self._new_model()
        model.load_state_dict(self._ensure_pretrained(fold)["state_dict"])
        return model.eval()

    @property
    def baseline_accuracy(self) -> float:
        """FP32 validation accuracy pooled over the folds (their ``val_samples`` subsets), in [0, 1].

        A user checkpoint's is its own accuracy on the validation split, measured once (cached).
        """
        hits = sum(baseline_correct(self, k) for k in range(len(self.folds)))
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
        subset = {"val_samples": self.config.val_samples} if self.config.val_samples else {}
        return stable_hash(
            {"v": CACHE_VERSION, "checkpoints": self._pretrain_keys, **choices, "recipe": recipe, **subset}
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
