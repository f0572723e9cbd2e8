"""The differentiable threshold search: it trades accuracy for cost as lambda grows."""

from __future__ import annotations

import pytest
import torch

from coexplore.hardware.design import DesignPoint
from coexplore.nas import ThresholdConfig, cost_table, threshold_search
from coexplore.nas.settings import BlockChoice
from tests.nas.conftest import tiny_supernet


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    net = tiny_supernet()
    x, y = torch.randn(128, 1, 8, 8), torch.randint(0, 10, (128,))
    table = cost_table(net, (1, 1, 8, 8), DesignPoint(pe_type="int8"))
    return net, x, y, table


def _search(setup, lam: float):
    net, x, y, table = setup
    return threshold_search(net, x, y, table, ThresholdConfig(cost_weight=lam, steps=12, batch_size=32, threshold_lr=0.25,
                                                              skippable=(0, 2)))


@pytest.fixture(scope="module")
def sweep(setup):
    return {lam: _search(setup, lam) for lam in (0.0, 2.0, 20.0)}


def test_threshold_search_moves_to_cheaper_choices_as_lambda_grows(sweep):
    costs = [sweep[lam].relative_cost for lam in (0.0, 2.0, 20.0)]
    assert costs[0] >= costs[1] >= costs[2]
    assert costs[2] < costs[0]


def test_without_a_cost_term_the_search_keeps_the_largest_network(sweep):
    assert sweep[0.0].architecture == "k5e6,k5e6,k5e6"


def test_the_cost_table_prices_the_choices_and_nothing_for_a_skip(setup):
    table = setup[3]
    assert table.block(0, BlockChoice(skip=True)) == 0.0
    assert table.block(1, BlockChoice(3, 3)) < table.block(1, BlockChoice(5, 6))
    assert table.total([BlockChoice()] * 3) == pytest.approx(table.largest)
    assert table.macs[0, 1, 1] > table.macs[0, 0, 1]  # the 5x5 depthwise layer does more MACs


def test_the_search_leaves_the_supernet_as_it_was(setup):
    net = setup[0]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _search(setup, 2.0)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
