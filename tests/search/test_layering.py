"""The search layer stands alone: importing it (or the API over it) never loads MLflow."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["coexplore.search", "coexplore.search.driver", "coexplore.api"])
def test_importing_the_search_layer_does_not_import_mlflow(module):
    code = f"import {module}, sys; assert 'mlflow' not in sys.modules, 'mlflow was imported'"
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
