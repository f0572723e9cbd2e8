"""A user's data function: what it may return, what the proxy reads from it, and its errors."""

from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

from coexplore.accuracy import DatasetError, ProxyConfig, ProxyEvaluator
from coexplore.accuracy.userdata import load_user_dataset
from coexplore.cli import app

GOOD = """
import torch
from torch.utils.data import TensorDataset

def tensors():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, 6, 6, generator=g)
    return (x[:30], torch.arange(30) % 3), (x[30:], torch.arange(10) % 3)

def datasets():
    (x, y), (vx, vy) = tensors()
    return TensorDataset(x, y), TensorDataset(vx, vy)
"""

BAD = {
    "return 5": "must return (train, val)",
    "return (torch.zeros(4, 3, 6, 6), torch.zeros(4)), (torch.zeros(2, 3, 6, 6), torch.zeros(2))":
        "labels must be integers",
    "return (torch.zeros(4, 6, 6), torch.zeros(4, dtype=torch.long)), (torch.zeros(2, 6, 6), torch.zeros(2))":
        "inputs must be floating point N x C x H x W",
    "return (torch.zeros(4, 3, 6, 6), torch.zeros(3, dtype=torch.long)), (torch.zeros(2, 3, 6, 6), torch.ones(2).long())":
        "4 inputs but 3 labels",
    "raise RuntimeError('no disk')": "the function raised RuntimeError: no disk",
}


def _write(tmp_path, body: str, name: str = "data.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_tensors_and_datasets_give_the_same_splits_classes_and_shape(tmp_path):
    path = _write(tmp_path, GOOD)
    a, b = load_user_dataset(f"{path}:tensors"), load_user_dataset(f"{path}:datasets")
    assert a.num_classes == b.num_classes == 3 and a.input_shape == b.input_shape == (1, 3, 6, 6)
    assert a.fingerprint() == b.fingerprint()


def test_the_proxy_model_and_workload_take_the_data_shape(tmp_path):
    path = _write(tmp_path, GOOD)
    cfg = ProxyConfig(model="digits_cnn", dataset=f"{path}:tensors", finetune_steps=2, threads=1, device="cpu")
    ev = ProxyEvaluator(cfg, cache_dir=tmp_path / "c")
    assert ev.input_shape == (1, 3, 6, 6) and len(ev.folds) == 1
    assert ev.workload().layers[0].c == 3 and ev.workload().layers[-1].k == 3


@pytest.mark.parametrize("body", list(BAD))
def test_a_bad_return_is_one_line_naming_the_function(tmp_path, body):
    path = _write(tmp_path, f"import torch\ndef f():\n    {body}\n")
    with pytest.raises(DatasetError) as err:
        load_user_dataset(f"{path}:f")
    assert BAD[body] in str(err.value) and f"{path}:f" in str(err.value) and "\n" not in str(err.value)


def test_a_user_data_set_needs_a_model(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(ValueError, match="needs a model"):
        ProxyEvaluator(ProxyConfig(dataset=f"{path}:tensors"), cache_dir=tmp_path / "c")


def test_proxy_evaluate_exits_2_on_a_bad_data_function(tmp_path):
    path = _write(tmp_path, "def f():\n    return 5\n")
    result = CliRunner().invoke(app, ["proxy", "evaluate", "--pe-type", "int8", "--model", "digits_cnn",
                                      "--dataset", f"{path}:f", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: --dataset:") and len(result.stderr.strip().splitlines()) == 1
