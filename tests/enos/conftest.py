"""Shared fixtures: a tiny real accuracy proxy (digits, width-4 CNN, 20 fine-tune steps) and its ENOS runner."""

from __future__ import annotations

import pytest
import torch

from coexplore.cim import CimMacro
from coexplore.enos import EnosRunner
from coexplore.hardware import DesignPoint
from tests.search.tiny_study import tiny_proxy

CHOICES = ["mac@digital", "binary@digital", "mac@cim"]


@pytest.fixture(scope="session")
def proxy_dir(tmp_path_factory):
    """A folder holding the tiny proxy's pretrained checkpoint (pretrained once per session)."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("enos-proxy")
    proxy = tiny_proxy(folder)
    proxy.fp32_model()
    proxy.close()
    return folder


@pytest.fixture(scope="session")
def tiny_proxy_evaluator(proxy_dir):
    proxy = tiny_proxy(proxy_dir)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def tiny_runner(tiny_proxy_evaluator):
    torch.set_num_threads(1)
    return EnosRunner(tiny_proxy_evaluator, DesignPoint(), CimMacro(), choices=CHOICES)
