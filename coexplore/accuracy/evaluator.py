"""The accuracy proxy: pretrain FP32 once (cached), then per plan quantize, fine-tune briefly, validate."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from coexplore.accuracy.cache import ResultCache, load_checkpoint, save_checkpoint, stable_hash
from coexplore.accuracy.config import ProxyConfig
from coexplore.accuracy.datasets import DATASETS, DatasetError, load_dataset
from coexplore.accuracy.errors import ProxyError
from coexplore.accuracy.models import build_model
from coexplore.accuracy.training import Progress, accuracy, train
from coexplore.quant import QuantPlan, calibrate_quantizers, quantizable_layers, quantize_model

if TYPE_CHECKING:
    from coexplore.workload import Workload

VariantBuilder = Callable[[nn.Module, torch.Tensor], nn.Module]
"""``build(fp32_model, calibration_batch) -> model``: a model-side variant ready to fine-tune."""

CACHE_VERSION = 1
"""Bumped whenever a change to quantizers or training alters results, so old entries go unused."""


@dataclass(frozen=True)
class ProxyResult:
    """One proxy evaluation: accuracies are fractions in [0, 1]; ``drop = baseline - accuracy``.

    ``seconds`` is this call's wall time: milliseconds on a cache hit, and including the one-off
    FP32 pretraining when the first miss finds no checkpoint. ``key`` is the cache key.
    """

    accuracy: float
    baseline_accuracy: float
    drop: float
    seconds: float
    cache_hit: bool
    key: str

    def to_dict(self) -> dict:
        return asdict(self)


@contextmanager
def torch_settings(threads: int) -> Iterator[None]:
    """Threads, deterministic algorithms and a forked RNG for one evaluation.

    The caller's thread count, determinism flags and random state (a BoTorch sampler's, say) are
    restored afterwards.
    """
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)


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
        try:
            self.device = torch.device(config.resolved_device())
        except RuntimeError as exc:
            raise ProxyError(f"proxy.device: {exc}; allowed: auto, cpu, cuda, cuda:N") from exc
        if self.device.type == "cuda":
            if not torch.cuda.is_available():
                raise ProxyError(
                    "proxy.device: cuda requested but no GPU is available; use auto or cpu"
                )
            # Deterministic cuBLAS needs this before the first GPU matmul (pretraining included).
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
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
        self.pretrain_key = stable_hash(
            {
                "v": CACHE_VERSION,
                "model": self.model_name,
                # parameter names and shapes: a changed architecture never loads a stale checkpoint
                "architecture": [[k, list(v.shape)] for k, v in model.state_dict().items()],
                "dataset": config.dataset,
                "data": self.data.fingerprint(),
                "recipe": config.pretrain_recipe(),
            }
        )
        self.cache = ResultCache(
            cache_url or f"sqlite:///{(self.cache_dir / 'proxy_cache.db').resolve()}"
        )
        self.training_runs = 0
        """How many pretrains and fine-tunes this evaluator ran (a cache hit runs none)."""
        self._checkpoint: dict | None = None
        self._on_device: dict[str, torch.Tensor] | None = None

    # ----------------------------------------------------------------------------- FP32 model
    def _new_model(self) -> nn.Module:
        torch.manual_seed(self.config.seed)
        return build_model(self.model_name, self.data.num_classes, self.data.input_shape[1])

    @property
    def checkpoint_path(self) -> Path:
        """The FP32 checkpoint file, named by model, data set and the pretrain key."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.model_name)
        return self.cache_dir / f"fp32-{slug}-{self.config.dataset}-{self.pretrain_key[:16]}.pt"

    def _tensors(self) -> dict[str, torch.Tensor]:
        if self._on_device is None:
            d = self.data
            self._on_device = {
                k: getattr(d, k).to(self.device) for k in ("train_x", "train_y", "val_x", "val_y")
            }
        return self._on_device

    def _ensure_pretrained(self) -> dict:
        if self._checkpoint is None:
            ckpt = load_checkpoint(self.checkpoint_path)
            if ckpt is None or ckpt.get("key") != self.pretrain_key:
                ckpt = self._pretrain()
                save_checkpoint(self.checkpoint_path, ckpt)
            self._checkpoint = ckpt
        return self._checkpoint

    def _pretrain(self) -> dict:
        cfg, t = self.config, self._tensors()
        steps_per_epoch = max(1, len(t["train_y"]) // min(cfg.batch_size, len(t["train_y"])))
        with torch_settings(self.threads):
            model = self._new_model().to(self.device)
            train(
                model,
                t["train_x"],
                t["train_y"],
                steps=cfg.pretrain_epochs * steps_per_epoch,
                lr=cfg.pretrain_lr,
                batch_size=cfg.batch_size,
                seed=cfg.seed,
                num_classes=self.data.num_classes,
                weight_decay=cfg.weight_decay,
                phase="pretrain",
                progress=self.progress,
            )
            val = accuracy(model, t["val_x"], t["val_y"])
        self.training_runs += 1
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return {
            "key": self.pretrain_key,
            "state_dict": state,
            "val_accuracy": val,
            "model": self.model_name,
        }

    def fp32_model(self) -> nn.Module:
        """The pretrained FP32 model (pretrains once and caches on disk), on the CPU."""
        with torch.random.fork_rng(devices=[]):
            model = self._new_model()
        model.load_state_dict(self._ensure_pretrained()["state_dict"])
        return model.eval()

    @property
    def baseline_accuracy(self) -> float:
        """FP32 validation accuracy, a fraction in [0, 1] (pretrains once, cached on disk)."""
        return float(self._ensure_pretrained()["val_accuracy"])

    def workload(self) -> Workload:
        """The model's layer shapes for the PPA model, under the same layer names as the plans.

        Traced once when the evaluator is built (batch of 1); a :class:`Workload` is immutable.
        """
        return self._workload

    # ------------------------------------------------------------------------------ evaluation
    def key(self, plan: QuantPlan) -> str:
        """The cache key of ``plan``: its per-layer quantizers, the checkpoint and the fine-tune recipe.

        Plans that give every layer the same quantizers (``int8`` at 4 bits and ``int4``) share a key.
        """
        return self.variant_key({"layers": [s.canonical() for s in plan.layer_specs(self.layer_names)]})

    def variant_key(self, choices: dict) -> str:
        """The cache key of a model-side variant described by ``choices`` (JSON-able): the choices,
        the checkpoint, the fine-tune recipe and the cache version; nothing else."""
        return stable_hash(
            {
                "v": CACHE_VERSION,
                "checkpoint": self.pretrain_key,
                **choices,
                "recipe": self.config.finetune_recipe(),
            }
        )

    def evaluate(self, plan: QuantPlan) -> ProxyResult:
        """Validation accuracy of ``plan`` after the brief fine-tune, from the cache when stored.

        Raises:
            QuantPlanError: the plan names unknown layers or bits a scheme cannot take.
            ProxyError: fine-tuning diverged (NaN/inf or exploding loss); the message says where.
        """
        weights, acts = plan.resolve(self.layer_names)
        detail = {"plan": plan.key(), "model": self.model_name, "dataset": self.config.dataset,
                  "weight_bits": weights, "act_bits": acts}

        def build(fp32: nn.Module, calibration: torch.Tensor) -> nn.Module:
            model = quantize_model(fp32, plan, inplace=True, layer_names=self.layer_names)
            calibrate_quantizers(model.to(calibration.device), calibration)
            return model

        return self._evaluate(self.key(plan), build, detail)

    def evaluate_variant(self, choices: dict, build: VariantBuilder, detail: dict | None = None) -> ProxyResult:
        """Accuracy of a model-side variant of the FP32 model after the same brief fine-tune as plans.

        The one path for every model-side choice other than a plain quantization plan (ENOS
        operator assignments, later pruned or searched architectures): one recipe, one cache,
        one cache-key version.

        Args:
            choices: everything the variant's accuracy depends on (JSON-able); the cache key is
                built from it with :meth:`variant_key`.
            build: ``build(fp32_model, calibration_batch) -> model``: the variant, ready to
                fine-tune (quantizers calibrated), on the calibration batch's device.
            detail: stored beside the cached result, for review.

        Example:
            >>> ev.evaluate_variant({"kind": "enos", "layers": [...]}, build)  # doctest: +SKIP
        """
        return self._evaluate(self.variant_key(choices), build, {**(detail or {}), "choices": choices})

    def _evaluate(self, key: str, build: VariantBuilder, detail: dict) -> ProxyResult:
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
            )
        baseline = self.baseline_accuracy
        acc = self._finetune(build)
        seconds = time.perf_counter() - start
        self.cache.put(key, acc, baseline, seconds, {**detail, "recipe": self.config.finetune_recipe()})
        return ProxyResult(acc, baseline, baseline - acc, seconds, False, key)

    def _finetune(self, build: VariantBuilder) -> float:
        cfg, t = self.config, self._tensors()
        with torch_settings(self.threads):
            model = build(self.fp32_model().to(self.device), t["train_x"][: max(cfg.batch_size, 256)])
            model = model.to(self.device)
            torch.manual_seed(cfg.seed)
            train(
                model,
                t["train_x"],
                t["train_y"],
                steps=cfg.finetune_steps,
                lr=cfg.lr,
                batch_size=cfg.batch_size,
                seed=cfg.seed + 1,
                num_classes=self.data.num_classes,
                weight_decay=cfg.weight_decay,
                quant_lr=cfg.lr * cfg.quantizer_lr_scale,
                regularization_weight=cfg.distribution_loss_weight,
                phase="fine-tune",
                progress=self.progress,
            )
            acc = accuracy(model, t["val_x"], t["val_y"])
        self.training_runs += 1
        return acc

    def close(self) -> None:
        """Release the result cache's database connections."""
        self.cache.dispose()
