"""The pruning transform on a real (tiny) proxy: workload, accuracy cache keys, the shared ranking."""

from __future__ import annotations

import pytest

from coexplore.quant import QuantPlan
from coexplore.transforms import Evolution, FilterPruning, ModelSide, PruneSettings
from coexplore.workload import from_module
from tests.search.tiny_study import tiny_proxy

EVOLUTION = Evolution(population=2, generations=3, steps=2)


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prune")
    return folder, f"sqlite:///{folder / 'study.db'}"


def _pruning(storage, method="legr", worker="a", **over) -> FilterPruning:
    folder, url = storage
    proxy = tiny_proxy(folder / f"cache-{worker}", url)
    return FilterPruning(proxy, PruneSettings(method=method, learn_level=0.5, evolution=EVOLUTION, **over))


@pytest.mark.parametrize("method", ["legr", "l2", "uniform"])
def test_workload_equals_the_transformed_networks_layers(storage, method):
    pruning = _pruning(storage, method)
    proxy = pruning.proxy
    pruned = pruning.apply(proxy.fp32_model(0), 0.5)
    traced = from_module(pruned, proxy.input_shape, proxy.model_name)
    assert pruning.workload(0.5).layers == traced.layers
    assert [l.name for l in traced.layers] == proxy.layer_names  # names stable across the transform
    assert pruning.workload(0.5).macs <= 0.5 * proxy.workload().macs


def test_workers_share_the_learned_ranking_and_the_accuracies(storage):
    first = _pruning(storage, worker="one")
    first.prepare()
    second = _pruning(storage, worker="two")  # another machine: own checkpoint folder, same storage
    second.prepare()
    assert not first.learned_from_cache or second.learned_from_cache
    assert second.learned_from_cache
    assert second.affine() == first.affine()
    plan = QuantPlan(pe_type="int8")
    a = ModelSide(first.proxy, {"prune": first}).evaluate(plan, {"prune": 0.5})
    b = ModelSide(second.proxy, {"prune": second}).evaluate(plan, {"prune": 0.5})
    assert b.cache_hit and b.accuracy == a.accuracy and b.key == a.key


def test_accuracy_cache_keys_on_every_model_side_choice(storage):
    legr, l2 = _pruning(storage, "legr"), _pruning(storage, "l2")
    side = ModelSide(legr.proxy, {"prune": legr})
    int8, int4 = QuantPlan(pe_type="int8"), QuantPlan(pe_type="int4")
    keys = {
        side.evaluate(int8, {"prune": 0.5}).key,
        side.evaluate(int4, {"prune": 0.5}).key,
        side.evaluate(int8, {"prune": 0.25}).key,
        ModelSide(l2.proxy, {"prune": l2}).evaluate(int8, {"prune": 0.5}).key,
    }
    assert len(keys) == 4
    assert side.evaluate(int8, {"prune": 0.0}).key == legr.proxy.evaluate(int8).key  # no pruning: the plain plan


def test_learning_scores_the_identity_first_and_keeps_the_best(storage):
    learned = _pruning(storage).learn()
    assert learned.fine_tunes == EVOLUTION.generations == len(learned.history)
    assert learned.identity_fitness == learned.history[0]
    assert learned.fitness == max(learned.history)
