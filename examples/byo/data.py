"""A user's own data: the function a study names as ``dataset: path/to/data.py:digits_data``.

It returns ``(train, val)``, each a pair of tensors ``(x, y)`` (inputs ``N x C x H x W`` float,
labels ``N`` integers) or a ``torch.utils.data.Dataset`` of ``(x, y)`` items. This one is
scikit-learn's 8x8 digits with the user's own split (75 / 25, seed 7) and normalization, not the
registered ``digits`` data set's; ``val`` is given as a Dataset to show that form. The proxy takes
the data as returned: the classes (10) and input shape (1 x 8 x 8) come from it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset


def _digits_table() -> np.ndarray:
    """scikit-learn's bundled digits table (64 pixels, then the label), read without importing
    ``sklearn.datasets`` (seconds on a busy machine)."""
    spec = importlib.util.find_spec("sklearn")
    assert spec is not None and spec.submodule_search_locations, "scikit-learn is not installed"
    root = Path(next(iter(spec.submodule_search_locations)))
    return np.loadtxt(root / "datasets" / "data" / "digits.csv.gz", delimiter=",")


def digits_data() -> tuple[tuple[torch.Tensor, torch.Tensor], TensorDataset]:
    table = _digits_table()
    x = torch.tensor(table[:, :-1], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(table[:, -1], dtype=torch.long)
    perm = torch.from_numpy(np.random.default_rng(7).permutation(len(y)))
    cut = int(0.75 * len(y))
    train, val = perm[:cut], perm[cut:]
    x = (x - 0.3) / 0.4  # the user's normalization, applied the same to both parts
    return (x[train], y[train]), TensorDataset(x[val], y[val])
