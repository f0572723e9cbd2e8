"""Sampler factory: every named sampler builds, and the lean BoTorch acquisition proposes in bounds."""

from __future__ import annotations

import pytest
import torch
from pydantic import TypeAdapter

from coexplore.search.samplers import SAMPLERS, LeanQLogNEHVI, SamplerConfig, make_sampler

SAMPLER_CLASSES = {"botorch": "BoTorchSampler", "gp": "GPSampler", "nsga2": "NSGAIISampler",
                   "tpe": "TPESampler", "random": "RandomSampler"}


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_name_builds_an_optuna_sampler(name):
    cfg = TypeAdapter(SamplerConfig).validate_python({"name": name})
    sampler = make_sampler(cfg, seed=0, directions=["maximize", "minimize"], reference_point=[0.0, 1.0])
    assert hasattr(sampler, "sample_relative")
    assert type(sampler).__name__ == SAMPLER_CLASSES[name]


def test_default_botorch_settings_are_the_lean_ones():
    cfg = TypeAdapter(SamplerConfig).validate_python({"name": "botorch"})
    assert (cfg.num_restarts, cfg.raw_samples, cfg.mc_samples, cfg.threads) == (2, 128, 64, 1)


@pytest.mark.slow
def test_lean_qlognehvi_proposes_a_point_inside_the_bounds():
    torch.manual_seed(0)
    x = torch.rand(12, 3, dtype=torch.float64) * 4 + 1
    obj = torch.stack([x[:, 0], -x[:, 1] - x[:, 2]], -1)
    con = (x[:, :1] - 4.5)
    bounds = torch.tensor([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]], dtype=torch.float64)
    cfg = TypeAdapter(SamplerConfig).validate_python({"name": "botorch", "maxiter": 10})
    cand = LeanQLogNEHVI([0.0, -12.0], cfg)(x, obj, con, bounds, None)
    assert cand.shape == (1, 3)
    assert ((cand >= bounds[0]) & (cand <= bounds[1])).all()
