"""Channel groups and pruning: MAC budgets met, residual ties kept, the pruned network still runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.accuracy import DigitsCNN, ResNet20
from coexplore.transforms import (
    Affine,
    PruningError,
    channel_graph,
    channel_scores,
    keep_counts,
    prune_model,
)
from coexplore.transforms.ranking import keep_indices, producer_layers
from coexplore.workload import from_module

NETWORKS = {"digits_cnn": (DigitsCNN, (1, 1, 8, 8)), "resnet20": (ResNet20, (1, 3, 32, 32))}
_GRAPHS: dict = {}


def _net(name: str):
    torch.manual_seed(0)
    factory, shape = NETWORKS[name]
    model = factory()
    if name not in _GRAPHS:
        _GRAPHS[name] = channel_graph(model, shape)
    return model, shape, _GRAPHS[name]


def _pruned(name: str, level: float, *, uniform: bool = False, affine: Affine | None = None):
    model, shape, graph = _net(name)
    scores = channel_scores(model, graph, affine)
    counts = keep_counts(graph, scores, level, uniform=uniform)
    return prune_model(model, graph, keep_indices(scores, counts)), shape, graph, counts


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("method", ["l2", "uniform"])
@pytest.mark.parametrize("level", [0.25, 0.5, 0.7])
def test_pruned_macs_meet_the_budget_within_five_percent(name, method, level):
    model, shape, graph, counts = _pruned(name, level, uniform=method == "uniform")
    macs = from_module(model, shape).macs  # traced from the pruned network itself
    target = (1 - level) * graph.total_macs
    assert macs <= target
    assert macs >= 0.95 * target
    assert macs == pytest.approx(graph.macs(counts))


@settings(max_examples=15, deadline=None)
@given(level=st.floats(0.05, 0.8), seed=st.integers(0, 2**16))
def test_any_learned_transform_meets_the_budget(level, seed):
    """Whatever alpha/kappa LeGR learns, the MACs land just under the budget."""
    model, _, graph = _net("digits_cnn")
    rng = np.random.default_rng(seed)
    layers = producer_layers(graph)
    affine = Affine(tuple(layers), tuple(np.exp(rng.normal(0, 1, len(layers)))), tuple(rng.normal(0, 0.5, len(layers))))
    counts = keep_counts(graph, channel_scores(model, graph, affine), level)
    target = (1 - level) * graph.total_macs
    assert 0.95 * target <= graph.macs(counts) <= target


def test_residual_additions_tie_their_channels():
    _, _, graph = _net("resnet20")
    stage1 = next(g for g in graph.groups if "layer1.0.conv2" in g.producers)
    assert set(stage1.producers) == {"conv1", "layer1.0.conv2", "layer1.1.conv2", "layer1.2.conv2"}
    stage2 = next(g for g in graph.groups if "layer2.0.conv2" in g.producers)
    assert "layer2.0.shortcut.0" in stage2.producers


@pytest.mark.parametrize("uniform", [False, True])
def test_pruned_resnet_keeps_tied_channels_equal_and_runs(uniform):
    model, shape, graph, _ = _pruned("resnet20", 0.5, uniform=uniform)
    mods = dict(model.named_modules())
    for g in graph.groups:
        assert len({mods[p].out_channels if hasattr(mods[p], "out_channels") else mods[p].out_features
                    for p in g.producers}) <= 1
    assert model(torch.zeros(2, *shape[1:])).shape == (2, 10)


def test_fixed_groups_never_shrink():
    model, _, graph, counts = _pruned("digits_cnn", 0.7)
    for i, g in enumerate(graph.groups):
        if not g.prunable:
            assert counts[i] == g.size
    assert model.classifier.out_features == 10


def test_pinned_ends_keep_the_first_layer_outputs_and_last_layer_inputs():
    model = DigitsCNN()
    graph = channel_graph(model, (1, 1, 8, 8), keep_ends=True)
    counts = keep_counts(graph, channel_scores(model, graph), 0.3)
    channels = graph.layer_channels(counts)
    assert channels["features.0"] == 16 and channels["features.7"] == 32
    assert channels["features.3"] < 16


def test_an_untraceable_network_is_refused_with_its_name():
    class Branchy(torch.nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(PruningError, match="Branchy"):
        channel_graph(Branchy(), (1, 1, 8, 8))
