"""The accuracy proxy's settings: model, data, seed and the pretrain / fine-tune recipes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import torch

MACS_PER_THREAD = 200_000_000
"""Work (multiply-accumulates per training batch) that justifies one more torch thread."""

# Recipe key (as hashed into the cache keys: renaming one orphans every cached entry) -> field.
_SHARED_RECIPE = {"seed": "seed", "batch_size": "batch_size", "weight_decay": "weight_decay"}
PRETRAIN_RECIPE = {"epochs": "pretrain_epochs", "lr": "pretrain_lr", **_SHARED_RECIPE}
"""Fields of the FP32 pretraining recipe, part of the checkpoint's key."""
FINETUNE_RECIPE = {
    "steps": "finetune_steps",
    "step_scale": "step_scale",
    "distill_weight": "distill_weight",
    "distill_temperature": "distill_temperature",
    "bn_reestimate": "bn_reestimate",
    "lr": "lr",
    "quantizer_lr_scale": "quantizer_lr_scale",
    "distribution_loss_weight": "distribution_loss_weight",
    **_SHARED_RECIPE,
}
"""Fields of the quantization-aware fine-tune recipe, part of every result's key."""


FIDELITIES = ("brief", "high")
"""Fidelity levels of :meth:`ProxyEvaluator.evaluate`: the search's brief fine-tune, and a long
one (:class:`HighFidelity`) to re-check a front."""


class HighFidelity(BaseModel):
    """The high-fidelity fine-tune that re-checks a front: its own step budget and learning rate.

    Everything else (folds, distillation, BatchNorm re-estimation, batch size, seed) is the brief
    recipe's. Separate fields, so that tuning the brief proxy for speed never moves the yardstick
    it is measured against. The defaults are 10x the brief budget of issue 3 (120 steps).

    Args:
        steps: steps per fold for a plan at 8 bits; a plan at distance ``d`` from FP32 gets
            ``steps x (1 + step_scale x d)``.
        lr: peak Adam learning rate (cosine decay to 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(default=1200, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    step_scale: float = Field(default=2.0, ge=0)


class ProxyConfig(BaseModel):
    """Everything the proxy's accuracy depends on, plus where and how fast it runs.

    The study file embeds this as its ``proxy:`` section. Defaults suit the digits data set: one
    evaluation (quantize, fine-tune ``finetune_steps`` steps, validate) takes a few seconds on two
    CPU cores, and pretraining the FP32 model (once, cached) about ten seconds.

    Args:
        model: a registered model name (``digits_cnn``, ``resnet20``, ``mobilenetv2``) or
            ``"module:factory"``; None: the data set's default model.
        dataset: a registered data set (``digits``, ``cifar10``), or a user's data function
            ``path/to/file.py:function`` / ``package.module:function`` returning ``(train, val)``
            (:mod:`coexplore.accuracy.userdata`); it runs the user's code.
        data_dir: folder with the data set's files (CIFAR-10 python batches); digits needs none.
        seed: seeds the pretraining, the batch order and every fine-tune.
        folds: cross-validation folds (see :mod:`coexplore.accuracy.folds`); None: the data set's
            default (4 on digits, 1 on CIFAR-10). Each fold costs one pretraining (cached) and one
            fine-tune per plan; the accuracy is pooled over every fold's validation images.
            With ``checkpoint`` there is one fold: the user's own train / validation split.
        checkpoint: a trained FP32 model file (:mod:`coexplore.accuracy.checkpoint`): a
            ``state_dict`` (read with ``torch.load(weights_only=True)``) or a whole saved module
            (``torch.save(model)``; unpickling it runs code, like a study file's ``module:factory``).
            Nothing is pretrained; the baseline is its accuracy on the validation split.
        val_samples: validate every plan (and the baseline) on this many images of each fold's
            validation split (a fixed random subset); None: all of them. ``coexplore study recheck
            --full-validation`` re-measures the front on the full split.
        finetune_steps: the brief fine-tune's steps for a plan at 8 bits everywhere; a plan
            further from FP32 gets up to ``1 + step_scale`` times as many
            (:func:`coexplore.accuracy.budget.finetune_steps`).
        distill_weight: weight of the distillation loss from the FP32 teacher (0: labels only).
        bn_reestimate: re-estimate BatchNorm statistics on the training data after the fine-tune.
        high_fidelity: the long fine-tune of ``evaluate(plan, fidelity="high")``.
        threads: torch intra-op threads; None: the cores this process may use, fewer for models
            too small to keep them busy (see :meth:`resolved_threads`).
        device: ``auto`` (GPU when present), ``cpu`` or ``cuda``/``cuda:N``.

    Example:
        >>> ProxyConfig(finetune_steps=50).dataset
        'digits'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    dataset: str = "digits"
    data_dir: Path | None = None
    seed: int = 0
    folds: int | None = Field(default=None, ge=1, le=20)
    checkpoint: Path | None = None
    val_samples: int | None = Field(default=None, ge=1)
    # Pretraining recipe (FP32, Adam + cosine decay); part of the checkpoint's cache key.
    pretrain_epochs: int = Field(default=40, ge=1)
    pretrain_lr: float = Field(default=3e-3, gt=0)
    # Fine-tune recipe (quantized, Adam + cosine decay); part of the result's cache key.
    finetune_steps: int = Field(default=120, ge=0)
    lr: float = Field(default=1e-3, gt=0)
    quantizer_lr_scale: float = Field(default=0.1, gt=0)  # step sizes/thresholds train at lr x this
    batch_size: int = Field(default=64, ge=1)
    weight_decay: float = Field(default=0.0, ge=0)
    distribution_loss_weight: float = Field(default=1.0, ge=0)
    step_scale: float = Field(default=2.0, ge=0)
    distill_weight: float = Field(default=1.0, ge=0, le=1)
    distill_temperature: float = Field(default=2.0, gt=0)
    bn_reestimate: bool = True
    high_fidelity: HighFidelity = HighFidelity()
    # Where and how fast; not part of any cache key.
    threads: int | None = Field(default=None, ge=1)
    device: Literal["auto", "cpu", "cuda"] | str = "auto"

    @model_validator(mode="after")
    def _one_fold_with_a_checkpoint(self) -> ProxyConfig:
        if self.checkpoint is not None and self.folds not in (None, 1):
            raise ValueError(
                f"folds: {self.folds} with a checkpoint: the network was trained on its own split, so "
                "other folds would validate it on images it trained on; leave folds unset (1)"
            )
        return self

    def resolved_threads(self, batch_macs: int | None = None) -> int:
        """Threads to give torch: ``threads`` when set, else the cores this process may use.

        With ``batch_macs`` (multiply-accumulates of one training batch) and no explicit
        ``threads``, one thread per ``MACS_PER_THREAD`` of work at most: the digits CNN (0.015 G
        MACs in a 64-sample batch's forward pass) ran 12 ms a step on one thread but 50-140 ms
        on two while other jobs shared this 2-core machine (2026-11-23), since idle threads spin
        and synchronize.
        """
        if self.threads:
            return self.threads
        try:
            cores = max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            cores = max(1, os.cpu_count() or 1)
        if batch_macs is None:
            return cores
        return max(1, min(cores, batch_macs // MACS_PER_THREAD))

    def resolved_device(self) -> str:
        """``cuda`` when ``device`` is ``auto`` and a GPU is present, else ``device`` (or ``cpu``)."""
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def torch_device(self) -> torch.device:
        """The resolved device as a ``torch.device``; sets up deterministic cuBLAS for a GPU.

        Raises:
            ProxyError: an unknown device name, or ``cuda`` without a GPU.
        """
        import torch

        from coexplore.accuracy.errors import ProxyError

        try:
            device = torch.device(self.resolved_device())
        except RuntimeError as exc:
            raise ProxyError(f"proxy.device: {exc}; allowed: auto, cpu, cuda, cuda:N") from exc
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ProxyError("proxy.device: cuda requested but no GPU is available; use auto or cpu")
            # Deterministic cuBLAS needs this before the first GPU matmul (pretraining included).
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        return device

    def pretrain_recipe(self) -> dict:
        """The fields the FP32 checkpoint depends on (besides model and data)."""
        return {key: getattr(self, name) for key, name in PRETRAIN_RECIPE.items()}

    def finetune_recipe(self, fidelity: str = "brief") -> dict:
        """The fields a fine-tuned accuracy depends on (besides plan, model, data, checkpoint).

        ``steps`` is the base budget (a plan at 8 bits); ``high`` takes steps, learning rate and
        step scale from :attr:`high_fidelity`.
        """
        if fidelity not in FIDELITIES:
            raise ValueError(f"fidelity: unknown {fidelity!r}; allowed: {', '.join(FIDELITIES)}")
        recipe = {key: getattr(self, name) for key, name in FINETUNE_RECIPE.items()}
        if fidelity == "high":
            hf = self.high_fidelity
            recipe.update(steps=hf.steps, lr=hf.lr, step_scale=hf.step_scale)
        return recipe
