"""Training and validation loops shared by pretraining and the brief quantization-aware fine-tune."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from coexplore.accuracy.errors import ProxyError
from coexplore.quant import ActQuantizer, WeightQuantizer, regularization_loss

Progress = Callable[[str, int, int], None]
"""Progress callback: ``(phase, steps done, steps total)``."""

DIVERGENCE_FACTOR = 50.0
"""A batch loss above ``DIVERGENCE_FACTOR * ln(classes)`` (50x a uniform guess's) is divergence."""


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
    phase: str = "train",
    progress: Progress | None = None,
) -> float:
    """Train ``model`` for ``steps`` Adam steps with cosine decay; return the last batch loss.

    ``x``/``y`` sit on the model's device. The quantizers' own parameters (step sizes, thresholds)
    train at ``quant_lr`` (default ``lr``); their regularizers (the BNN distribution loss) are
    added to the cross-entropy with ``regularization_weight``.

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


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on ``x``/``y``, a fraction in [0, 1].

    Raises:
        ProxyError: the model's outputs contain NaN/inf.
    """
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        out = model(x[start : start + batch_size])
        if not torch.isfinite(out).all():
            raise ProxyError("validation: model outputs are NaN/inf")
        correct += int((out.argmax(dim=1) == y[start : start + batch_size]).sum())
    return correct / max(len(y), 1)
