"""The architecture axis: its trial parameters per block, named group or network, and the network they make."""

from __future__ import annotations

import optuna
import torch

from coexplore.nas import ArchitectureAxis, decode, subnetwork, supernet_32
from coexplore.search.space import parse_space
from tests.nas.conftest import nas_space

LAYERS = ["stem", *[f"blocks.{i}.{l}" for i in range(3) for l in ("expand", "dw", "project")], "classifier"]


def test_per_block_each_block_has_its_kernel_expand_and_skip_parameters():
    params = ArchitectureAxis(skip=["blocks.0", "blocks.2"]).param_names(LAYERS, {})
    assert list(params) == ["kernel.blocks.0", "expand.blocks.0", "skip.blocks.0", "kernel.blocks.1",
                            "expand.blocks.1", "kernel.blocks.2", "expand.blocks.2", "skip.blocks.2"]


def test_per_group_blocks_share_the_groups_parameters():
    axis = ArchitectureAxis(per="group", skip=["blocks.2"])
    groups = {"early": ["blocks.0.*", "blocks.1.*"], "late": ["blocks.2"]}
    assert {n: members for n, (_, members) in axis.param_names(LAYERS, groups).items()} == {
        "kernel.early": ["blocks.0", "blocks.1"], "expand.early": ["blocks.0", "blocks.1"],
        "kernel.late": ["blocks.2"], "expand.late": ["blocks.2"], "skip.late": ["blocks.2"]}
    arch = axis.architecture({"kernel.early": 3, "expand.early": 3, "kernel.late": 5, "expand.late": 6,
                              "skip.late": False}, LAYERS, groups)
    assert arch == "k3e3,k3e3,k5e6"


def test_per_network_one_parameter_each_and_a_fixed_axis_is_no_parameter():
    axis = ArchitectureAxis(per="network", kernel=[3], skip=["blocks.*"])
    assert list(axis.param_names(LAYERS, {})) == ["expand", "skip"]
    assert axis.architecture({"expand": 6, "skip": True}, LAYERS, {}) == "skip,skip,skip"
    assert axis.architecture({"expand": 6, "skip": False}, LAYERS, {}) == "k3e6,k3e6,k3e6"


def test_a_trial_of_the_space_carries_its_architecture_as_a_transform():
    space = parse_space(nas_space())
    params = {"pe_type": "int8", "pe_rows": 4, "glb_kib": 32, "kernel.blocks.0": 3, "expand.blocks.0": 6,
              "skip.blocks.0": False, "kernel.blocks.1": 5, "expand.blocks.1": 3, "kernel.blocks.2": 3,
              "expand.blocks.2": 3, "skip.blocks.2": True}
    _, choice = space.suggest(optuna.trial.FixedTrial(params), LAYERS)
    assert choice.transforms == {"architecture": "k3e6,k5e3,skip"}


def test_the_32x32_supernet_cuts_and_runs():
    net = supernet_32().eval()
    sub = subnetwork(net, decode("k3e3,k5e6,skip,k3e6,skip,k5e3"))
    assert sub(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
