"""A user's trained checkpoint as the proxy's FP32 model: formats, fit, baseline, folds, subsets."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from coexplore.accuracy import DigitsCNN, ProxyConfig, ProxyEvaluator, load_digits
from coexplore.accuracy.checkpoint import CheckpointError, fit, read_state_dict
from coexplore.accuracy.training import accuracy
from coexplore.quant import QuantPlan


def _digits_checkpoint(path, seed: int = 0):
    torch.manual_seed(seed)
    model = DigitsCNN()
    torch.save(model.state_dict(), path)
    return model.eval()


def _config(ckpt, **kw) -> ProxyConfig:
    return ProxyConfig(checkpoint=ckpt, finetune_steps=4, threads=1, device="cpu", **kw)


def _forbid(*_a, **_k):
    raise AssertionError("must not run")


def test_a_checkpoint_is_not_pretrained_and_its_accuracy_is_the_baseline(tmp_path, monkeypatch):
    model = _digits_checkpoint(tmp_path / "w.pt")
    monkeypatch.setattr("coexplore.accuracy.fp32.pretrain", _forbid)
    ev = ProxyEvaluator(_config(tmp_path / "w.pt"), cache_dir=tmp_path / "c")
    data = load_digits()
    assert len(ev.folds) == 1, "one fold: the data's own train / validation split"
    assert ev.baseline_accuracy == accuracy(model, data.val_x, data.val_y)
    result = ev.evaluate(QuantPlan(pe_type="int8"))
    assert result.baseline_accuracy == ev.baseline_accuracy and not list((tmp_path / "c").glob("fp32-*.pt"))


def test_the_baseline_is_measured_once_per_checkpoint_content(tmp_path, monkeypatch):
    _digits_checkpoint(tmp_path / "w.pt")
    first = ProxyEvaluator(_config(tmp_path / "w.pt"), cache_dir=tmp_path / "c").baseline_accuracy
    monkeypatch.setattr("coexplore.accuracy.fp32.correct", _forbid)
    again = ProxyEvaluator(_config(tmp_path / "w.pt"), cache_dir=tmp_path / "c")
    assert again.baseline_accuracy == first
    _digits_checkpoint(tmp_path / "w.pt", seed=1)  # same path, other weights: measured anew
    with pytest.raises(AssertionError, match="must not run"):
        _ = ProxyEvaluator(_config(tmp_path / "w.pt"), cache_dir=tmp_path / "c").baseline_accuracy


def test_a_whole_saved_module_and_a_wrapped_state_dict_are_read(tmp_path):
    model = DigitsCNN()
    torch.save(model, tmp_path / "whole.pt")
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, tmp_path / "wrapped.pt")
    whole, fmt = read_state_dict(tmp_path / "whole.pt")
    wrapped, fmt2 = read_state_dict(tmp_path / "wrapped.pt")
    assert (fmt, fmt2) == ("module", "state_dict")
    assert all(torch.equal(whole[k], wrapped[k]) for k in model.state_dict())


@pytest.mark.parametrize(
    ("edit", "phrase"),
    [
        (lambda s: s.pop("classifier.bias"), "missing key 'classifier.bias'"),
        (lambda s: s.update(extra=torch.zeros(1)), "unexpected key 'extra'"),
        (lambda s: s.update({"classifier.weight": torch.zeros(3, 32)}),
         "'classifier.weight' has shape [3, 32], the model's is [10, 32]"),
    ],
)
def test_a_checkpoint_that_does_not_fit_names_the_first_mismatch(edit, phrase):
    state = DigitsCNN().state_dict()
    edit(state)
    with pytest.raises(CheckpointError) as err:
        fit(DigitsCNN(), state, "checkpoint: w.pt")
    assert phrase in str(err.value) and "\n" not in str(err.value)


def test_an_unfit_checkpoint_is_refused_when_the_evaluator_is_built(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="missing key 'features.0.weight'"):
        ProxyEvaluator(_config(tmp_path / "w.pt"), cache_dir=tmp_path / "c")


def test_a_file_that_is_no_checkpoint_is_refused_in_one_line(tmp_path):
    (tmp_path / "w.pt").write_text("not weights")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        read_state_dict(tmp_path / "w.pt")


def test_cross_validation_folds_are_refused_with_a_checkpoint(tmp_path):
    with pytest.raises(ValidationError, match="trained on its own split"):
        ProxyConfig(checkpoint=tmp_path / "w.pt", folds=4)


def test_val_samples_validates_plans_and_baseline_on_a_fixed_subset(tmp_path):
    model = _digits_checkpoint(tmp_path / "w.pt")
    full = ProxyEvaluator(_config(tmp_path / "w.pt"), cache_dir=tmp_path / "c")
    sub = ProxyEvaluator(_config(tmp_path / "w.pt", val_samples=100), cache_dir=tmp_path / "c")
    assert [len(f.val_y) for f in sub.folds] == [100] and len(full.folds[0].val_y) == 359
    assert sub.baseline_accuracy == accuracy(model, sub.folds[0].val_x, sub.folds[0].val_y)
    plan = QuantPlan(pe_type="int8")
    assert sub.key(plan) != full.key(plan), "a subset's result never stands in for the full split's"
