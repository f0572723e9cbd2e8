"""Cross-validation folds over a data set's training and validation splits.

On a small data set one validation split is a noisy ruler: digits validates on 359 images, so one
image is 0.28 points, and plans within a point of each other swap places by chance. K-fold
cross-validation validates every plan on every training-or-validation image once (1,438 on digits),
each time with a model pretrained without those images. Fold 0 is the data set's own split (train
on ``train``, validate on ``val``), so with one fold the proxy is the plain hold-out and fold 0's
checkpoint is shared by every fold count; folds 1..K-1 each validate on one part of ``train``.
The test split is never used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from coexplore.accuracy.datasets import SPLIT_SEED, Splits


@dataclass(frozen=True)
class Fold:
    """One fold: the tensors a model pretrains / fine-tunes on and is validated on.

    ``name`` identifies the fold's data for cache keys: ``"split"`` for fold 0 (the data set's own
    train / validation split, whatever the fold count), ``"k/K"`` otherwise.
    """

    index: int
    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


def cv_folds(data: Splits, folds: int) -> list[Fold]:
    """``folds`` folds over ``data``'s train and validation splits (fold 0 = the data set's split).

    The training split is cut into ``folds - 1`` parts with a fixed permutation (independent of the
    proxy's seed); fold ``k >= 1`` validates on part ``k`` and trains on everything else.

    Example:
        >>> from coexplore.accuracy.datasets import load_digits
        >>> [len(f.val_y) for f in cv_folds(load_digits(), 4)]
        [359, 360, 360, 359]
    """
    if folds < 1:
        raise ValueError(f"folds must be >= 1, got {folds}")
    out = [Fold(0, "split", data.train_x, data.train_y, data.val_x, data.val_y)]
    if folds == 1:
        return out
    n_train = len(data.train_y)
    if n_train < folds - 1:
        raise ValueError(f"{data.name}: {n_train} training samples cannot make {folds} folds")
    pool_x = torch.cat([data.train_x, data.val_x])
    pool_y = torch.cat([data.train_y, data.val_y])
    perm = np.random.default_rng(SPLIT_SEED + 1).permutation(n_train)
    for k, part in enumerate(np.array_split(perm, folds - 1), start=1):
        held = np.zeros(len(pool_y), dtype=bool)
        held[part] = True
        val = torch.from_numpy(np.sort(part))
        train = torch.from_numpy(np.flatnonzero(~held))
        out.append(
            Fold(k, f"{k}/{folds}", pool_x[train], pool_y[train], pool_x[val], pool_y[val])
        )
    return out
