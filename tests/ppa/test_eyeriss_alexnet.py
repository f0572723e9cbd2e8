"""The Eyeriss design point on AlexNet's CONV layers stays within 2x of the published chip."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from ppa_eyeriss import BOUNDS, PUBLISHED, figures


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_eyeriss_alexnet_figure_is_within_bounds(key):
    ratio = figures()[key] / PUBLISHED[key]
    assert BOUNDS[0] <= ratio <= BOUNDS[1]
