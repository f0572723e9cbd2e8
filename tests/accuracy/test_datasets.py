"""Data sets: digits splits, the CIFAR-10 pickle loader (on batches the test writes), the registry."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from coexplore.accuracy import DATASETS, DatasetError, load_cifar10, load_dataset, load_digits


def test_digits_splits_are_disjoint_sixty_twenty_twenty_and_normalized() -> None:
    d = load_digits()
    sizes = (len(d.train_y), len(d.val_y), len(d.test_y))
    assert sum(sizes) == 1797 and sizes[1] == sizes[2] == 359
    rows = {tuple(r.flatten().tolist()) for r in torch.cat([d.train_x, d.val_x, d.test_x])}
    assert len(rows) >= 1797 - 20  # the data set itself holds a few duplicate images
    assert abs(float(d.train_x.mean())) < 1e-5 and abs(float(d.train_x.std()) - 1) < 1e-3
    assert d.input_shape == (1, 1, 8, 8) and d.num_classes == 10


def test_digits_split_is_the_same_on_every_load() -> None:
    assert load_digits().fingerprint() == load_digits().fingerprint()


def _write_cifar(folder: Path, per_batch: int = 20) -> None:
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, size=per_batch).tolist(),
            b"batch_label": name.encode(),
        }
        with (folder / name).open("wb") as fh:
            pickle.dump(batch, fh)


def test_cifar10_reads_the_python_batches_and_holds_out_a_tenth(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    d = load_cifar10(tmp_path)
    assert (len(d.train_y), len(d.val_y), len(d.test_y)) == (90, 10, 20)
    assert d.train_x.shape[1:] == (3, 32, 32) and d.train_x.dtype == torch.float32
    assert torch.allclose(d.train_x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert d.train_y.dtype == torch.int64


def test_cifar10_keeps_the_pixel_layout_channel_first(tmp_path: Path) -> None:
    _write_cifar(tmp_path, per_batch=2)
    with (tmp_path / "test_batch").open("rb") as fh:
        raw = pickle.load(fh)
    raw[b"data"][0, :1024] = 255  # red plane of the first test image
    raw[b"data"][0, 1024:] = 0
    with (tmp_path / "test_batch").open("wb") as fh:
        pickle.dump(raw, fh)
    d = load_cifar10(tmp_path)
    img = d.test_x[0]
    assert img[0].std() < 1e-5 and img[0].mean() > img[1].mean()


def test_cifar10_names_the_missing_file(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_cifar10(tmp_path)


def test_cifar10_without_a_data_dir_says_which_option_to_set() -> None:
    with pytest.raises(DatasetError, match="--data-dir"):
        load_cifar10(None)


def test_registry_names_each_data_sets_default_model() -> None:
    assert DATASETS["digits"].default_model == "digits_cnn"
    assert DATASETS["cifar10"].default_model == "resnet20"
    with pytest.raises(DatasetError, match="allowed: digits, cifar10"):
        load_dataset("mnist")


class _Evil:
    """Unpickling this runs ``os.system(command)`` with the plain unpickler."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        import os

        return (os.system, (self.command,))


def test_cifar10_refuses_a_pickle_that_would_run_code_and_runs_none(tmp_path: Path) -> None:
    _write_cifar(tmp_path, per_batch=2)
    marker = tmp_path / "pwned"
    with (tmp_path / "data_batch_2").open("wb") as fh:
        pickle.dump({b"data": _Evil(f"touch {marker}"), b"labels": [0]}, fh)
    with pytest.raises(DatasetError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert "data_batch_2" in message and "system" in message and "\n" not in message
    assert not marker.exists()


def test_cifar10_batches_written_with_the_old_protocol_still_load(tmp_path: Path) -> None:
    _write_cifar(tmp_path, per_batch=2)
    with (tmp_path / "test_batch").open("rb") as fh:
        raw = pickle.load(fh)
    with (tmp_path / "test_batch").open("wb") as fh:
        pickle.dump(raw, fh, protocol=2)  # numpy arrays and bytes through reduce calls
    assert len(load_cifar10(tmp_path).test_y) == 2
