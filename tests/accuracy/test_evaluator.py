"""ProxyEvaluator with a tiny recipe: layer names, caching, determinism, divergence, workloads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from coexplore.accuracy import ProxyConfig, ProxyError, ProxyEvaluator
from coexplore.quant import QuantPlan, QuantPlanError

TINY = {"pretrain_epochs": 2, "finetune_steps": 4, "threads": 1, "high_fidelity": {"steps": 12}}


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture()
def evaluator(shared_dir: Path, tmp_path: Path) -> ProxyEvaluator:
    """Shares the FP32 checkpoint across tests; each test gets its own result database."""
    return ProxyEvaluator(
        ProxyConfig(**TINY), cache_dir=shared_dir, cache_url=f"sqlite:///{tmp_path / 'r.db'}"
    )


def test_layer_names_and_input_shape_describe_the_default_digits_model(
    evaluator: ProxyEvaluator,
) -> None:
    assert evaluator.model_name == "digits_cnn"
    assert evaluator.layer_names == ["features.0", "features.3", "features.7", "classifier"]
    assert evaluator.input_shape == (1, 1, 8, 8)


def test_workload_layers_carry_the_plan_layer_names(evaluator: ProxyEvaluator) -> None:
    workload = evaluator.workload()
    assert workload.layer_names == evaluator.layer_names
    assert workload.layers[0].n == 1 and workload.macs == evaluator.macs_per_sample


def test_result_has_fractions_and_drop_is_baseline_minus_accuracy(
    evaluator: ProxyEvaluator,
) -> None:
    r = evaluator.evaluate(QuantPlan(pe_type="int8"))
    assert 0 <= r.accuracy <= 1 and 0 <= r.baseline_accuracy <= 1
    assert r.drop == pytest.approx(r.baseline_accuracy - r.accuracy)
    assert not r.cache_hit and r.seconds > 0


def test_second_evaluation_hits_the_cache_without_training(
    evaluator: ProxyEvaluator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evaluator.evaluate(QuantPlan(pe_type="int4"))
    runs = evaluator.training_runs

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must build no model and load no data")

    monkeypatch.setattr(evaluator, "_new_model", forbidden)
    monkeypatch.setattr("coexplore.accuracy.evaluator.load_dataset", forbidden)
    monkeypatch.setattr("coexplore.accuracy.fp32.load_checkpoint", forbidden)
    second = evaluator.evaluate(QuantPlan(pe_type="int4"))
    assert second.cache_hit and evaluator.training_runs == runs
    assert (second.accuracy, second.key) == (first.accuracy, first.key)


def test_cache_lives_in_the_database_not_in_process_memory(
    shared_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = ProxyEvaluator(ProxyConfig(**TINY), cache_dir=shared_dir, cache_url=url).evaluate(
        QuantPlan(pe_type="lightpe1")
    )
    other = ProxyEvaluator(ProxyConfig(**TINY), cache_dir=shared_dir, cache_url=url)
    again = other.evaluate(QuantPlan(pe_type="lightpe1"))
    assert again.cache_hit and again.accuracy == first.accuracy and other.training_runs == 0


def test_default_cache_is_an_sqlite_file_in_the_cache_dir(shared_dir: Path) -> None:
    ev = ProxyEvaluator(ProxyConfig(**TINY), cache_dir=shared_dir)
    assert (shared_dir / "proxy_cache.db").is_file() and ev.cache.url.startswith("sqlite:///")


def test_fp32_checkpoint_is_pretrained_once_and_reused(shared_dir: Path, tmp_path: Path) -> None:
    a = ProxyEvaluator(
        ProxyConfig(**TINY), cache_dir=shared_dir, cache_url=f"sqlite:///{tmp_path / 'a.db'}"
    )
    _ = a.baseline_accuracy
    b = ProxyEvaluator(
        ProxyConfig(**TINY), cache_dir=shared_dir, cache_url=f"sqlite:///{tmp_path / 'b.db'}"
    )
    assert b.baseline_accuracy == a.baseline_accuracy and b.training_runs == 0
    assert b.checkpoint_path.is_file()


def test_same_seed_gives_the_same_accuracy_without_any_cache(tmp_path: Path) -> None:
    plan = QuantPlan(pe_type="int4", weight_bits=3)
    results = [
        ProxyEvaluator(ProxyConfig(**TINY), cache_dir=tmp_path / d, cache_url="sqlite://")
        .evaluate(plan)
        .accuracy
        for d in ("one", "two")
    ]
    assert results[0] == results[1]


def test_plans_with_the_same_quantizers_share_a_cache_entry(evaluator: ProxyEvaluator) -> None:
    assert evaluator.key(QuantPlan(pe_type="int8", weight_bits=4, act_bits=4)) == evaluator.key(
        QuantPlan(pe_type="int4")
    )
    assert evaluator.key(QuantPlan(pe_type="int4")) != evaluator.key(
        QuantPlan(pe_type="lightpe1", weight_bits=4, act_bits=4)
    )


def test_an_absurd_learning_rate_fails_with_a_proxy_error(shared_dir: Path) -> None:
    ev = ProxyEvaluator(
        ProxyConfig(**{**TINY, "finetune_steps": 10, "lr": 1e6}),
        cache_dir=shared_dir,
        cache_url="sqlite://",
    )
    with pytest.raises(ProxyError, match="diverged|NaN"):
        ev.evaluate(QuantPlan(pe_type="int8"))


def test_unknown_layer_in_a_plan_is_an_error_naming_it(evaluator: ProxyEvaluator) -> None:
    with pytest.raises(QuantPlanError, match="conv1"):
        evaluator.evaluate(QuantPlan(pe_type="int8", layer_weight_bits={"conv1": 4}))


def test_evaluation_restores_the_callers_torch_threads(evaluator: ProxyEvaluator) -> None:
    before = torch.get_num_threads()
    evaluator.evaluate(QuantPlan(pe_type="int8", weight_bits=6))
    assert torch.get_num_threads() == before


def test_config_rejects_unknown_keys() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ProxyConfig(steps=3)  # type: ignore[call-arg]


def test_evaluation_leaves_the_callers_random_state_alone(evaluator: ProxyEvaluator) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluator.evaluate(QuantPlan(pe_type="int8", weight_bits=5))
    assert torch.equal(torch.rand(3), expected)


def test_small_models_get_one_thread_and_large_ones_every_core() -> None:
    import os

    cores = len(os.sched_getaffinity(0))
    assert ProxyConfig().resolved_threads(batch_macs=10_000_000) == 1
    assert ProxyConfig().resolved_threads(batch_macs=10**12) == cores
    assert ProxyConfig(threads=3).resolved_threads(batch_macs=1) == 3


def test_cifar10_resnet20_runs_end_to_end_on_small_batch_files(tmp_path: Path) -> None:
    from tests.accuracy.test_datasets import _write_cifar

    data = tmp_path / "cifar"
    data.mkdir()
    _write_cifar(data)
    config = ProxyConfig(
        dataset="cifar10", data_dir=data, pretrain_epochs=1, finetune_steps=2, threads=1
    )
    ev = ProxyEvaluator(config, cache_dir=tmp_path / "cache")
    assert ev.model_name == "resnet20" and ev.input_shape == (1, 3, 32, 32)
    r = ev.evaluate(QuantPlan(pe_type="lightpe2", pin_first_last=8))
    assert 0 <= r.accuracy <= 1 and not r.cache_hit


def test_high_fidelity_runs_its_stated_budget_and_is_cached_apart(
    evaluator: ProxyEvaluator,
) -> None:
    plan = QuantPlan(pe_type="int8")
    brief = evaluator.evaluate(plan)
    high = evaluator.evaluate(plan, fidelity="high")
    assert (brief.fidelity, high.fidelity) == ("brief", "high")
    assert (brief.steps, high.steps) == (4, 12)
    assert high.key != brief.key and not high.cache_hit
    again = evaluator.evaluate(plan, fidelity="high")
    assert again.cache_hit and again.accuracy == high.accuracy
    assert evaluator.evaluate(plan).accuracy == brief.accuracy


def test_unknown_fidelity_is_an_error_naming_the_allowed_ones(evaluator: ProxyEvaluator) -> None:
    with pytest.raises(ValueError, match="brief, high"):
        evaluator.evaluate(QuantPlan(pe_type="int8"), fidelity="medium")


def test_plans_further_from_fp32_get_more_fine_tune_steps() -> None:
    ev = ProxyEvaluator.__new__(ProxyEvaluator)  # steps() needs only the config and layer names
    ev.config = ProxyConfig(finetune_steps=100, step_scale=2.0, high_fidelity={"steps": 1000})
    ev.layer_names = ["a", "b", "c", "d"]
    int8 = ev.steps(QuantPlan(pe_type="int8"))
    int4 = ev.steps(QuantPlan(pe_type="int4"))
    binary = ev.steps(QuantPlan(pe_type="binary"))
    assert (int8, binary) == (100, 300) and int8 < int4 < binary
    assert ev.steps(QuantPlan(pe_type="binary"), fidelity="high") == 10 * binary


def test_accuracy_and_baseline_are_pooled_over_every_folds_validation_images(
    evaluator: ProxyEvaluator,
) -> None:
    n_val = sum(len(f.val_y) for f in evaluator.folds)
    assert len(evaluator.folds) == 4 and n_val == len(evaluator.data.train_y) + len(evaluator.data.val_y)
    r = evaluator.evaluate(QuantPlan(pe_type="lightpe2"))
    assert round(r.accuracy * n_val, 6) == round(r.accuracy * n_val)
    assert round(r.baseline_accuracy * n_val, 6) == round(r.baseline_accuracy * n_val)


def test_a_variant_goes_through_the_same_recipe_and_cache(evaluator: ProxyEvaluator) -> None:
    from coexplore.quant import calibrate_quantizers, quantize_model

    plan = QuantPlan(pe_type="int4", weight_bits=3)
    calls = []

    def build(fp32: torch.nn.Module, calibration: torch.Tensor) -> torch.nn.Module:
        calls.append(len(calibration))
        model = quantize_model(fp32, plan, inplace=True, layer_names=evaluator.layer_names)
        calibrate_quantizers(model, calibration)
        return model

    first = evaluator.evaluate_variant({"kind": "test", "plan": plan.key()}, build)
    again = evaluator.evaluate_variant({"kind": "test", "plan": plan.key()}, build)
    assert len(calls) == len(evaluator.folds) and again.cache_hit
    assert first.accuracy == again.accuracy


def test_recheck_evaluates_distinct_plans_at_both_fidelities_and_compares_ranks(
    evaluator: ProxyEvaluator,
) -> None:
    plans = [
        QuantPlan(pe_type="int4"),
        QuantPlan(pe_type="int8", weight_bits=4, act_bits=4),  # same quantizers as int4
        QuantPlan(pe_type="binary", pin_first_last=8),
        QuantPlan(pe_type="int4", weight_bits=2, act_bits=2),
    ]
    report = evaluator.recheck(plans)
    assert len(report.rows) == 3 and report.high_steps == 12
    assert all(r.high.fidelity == "high" and r.brief.fidelity == "brief" for r in report.rows)
    assert -1 <= report.kendall_tau_b <= 1 or report.kendall_tau_b != report.kendall_tau_b
    assert report.high_accuracy(plans[1], evaluator) == report.rows[0].high.accuracy
    runs = evaluator.training_runs
    evaluator.recheck(plans)
    assert evaluator.training_runs == runs  # both fidelities cached
