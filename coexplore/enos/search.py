"""ENOS's differentiable operator search: cross-entropy plus lambda times the expected energy.

Loss (Nasrin et al., "ENOS: Energy-aware network operator search for hybrid digital and
compute-in-memory DNN accelerators", arXiv:2104.05217)::

    L = CE + lambda * sum_l sum_o softmax(alpha_l)_o * E[l, o] / E_ref

with ``E[l, o]`` the energy of layer ``l`` under choice ``o`` from the PPA/CIM cost model
(:func:`coexplore.cim.operator_cost_table`) and ``E_ref`` the sum of each layer's costliest choice.

Two training modes:

- ``single``: network weights and ``alpha`` descend the same loss on the same training batches;
- ``bilevel``: first-order DARTS (Liu et al., ICLR 2019): alternately, the weights descend the
  cross-entropy on a training batch and ``alpha`` descends the loss above on a batch of the
  search's validation split, which is half of the training split as in DARTS Sec. 3.3 (the data
  set's own validation split stays unseen, for the proxy accuracy).

The first ``warmup_steps`` train the weights only (alpha frozen) so that no operator wins just by
training faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F

from coexplore.accuracy.errors import ProxyError
from coexplore.accuracy.training import DIVERGENCE_FACTOR, batch_indices
from coexplore.enos.supernet import EnosSupernet
from coexplore.quant import regularization_loss


class EnosConfig(BaseModel):
    """Settings of one ENOS search.

    Args:
        energy_weight: lambda, the weight of the normalized expected energy in the loss.
        mode: ``single`` or ``bilevel`` (first-order DARTS).
        steps: optimizer steps (for ``bilevel`` each step updates the weights and then alpha).
        warmup_steps: leading steps that train the weights only.
        lr: Adam learning rate of the network weights and quantizer steps.
        arch_lr: Adam learning rate of alpha.
        batch_size: mini-batch size.
        regularization_weight: weight of the quantizers' regularizers (BNN distribution loss).
        seed: seeds batch order and the split of the training data in ``bilevel`` mode.

    Example:
        >>> EnosConfig(energy_weight=2.0).mode
        'bilevel'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    energy_weight: float = Field(default=1.0, ge=0)
    mode: Literal["single", "bilevel"] = "bilevel"
    steps: int = Field(default=150, ge=1)
    warmup_steps: int = Field(default=30, ge=0)
    lr: float = Field(default=1e-3, gt=0)
    arch_lr: float = Field(default=0.05, gt=0)
    batch_size: int = Field(default=64, ge=1)
    regularization_weight: float = Field(default=1.0, ge=0)
    seed: int = 0


@dataclass
class EnosSearchResult:
    """What a search ends with: the argmax assignment, the mixture weights and the trace.

    ``probabilities`` is ``L x O``; ``history`` holds one dict per step (``step``, ``ce``,
    ``expected_energy`` normalized, ``expected_energy_j``).
    """

    config: EnosConfig
    choices: tuple[str, ...]
    layer_names: tuple[str, ...]
    assignment: list[str]
    probabilities: np.ndarray
    expected_energy: float
    expected_energy_j: float
    history: list[dict] = field(default_factory=list)


def _check(loss: torch.Tensor, step: int, steps: int, bound: float, lr: float) -> None:
    value = float(loss.detach())
    if not math.isfinite(value) or value > bound:
        raise ProxyError(f"ENOS search diverged at step {step + 1}/{steps}: loss {value:.4g}; lower lr ({lr:g})")


def enos_search(
    supernet: EnosSupernet,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    energy_j: np.ndarray,
    config: EnosConfig,
    *,
    num_classes: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> EnosSearchResult:
    """Train ``supernet`` (weights and alpha, in place) and return its discrete assignment.

    Args:
        supernet: the mixture model; its layer order matches the rows of ``energy_j``.
        train_x, train_y: the training split (``bilevel`` halves it into weight / alpha batches).
        energy_j: per-layer, per-choice energy ``L x O`` (joules), e.g.
            ``operator_cost_table(...).energy_j``.
        config: the search settings.
        num_classes: classes of the task (for the divergence bound).
        progress: optional callback ``(phase, step, steps)``.
    """
    n_layers, n_choices = len(supernet.layer_names), len(supernet.choices)
    energy_j = np.asarray(energy_j, dtype=np.float64)
    if energy_j.shape != (n_layers, n_choices):
        raise ValueError(f"energy_j: shape {energy_j.shape}, expected layers x choices = {(n_layers, n_choices)}")
    reference = float(energy_j.max(axis=1).sum())
    energy = torch.as_tensor(energy_j / reference, dtype=torch.float32)

    gen = torch.Generator().manual_seed(config.seed)
    if config.mode == "bilevel":
        perm = torch.randperm(len(train_y), generator=gen)
        half = len(perm) // 2
        w_idx, a_idx = perm[:half], perm[half:]
    else:
        w_idx = a_idx = torch.arange(len(train_y))
    w_batches = batch_indices(len(w_idx), config.batch_size, gen)
    a_batches = batch_indices(len(a_idx), config.batch_size, gen)

    w_opt = torch.optim.Adam(supernet.weight_parameters(), lr=config.lr)
    a_opt = torch.optim.Adam(supernet.arch_parameters(), lr=config.arch_lr)
    bound = DIVERGENCE_FACTOR * math.log(max(num_classes, 2))
    history: list[dict] = []
    supernet.train()
    for step in range(config.steps):
        search_alpha = step >= config.warmup_steps
        idx = w_idx[next(w_batches)]
        ce = F.cross_entropy(supernet(train_x[idx]), train_y[idx])
        reg = regularization_loss(supernet)
        loss = ce + (config.regularization_weight * reg if reg is not None else 0.0)
        if config.mode == "single" and search_alpha:
            loss = loss + config.energy_weight * supernet.expected_cost(energy)
        _check(loss, step, config.steps, bound, config.lr)
        w_opt.zero_grad(set_to_none=True)
        a_opt.zero_grad(set_to_none=True)
        loss.backward()
        w_opt.step()
        if config.mode == "single" and search_alpha:
            a_opt.step()
        if config.mode == "bilevel" and search_alpha:
            jdx = a_idx[next(a_batches)]
            a_ce = F.cross_entropy(supernet(train_x[jdx]), train_y[jdx])
            a_loss = a_ce + config.energy_weight * supernet.expected_cost(energy)
            _check(a_loss, step, config.steps, bound, config.arch_lr)
            w_opt.zero_grad(set_to_none=True)
            a_opt.zero_grad(set_to_none=True)
            a_loss.backward()
            a_opt.step()
        with torch.no_grad():
            e_now = float(supernet.expected_cost(energy))
        history.append({"step": step + 1, "ce": float(ce.detach()), "expected_energy": e_now,
                        "expected_energy_j": e_now * reference})
        if progress is not None:
            progress("enos", step + 1, config.steps)

    probs = supernet.probabilities().detach().cpu().numpy()
    final = float((probs * energy_j).sum())
    return EnosSearchResult(config, tuple(c.name for c in supernet.choices), supernet.layer_names,
                            supernet.assignment(), probs, final / reference, final, history)
