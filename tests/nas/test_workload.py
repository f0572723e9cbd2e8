"""The workload the PPA model costs is the sub-network's: its MACs, its layers, 25/9 for a 5x5."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coexplore.nas import decode, subnetwork, supernet_digits
from coexplore.workload import from_module


def _counted_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of every Conv2d/Linear the forward pass calls, counted from their outputs and weights."""
    total = []

    def hook(m, inputs, out):
        per_output = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.in_features
        total.append(out[0].numel() * per_output)

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return sum(total)


@pytest.mark.parametrize("arch", ["k5e6,k5e6,k5e6,k5e6,k5e6", "k3e3,k5e6,skip,k3e6,k5e3", "skip,k3e3,skip,k3e3,skip"])
def test_the_sub_networks_macs_equal_its_workloads(arch):
    sub = subnetwork(supernet_digits(), decode(arch))
    workload = from_module(sub, (1, 1, 8, 8), "sub")
    assert sum(layer.macs for layer in workload.layers) == _counted_macs(sub, torch.zeros(1, 1, 8, 8))


def test_a_5x5_layer_costs_25_9_the_macs_of_its_3x3_choice():
    net = supernet_digits()
    big = {l.name: l.macs for l in from_module(subnetwork(net, decode("k5e6," * 4 + "k5e6")), (1, 1, 8, 8)).layers}
    small = {l.name: l.macs for l in from_module(subnetwork(net, decode("k3e6," * 4 + "k3e6")), (1, 1, 8, 8)).layers}
    for name in (n for n in big if n.endswith(".dw")):
        assert big[name] * 9 == small[name] * 25
    assert all(big[n] == small[n] for n in big if not n.endswith(".dw"))


def test_a_skipped_block_is_not_costed():
    names = [l.name for l in from_module(subnetwork(supernet_digits(), decode("skip,k3e3,skip,k3e3,skip")),
                                         (1, 1, 8, 8)).layers]
    assert not any(n.startswith(("blocks.0.", "blocks.2.", "blocks.4.")) for n in names)
    assert "blocks.1.dw" in names and "stem" in names and "classifier" in names
