"""Virtual pooling: exact fill of linear maps, shapes kept, honest MACs, workload = transformed model,
bad specs refused in one line, a tiny study that searches it."""

from __future__ import annotations

import optuna
import pytest
import torch
import yaml
from torch import nn
from typer.testing import CliRunner

from coexplore import api
from coexplore.accuracy import DigitsCNN
from coexplore.cli import app
from coexplore.hardware import DesignPoint
from coexplore.ppa import evaluate_point
from coexplore.search.configio import ConfigError
from coexplore.search.space import parse_space
from coexplore.tracking.export import trials_frame
from coexplore.transforms.vip import (
    eligible_layers,
    fill_layers,
    interpolate,
    rewrite_workload,
    vip_conv,
)
from coexplore.workload import Layer, from_module
from tests.search.tiny_study import TINY_MODEL, TINY_SPACE, write_tiny_study

LAYERS = ["features.0", "features.3", "features.7", "classifier"]


def _linear(p: int, q: int) -> torch.Tensor:
    i, j = torch.meshgrid(torch.arange(p, dtype=torch.float64), torch.arange(q, dtype=torch.float64), indexing="ij")
    return torch.stack([0.5 + 1.5 * i - 2.0 * j, -3.0 + 0.25 * i * 0 + j])[None]  # 1 x 2 x p x q


@pytest.mark.parametrize(("p", "q"), [(8, 8), (7, 8), (8, 5), (3, 4), (32, 31)])
def test_interpolation_is_exact_on_linear_inputs(p, q):
    full = _linear(p, q)
    assert torch.allclose(interpolate(full[..., ::2, ::2], (p, q)), full)


def test_a_vip_conv_keeps_its_output_shape_and_is_exact_where_the_output_is_linear():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, bias=True).double()
    x = _linear(12, 11)
    full = conv(x)
    vip_conv(conv, tuple(full.shape[-2:]))
    assert conv.stride == (2, 2)
    out = conv(x)
    assert out.shape == full.shape and torch.allclose(out, full)


def test_vip_leaves_every_later_layer_input_shape_unchanged():
    net, shapes = DigitsCNN(), {}
    for name in ("features.3", "features.7", "classifier"):
        dict(net.named_modules())[name].register_forward_pre_hook(
            lambda m, a, name=name: shapes.setdefault(name, []).append(tuple(a[0].shape)))
    x = torch.randn(2, 1, 8, 8)
    y = net(x)
    vip_conv(net.features[0], (8, 8))
    vip_conv(net.features[3], (8, 8))
    assert net(x).shape == y.shape
    assert all(a == b for a, b in shapes.values())


def test_the_macs_of_a_vip_layer_are_the_strided_convolutions_plus_one_per_filled_output():
    layer = Layer("c", c=16, k=32, h=15, w=16, r=3, s=3, padding=1, n=2)
    wl = rewrite_workload(api_workload(layer), ["c"])
    conv, *fills = wl.layers
    assert conv.macs == Layer("c", c=16, k=32, h=15, w=16, r=3, s=3, padding=1, n=2, stride=2).macs
    assert (conv.p, conv.q) == (8, 8)
    edge = 8  # the 16 columns are even: each of the 8 computed rows extrapolates its last (2 MACs)
    assert sum(f.macs for f in fills) == 2 * 32 * (15 * 16 - 8 * 8 + edge)
    assert fills == fill_layers(layer)


def api_workload(*layers):
    from coexplore.workload import Workload

    return Workload("w", tuple(layers))


def test_the_workload_is_the_transformed_models():
    net = DigitsCNN()
    base = from_module(net, (1, 1, 8, 8), "digits")
    assert eligible_layers(net, base) == ["features.0", "features.3"]
    filled = []
    for name in ("features.0", "features.3"):
        conv = dict(net.named_modules())[name]
        conv.register_forward_hook(lambda m, a, out: filled.append(out.numel()))
        vip_conv(conv, (8, 8))
    costed = rewrite_workload(base, ["features.0", "features.3"])
    traced = from_module(net, (1, 1, 8, 8), "digits")  # the conv calls the transformed network makes
    assert [l for l in costed.layers if ".vip_" not in l.name] == list(traced.layers)
    computed = sum(l.k * l.p * l.q for l in traced.layers if l.name in ("features.0", "features.3"))
    fills = sum(l.macs for l in costed.layers if ".vip_" in l.name)
    edge = 16 * (4 + 8)  # 8x8 maps: the last column of 4 computed rows, the last row at full width
    assert computed == sum(filled) and fills == 2 * 16 * 64 - computed + 2 * edge


def test_a_vip_layer_costs_less_itself_and_its_fill_passes_are_costed_on_the_array():
    base = from_module(DigitsCNN(), (1, 1, 8, 8), "digits")
    vip = rewrite_workload(base, ["features.3"])
    a, b = evaluate_point(DesignPoint(), base), evaluate_point(DesignPoint(), vip)
    i, j = a.layer_names.index("features.3"), b.layer_names.index("features.3")
    assert b.layer_energy_j[0, j] < a.layer_energy_j[0, i] and b.layer_cycles[0, j] < a.layer_cycles[0, i]
    assert b.layer_dram_bytes[0, j] < a.layer_dram_bytes[0, i]  # fewer outputs written
    fills = [b.layer_names.index(n) for n in ("features.3.vip_w", "features.3.vip_h")]
    assert all(b.layer_energy_j[0, f] > 0 and b.layer_cycles[0, f] > 0 for f in fills)
    assert b.macs[0] < a.macs[0] and b.latency_s[0] < a.latency_s[0]


def _space(vip) -> dict:
    space = yaml.safe_load(yaml.safe_dump(TINY_SPACE))
    space["model"]["vip"] = vip
    return space


@pytest.mark.parametrize(("vip", "path", "phrase"), [
    ({"layers": []}, "model.vip.layers", "at least 1"),
    ({"layers": ["features.0"], "per": "channel"}, "model.vip.per", "network"),
    ({"layers": ["features.0"], "min_map": 1}, "model.vip.min_map", "greater than or equal to 2"),
    ({"layers": ["features.0"], "stride": 2}, "model.vip.stride", "unknown key"),
    (True, "model.vip", "valid dictionary"),
])
def test_a_bad_vip_spec_is_one_line_with_its_yaml_path(vip, path, phrase):
    with pytest.raises(ConfigError) as exc:
        parse_space(_space(vip), source="s.yaml")
    assert len(exc.value.lines) == 1
    assert exc.value.lines[0].startswith(f"s.yaml: {path}:") and phrase in exc.value.lines[0]


@pytest.mark.parametrize(("vip", "phrase"), [
    ({"layers": ["features.7"]}, "features.7"),   # a 4x4 map: too small to interpolate
    ({"layers": ["classifier"]}, "classifier"),   # not a convolution
    ({"layers": ["conv*"]}, "match no layer"),
    ({"layers": ["features.0"], "per": "group"}, "no groups"),
])
def test_a_vip_spec_the_model_cannot_run_exits_2_in_one_line(tmp_path, vip, phrase):
    study = write_tiny_study(tmp_path, space=_space(vip), model=TINY_MODEL)
    result = CliRunner().invoke(app, ["study", "start", str(study), "--storage", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().count("\n") == 0
    assert "space.model.vip" in result.stderr and phrase in result.stderr


def test_vip_parameters_per_network_group_and_layer():
    for vip, groups, names in [
        ({"layers": ["features.*"]}, {}, ["vip"]),
        ({"layers": ["features.*"], "per": "layer"}, {}, ["vip.features.0", "vip.features.3", "vip.features.7"]),
        ({"layers": ["features.0", "features.3"], "per": "group"}, {"stem": ["features.0"], "body": ["*"]},
         ["vip.stem", "vip.body"]),
    ]:
        space = _space(vip)
        space["model"]["groups"] = groups
        dists = parse_space(space).model_distributions(LAYERS)
        assert [n for n in dists if n.startswith("vip")] == names


def test_a_trials_vip_choice_names_its_layers_in_forward_order():
    space = parse_space(_space({"layers": ["features.3", "features.0"], "per": "layer"}))
    trial = optuna.trial.FixedTrial({"pe_type": "int8", "pe_rows": 8, "glb_kib": 32, "dram_gbps": 6.4,
                                     "weight_bits": 8, "vip.features.0": True, "vip.features.3": True})
    _, choice = space.suggest(trial, LAYERS)
    assert choice.transforms == {"vip_layers": "features.0,features.3"}


@pytest.fixture(scope="module")
def vip_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    space = _space({"layers": ["features.0", "features.3"], "per": "layer"})
    space["model"]["pe_type"] = ["int8"]
    del space["model"]["weight_bits"]
    study = write_tiny_study(folder, name="vip", n_trials=10, space=space, model=TINY_MODEL)
    url = f"sqlite:///{folder / 's.db'}"
    api.start_study(study, storage=url, tracking=False)
    return study, url


def test_vip_trials_cost_fewer_macs_and_record_their_layers(vip_study):
    _, url = vip_study
    df = trials_frame(optuna.load_study(study_name="vip", storage=url))
    assert {"params_vip_layers", "metrics_macs"} <= set(df.columns)  # the design as evaluated
    assert set(df["params_vip_layers"].fillna("")) <= {"", "features.0", "features.3", "features.0,features.3"}
    on = df["params_vip_layers"].fillna("") != ""
    assert on.any() and (~on).any()
    assert df.loc[on, "metrics_macs"].max() < df.loc[~on, "metrics_macs"].min()


def test_the_proxy_fine_tunes_the_vip_network_and_costs_its_workload(tmp_path):
    from coexplore.quant import QuantPlan
    from coexplore.transforms import FilterPruning, ModelSide, VirtualPooling, apply_transforms
    from coexplore.transforms.settings import PruneSettings
    from tests.search.tiny_study import tiny_proxy

    proxy = tiny_proxy(tmp_path)
    vip = VirtualPooling(proxy, ["features.0", "features.3"])
    side = ModelSide(proxy, {"vip_layers": vip, "prune": FilterPruning(proxy, PruneSettings(method="l2"))})
    model = apply_transforms(proxy.fp32_model(0), side.transforms, {"vip_layers": "features.3"})
    assert model.features[3].vip_size == (8, 8) and model.features[3].stride == (2, 2)
    plan = QuantPlan(pe_type="int8")
    plain, with_vip = side.evaluate(plan, {"vip_layers": ""}), side.evaluate(plan, {"vip_layers": "features.3"})
    assert plain.key != with_vip.key and 0 <= with_vip.accuracy <= 1
    both = side.workload({"prune": 0.5, "vip_layers": "features.3"})  # pruned first, then ViP
    assert both == rewrite_workload(side.workload({"prune": 0.5}), ["features.3"])
    assert both.macs < side.workload({"vip_layers": "features.3"}).macs < proxy.workload().macs
