"""Data sets for the proxy, held in memory as tensors: digits (offline) and CIFAR-10 batches.

Every data set comes split into train / validation / test with a fixed split seed (``SPLIT_SEED``,
independent of the proxy's seed, so every seed sees the same validation set) and normalized with
statistics of its training split.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from coexplore.accuracy._safe_pickle import RefusedGlobal, load_data_pickle
from coexplore.accuracy.errors import ProxyError

SPLIT_SEED = 0


class DatasetError(ProxyError, ValueError):
    """A data set cannot be loaded; the message names the data set, folder and file."""


@dataclass(frozen=True)
class Splits:
    """Train / validation / test tensors of one data set (inputs ``N x C x H x W``, labels ``N``)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape with a batch of 1, e.g. ``(1, 1, 8, 8)``."""
        return (1, *self.train_x.shape[1:])

    def fingerprint(self) -> str:
        """A hash of every split's contents: the data's part of the cache keys."""
        h = hashlib.blake2b(digest_size=16)
        for t in (self.train_x, self.train_y, self.val_x, self.val_y, self.test_x, self.test_y):
            arr = t.detach().cpu().contiguous().numpy()
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set: its loader, the model the proxy uses when none is named, and its
    cross-validation folds (:mod:`coexplore.accuracy.folds`; more on small data sets, where one
    validation split is too noisy to rank plans, one on large ones, where each fold costs a
    pretraining)."""

    load: Callable[[Path | None], Splits]
    default_model: str
    default_folds: int = 1


def _split_indices(n: int, val_fraction: float, test_fraction: float) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    return perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test]


def _digits_array() -> np.ndarray:
    """The digits table (64 pixel columns, then the label) from scikit-learn's bundled file.

    Read directly (importing ``sklearn.datasets`` costs seconds on a busy machine); falls back to
    ``sklearn.datasets.load_digits`` if the file moved.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = (
            Path(next(iter(spec.submodule_search_locations)))
            / "datasets"
            / "data"
            / "digits.csv.gz"
        )
        if path.is_file():
            return np.loadtxt(path, delimiter=",")
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    return np.column_stack([bunch.data, bunch.target])


def load_digits(data_dir: Path | None = None) -> Splits:
    """scikit-learn's 8x8 digits (1,797 images, bundled with scikit-learn): 60/20/20 split.

    Example:
        >>> load_digits().train_x.shape[1:]
        torch.Size([1, 8, 8])
    """
    raw = _digits_array()
    x = raw[:, :-1].astype(np.float32).reshape(-1, 1, 8, 8) / 16.0
    y = raw[:, -1].astype(np.int64)
    tr, va, te = _split_indices(len(y), 0.2, 0.2)
    mean, std = x[tr].mean(), x[tr].std()
    x = (x - mean) / std
    t = torch.from_numpy
    return Splits("digits", t(x[tr]), t(y[tr]), t(x[va]), t(y[va]), t(x[te]), t(y[te]), 10)


CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DatasetError(
            f"cifar10: {path} not found; --data-dir must hold the python batches "
            f"{', '.join(CIFAR10_TRAIN_FILES)}, {CIFAR10_TEST_FILE} (cifar-10-batches-py)"
        )
    try:
        with path.open("rb") as fh:
            batch = load_data_pickle(fh, encoding="bytes")
    except RefusedGlobal as exc:
        raise DatasetError(
            f"cifar10: {path}: {exc}; a CIFAR-10 batch holds only dicts, lists, bytes, str, "
            "numbers and NumPy arrays, so this file is not one (or was tampered with)"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DatasetError(f"cifar10: {path}: not a CIFAR-10 python batch ({exc})") from exc
    try:
        if not isinstance(batch, dict):
            raise ValueError(f"holds a {type(batch).__name__}, not a dict")
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"cifar10: {path}: not a CIFAR-10 python batch ({exc})") from exc
    if len(data) != len(labels):
        raise DatasetError(f"cifar10: {path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def load_cifar10(data_dir: Path | None) -> Splits:
    """CIFAR-10 from the python pickle batches in ``data_dir``; 10% of training held out to validate.

    The test split is ``test_batch``; inputs are normalized per channel with the training mean/std.
    """
    if data_dir is None:
        raise DatasetError(
            "cifar10: needs --data-dir (proxy.data_dir), the folder of cifar-10-batches-py"
        )
    data_dir = Path(data_dir)
    parts = [_read_cifar_batch(data_dir / f) for f in CIFAR10_TRAIN_FILES]
    x = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y = np.concatenate([p[1] for p in parts])
    x_test, y_test = _read_cifar_batch(data_dir / CIFAR10_TEST_FILE)
    x_test = x_test.astype(np.float32) / 255.0
    tr, va, _ = _split_indices(len(y), 0.1, 0.0)
    mean = x[tr].mean(axis=(0, 2, 3), keepdims=True)
    std = x[tr].std(axis=(0, 2, 3), keepdims=True)
    norm = lambda a: torch.from_numpy(((a - mean) / std).astype(np.float32))
    t = torch.from_numpy
    return Splits(
        "cifar10", norm(x[tr]), t(y[tr]), norm(x[va]), t(y[va]), norm(x_test), t(y_test), 10
    )


DATASETS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec(load_digits, default_model="digits_cnn", default_folds=4),
    "cifar10": DatasetSpec(load_cifar10, default_model="resnet20"),
}
"""Registered data sets by name."""


def dataset_spec(name: str) -> DatasetSpec:
    """The registered data set ``name``, or a user's ``file.py:function`` / ``module:function``
    (:mod:`coexplore.accuracy.userdata`: no default model, one fold); unknown names raise."""
    if name in DATASETS:
        return DATASETS[name]
    if ":" in name:
        from coexplore.accuracy.userdata import load_user_dataset

        return DatasetSpec(lambda _dir: load_user_dataset(name), default_model="", default_folds=1)
    raise DatasetError(
        f"dataset: unknown {name!r}; allowed: {', '.join(DATASETS)}, or path/to/file.py:function"
    )


def load_dataset(name: str, data_dir: Path | None = None) -> Splits:
    """Load a registered data set by name, or call a user's data function (``file.py:function``)."""
    return dataset_spec(name).load(data_dir)
