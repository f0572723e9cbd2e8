"""Specification of `resolve`: zoo names, files, and ``module:function`` specs."""

from __future__ import annotations

import textwrap

import pytest

from coexplore.workload import WorkloadFileError, resolve, zoo

MODEL_FILE = textwrap.dedent("""
    import torch.nn as nn

    def tiny():
        net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
        return net, (1, 3, 8, 8)

    def not_a_model():
        return 42
""")


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(MODEL_FILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_zoo_name_resolves_to_the_zoo_workload():
    assert resolve("resnet50") is zoo.get("resnet50")


def test_unknown_name_lists_the_zoo_names():
    with pytest.raises(KeyError, match="alexnet, mobilenet_v2, resnet18, resnet50, vgg16"):
        resolve("lenet")


def test_module_function_in_the_working_directory_is_extracted(model_dir):
    wl = resolve("my_models:tiny")
    assert wl.name == "tiny"
    assert wl.layer_names == ["0", "2"]
    assert wl.macs == 4 * 8 * 8 * 3 * 9 + 256 * 5


def test_python_file_path_with_function_is_extracted(model_dir):
    assert resolve(f"{model_dir / 'my_models.py'}:tiny").layer_names == ["0", "2"]


def test_function_returning_something_else_is_explained(model_dir):
    with pytest.raises(WorkloadFileError, match=r"must return \(torch.nn.Module, input_shape"):
        resolve("my_models:not_a_model")


def test_missing_function_is_named(model_dir):
    with pytest.raises(WorkloadFileError, match="has no function 'absent'"):
        resolve("my_models:absent")


def test_missing_module_is_named(model_dir):
    with pytest.raises(WorkloadFileError, match="'no_such_models' cannot be imported"):
        resolve("no_such_models:tiny")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(WorkloadFileError, match="does not exist"):
        resolve(str(tmp_path / "absent.csv"))
