"""Superkernels: the 3x3 kernel is the 5x5's centre, ratio 3 the first half of ratio 6's channels."""

from __future__ import annotations

import pytest
import torch

from coexplore.nas import ArchitectureError, decode, subnetwork, supernet_digits
from coexplore.quant import QuantPlan, quantize_model

ARCHS = ["k3e3,k5e6,skip,k3e6,k5e3", "k5e6,k5e6,k5e6,k5e6,k5e6", "skip,k3e3,skip,k3e3,skip"]


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    net = supernet_digits()
    net.train()
    with torch.no_grad():  # give the BatchNorms non-trivial statistics
        for _ in range(3):
            net(torch.randn(32, 1, 8, 8))
    return net.eval()


def test_a_3x3_kernel_is_the_centre_of_the_5x5_superkernel(supernet):
    sub = subnetwork(supernet, decode("k3e6,k3e6,k3e6,k3e6,k3e6"))
    for big, small in zip(supernet.blocks, sub.blocks):
        assert small.dw.weight.shape[-2:] == (3, 3)
        assert torch.equal(small.dw.weight, big.dw.weight[:, :, 1:4, 1:4])


def test_ratio_3_is_the_first_half_of_ratio_6s_channels(supernet):
    sub = subnetwork(supernet, decode("k5e3,k5e3,k5e3,k5e3,k5e3"))
    for big, small in zip(supernet.blocks, sub.blocks):
        half = big.dw.out_channels // 2
        assert small.dw.out_channels == half == 3 * big.c_in
        assert torch.equal(small.expand.weight, big.expand.weight[:half])
        assert torch.equal(small.project.weight, big.project.weight[:, :half])
        assert torch.equal(small.bn1.running_mean, big.bn1.running_mean[:half])


@pytest.mark.parametrize("arch", ARCHS)
def test_a_cut_sub_network_computes_what_its_path_through_the_superkernels_computes(supernet, arch):
    x = torch.randn(8, 1, 8, 8)
    with torch.no_grad():
        cut = subnetwork(supernet, decode(arch)).eval()(x)
        masked = supernet.forward_choices(x, decode(arch))
    assert torch.allclose(cut, masked, atol=1e-5)


def test_a_skipped_block_keeps_its_layers_so_a_plan_over_the_supernets_names_applies(supernet):
    sub = subnetwork(supernet, decode("skip,k3e3,skip,k3e3,skip"))
    names = [n for n, m in supernet.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    quantize_model(sub, QuantPlan(pe_type="int8"), layer_names=names)  # raises if a name were missing


def test_a_block_that_changes_shape_cannot_be_skipped(supernet):
    with pytest.raises(ArchitectureError, match="blocks.1: cannot be skipped"):
        subnetwork(supernet, decode("k5e6,skip,k5e6,k5e6,k5e6"))


def test_cutting_leaves_the_supernet_as_it_was(supernet):
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    subnetwork(supernet, decode(ARCHS[0]))
    assert all(torch.equal(before[k], v) for k, v in supernet.state_dict().items())


def test_a_quantized_supernet_trains_its_full_path_through_its_quantizers():
    net = quantize_model(supernet_digits(), QuantPlan(pe_type="int8")).train()
    calls = []
    net.blocks[0].dw.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    net(torch.randn(4, 1, 8, 8))
    assert calls, "the quantized depthwise layer was bypassed by path sampling"


def test_architecture_strings_are_checked():
    with pytest.raises(ValueError, match="kernel must be one of"):
        decode("k7e6")
    with pytest.raises(ValueError, match="2 blocks given, the supernet has 5"):
        decode("k3e3,skip", blocks=5)
