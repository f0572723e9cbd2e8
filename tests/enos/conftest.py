"""Shared fixtures: a tiny pretrained digits CNN and its ENOS runner (seconds to build)."""

from __future__ import annotations

import pytest
import torch

from coexplore.accuracy import DigitsCNN, load_digits
from coexplore.accuracy.training import train
from coexplore.cim import CimMacro
from coexplore.enos import EnosRunner
from coexplore.hardware import DesignPoint
from coexplore.workload import from_module


@pytest.fixture(scope="session")
def digits():
    return load_digits()


@pytest.fixture(scope="session")
def tiny_model(digits):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = DigitsCNN(width=4)
    train(model, digits.train_x, digits.train_y, steps=100, lr=1e-2, batch_size=64, seed=0, num_classes=10)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_runner(tiny_model, digits):
    torch.set_num_threads(1)
    workload = from_module(tiny_model, (1, 1, 8, 8), "digits_cnn_w4")
    return EnosRunner(tiny_model, digits, workload, DesignPoint(), CimMacro(),
                      choices=["mac@digital", "binary@digital", "mac@cim"], finetune_steps=20, lr=3e-3)
