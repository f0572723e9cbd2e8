"""Training and validation loops shared by pretraining and the brief quantization-aware fine-tune."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F

from coexplore.accuracy.errors import ProxyError
from coexplore.quant import ActQuantizer, WeightQuantizer, regularization_loss

Progress = Callable[[str, int, int], None]
"""Progress callback: ``(phase, steps done, steps total)``."""

DIVERGENCE_FACTOR = 50.0
"""A batch loss above ``DIVERGENCE_FACTOR * ln(classes)`` (50x a uniform guess's) is divergence."""


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


def batch_indices(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless mini-batches of indices, reshuffled every epoch from ``generator``."""
    batch_size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def _param_groups(model: nn.Module, lr: float, quant_lr: float, weight_decay: float) -> list[dict]:
    quant_ids = {
        id(p)
        for m in model.modules()
        if isinstance(m, (ActQuantizer, WeightQuantizer))
        for p in m.parameters()
    }
    quant = [p for p in model.parameters() if id(p) in quant_ids]
    rest = [p for p in model.parameters() if id(p) not in quant_ids]
    groups = [{"params": rest, "lr": lr, "weight_decay": weight_decay}]
    if quant:
        groups.append({"params": quant, "lr": quant_lr, "weight_decay": 0.0})
    return groups


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    num_classes: int,
    weight_decay: float = 0.0,
    quant_lr: float | None = None,
    regularization_weight: float = 0.0,
    teacher_logits: torch.Tensor | None = None,
    distill_weight: float = 0.0,
    temperature: float = 1.0,
    phase: str = "train",
    progress: Progress | None = None,
) -> float:
    """Train ``model`` for ``steps`` Adam steps with cosine decay; return the last batch loss.

    ``x``/``y`` sit on the model's device. The quantizers' own parameters (step sizes, thresholds)
    train at ``quant_lr`` (default ``lr``); their regularizers (the BNN distribution loss) are
    added to the cross-entropy with ``regularization_weight``. With ``teacher_logits`` (``N x
    classes``, the FP32 model's outputs on ``x``) the loss is ``(1 - distill_weight) x CE +
    distill_weight x T^2 x KL(teacher || student)`` at temperature ``T`` (knowledge distillation,
    Hinton et al. 2015, as used for quantization-aware training by Mishra & Marr, "Apprentice",
    ICLR 2018): the teacher's soft labels carry more signal per step than hard labels, so a brief
    fine-tune moves the quantized model towards the FP32 function instead of fitting label noise.

    Raises:
        ProxyError: the loss became NaN/inf or exceeded the divergence bound, or a weight is NaN.
    """
    if steps <= 0:
        return float("nan")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(
        _param_groups(model, lr, lr if quant_lr is None else quant_lr, weight_decay)
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    bound = DIVERGENCE_FACTOR * math.log(max(num_classes, 2))
    batches = batch_indices(len(y), batch_size, generator)
    model.train()
    loss_value = float("nan")
    for step in range(steps):
        idx = next(batches).to(x.device)
        out = model(x[idx])
        ce = F.cross_entropy(out, y[idx])
        loss = ce
        if teacher_logits is not None and distill_weight:
            kd = distillation_loss(out, teacher_logits[idx], temperature)
            loss = (1 - distill_weight) * ce + distill_weight * kd
        reg = regularization_loss(model)
        if reg is not None and regularization_weight:
            loss = ce + regularization_weight * reg
        loss_value, ce_value = float(loss.detach()), float(ce.detach())
        if not math.isfinite(loss_value) or ce_value > bound:
            raise ProxyError(
                f"{phase} diverged at step {step + 1}/{steps}: cross-entropy {ce_value:.4g} "
                f"(bound {bound:.3g}), total loss {loss_value:.4g}; lower the learning rate (lr={lr:g})"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress(phase, step + 1, steps)
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise ProxyError(f"{phase}: parameter {name} is NaN/inf after training (lr={lr:g})")
    return loss_value


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 x KL(softmax(teacher / T) || softmax(student / T))``, batch mean (Hinton et al. 2015)."""
    t = temperature
    return F.kl_div(
        F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1),
        reduction="batchmean", log_target=True,
    ) * (t * t)


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> None:
    """Replace every BatchNorm's running statistics by their average over ``x`` (the model as is).

    After quantization (and a brief fine-tune) the running means and variances still hold an
    exponential average over weights that have since changed; their drift costs accuracy at
    evaluation, most for low-bit plans. Re-estimating them with the final quantized weights
    (Peters & Welling 2018; Nagel et al., "Overcoming oscillations in quantization-aware
    training", ICML 2022) removes that error. Uses train-mode forward passes with a cumulative
    average (``momentum=None``); the quantizers' parameters are left unchanged.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The model's outputs on ``x`` in eval mode (a teacher's soft labels), ``N x classes``."""
    model.eval()
    return torch.cat([model(x[s : s + batch_size]) for s in range(0, len(x), batch_size)])


@torch.no_grad()
def correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> int:
    """How many of ``x`` the model (eval mode) classifies as ``y``.

    Raises:
        ProxyError: the model's outputs contain NaN/inf.
    """
    model.eval()
    hits = 0
    for start in range(0, len(y), batch_size):
        out = model(x[start : start + batch_size])
        if not torch.isfinite(out).all():
            raise ProxyError("validation: model outputs are NaN/inf")
        hits += int((out.argmax(dim=1) == y[start : start + batch_size]).sum())
    return hits


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on ``x``/``y``, a fraction in [0, 1].

    Raises:
        ProxyError: the model's outputs contain NaN/inf.
    """
    return correct(model, x, y, batch_size) / max(len(y), 1)
