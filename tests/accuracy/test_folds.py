"""Cross-validation folds: fold 0 is the data set's split, the folds partition train + validation."""

from __future__ import annotations

import pytest
import torch

from coexplore.accuracy import cv_folds, load_digits


def _rows(x: torch.Tensor) -> list[tuple]:
    return sorted(tuple(r.flatten().tolist()) for r in x)


def test_one_fold_is_the_data_sets_own_split() -> None:
    d = load_digits()
    (fold,) = cv_folds(d, 1)
    assert fold.name == "split" and torch.equal(fold.val_x, d.val_x)
    assert torch.equal(fold.train_x, d.train_x)


def test_fold_zero_is_the_split_whatever_the_fold_count() -> None:
    d = load_digits()
    fold = cv_folds(d, 4)[0]
    assert fold.name == "split" and torch.equal(fold.train_y, d.train_y)


def test_validation_parts_partition_train_and_validation_and_never_touch_test() -> None:
    d = load_digits()
    folds = cv_folds(d, 4)
    pool = _rows(torch.cat([d.train_x, d.val_x]))
    assert _rows(torch.cat([f.val_x for f in folds])) == pool
    for f in folds:  # each fold trains on everything it does not validate on
        assert _rows(torch.cat([f.train_x, f.val_x])) == pool


def test_folds_are_the_same_on_every_call() -> None:
    a, b = cv_folds(load_digits(), 3), cv_folds(load_digits(), 3)
    assert all(torch.equal(x.val_y, y.val_y) for x, y in zip(a, b))


def test_zero_folds_is_an_error() -> None:
    with pytest.raises(ValueError, match="folds"):
        cv_folds(load_digits(), 0)
