"""Specification of the CIM macro cost model and its technology file."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.cim import (
    CimMacro,
    CimTechnologyError,
    cim_layer_costs,
    cim_tiles,
    load_cim_technology,
)
from coexplore.cim.cost import ENERGY_COMPONENTS
from coexplore.workload import Layer, Workload

TECH = load_cim_technology()
SMALL_CONV = Workload("small", (Layer("conv", c=32, k=32, h=8, w=8, r=3, s=3, padding=1),))


def test_fitted_array_energy_reproduces_published_macro_efficiency_within_five_percent():
    for macro in TECH.calibration:
        tops_per_w = 2.0 / TECH.macro_energy_per_mac_j(macro) / 1e12
        assert tops_per_w == pytest.approx(macro.tops_per_w, rel=0.05), macro.source


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(min_value=1, max_value=11))
def test_adc_energy_per_conversion_rises_with_its_bits(bits):
    assert TECH.adc_energy_j(bits + 1) > TECH.adc_energy_j(bits)


@settings(max_examples=25, deadline=None)
@given(adc_bits=st.integers(min_value=2, max_value=11), operator=st.sampled_from(["mac", "binary", "l1"]),
       bit_serial=st.booleans())
def test_layer_energy_rises_monotonically_with_adc_bits(adc_bits, operator, bit_serial):
    lo = cim_layer_costs(CimMacro(adc_bits=adc_bits, bit_serial=bit_serial), SMALL_CONV, operator=operator, tech=TECH)
    hi = cim_layer_costs(CimMacro(adc_bits=adc_bits + 1, bit_serial=bit_serial), SMALL_CONV, operator=operator,
                         tech=TECH)
    assert hi.energy_j[0] > lo.energy_j[0]


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 96), k=st.integers(1, 96), hw=st.integers(3, 12), rs=st.sampled_from([1, 3]),
       operator=st.sampled_from(["mac", "binary", "l1"]), wb=st.integers(1, 8), ab=st.integers(1, 8))
def test_energy_is_the_sum_of_its_components_and_positive(c, k, hw, rs, operator, wb, ab):
    wl = Workload("w", (Layer("x", c=c, k=k, h=hw, w=hw, r=rs, s=rs, padding=rs // 2),))
    cost = cim_layer_costs(CimMacro(), wl, operator=operator, weight_bits=wb, act_bits=ab, tech=TECH)
    total = sum(cost.energy_breakdown_j[name] for name in ENERGY_COMPONENTS)
    np.testing.assert_allclose(cost.energy_j, total, rtol=1e-12)
    assert (cost.energy_j > 0).all() and (cost.latency_s > 0).all()


def test_layer_that_fits_the_macros_is_resident_and_loads_no_weights_per_inference():
    cost = cim_layer_costs(CimMacro(), SMALL_CONV, tech=TECH)
    assert cost.resident.tolist() == [True]
    assert cost.energy_breakdown_j["cell_write"][0] == 0.0
    assert cost.load_once_j[0] > 0.0


def test_layer_larger_than_the_macros_is_reloaded_every_inference():
    tiny = CimMacro(n_macros=1)
    cost = cim_layer_costs(tiny, SMALL_CONV, tech=TECH)
    assert cim_tiles(tiny, SMALL_CONV)[0] > 1
    assert not cost.resident[0]
    assert cost.energy_breakdown_j["cell_write"][0] > 0.0
    assert cost.energy_j[0] > cim_layer_costs(CimMacro(), SMALL_CONV, tech=TECH).energy_j[0]


def test_bit_serial_inputs_need_no_dac_but_more_conversions():
    serial = cim_layer_costs(CimMacro(bit_serial=True), SMALL_CONV, operator="mac", tech=TECH)
    parallel = cim_layer_costs(CimMacro(bit_serial=False), SMALL_CONV, operator="mac", tech=TECH)
    assert serial.energy_breakdown_j["dac"][0] == 0.0 < parallel.energy_breakdown_j["dac"][0]
    assert serial.conversions[0] == 8 * parallel.conversions[0]


def test_multiplication_free_operator_needs_no_dac():
    cost = cim_layer_costs(CimMacro(), SMALL_CONV, operator="l1", tech=TECH)
    assert cost.energy_breakdown_j["dac"][0] == 0.0


def test_unknown_operator_is_rejected_with_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: \\['mac', 'binary', 'l1'\\]"):
        cim_layer_costs(CimMacro(), SMALL_CONV, operator="xnor", tech=TECH)


def test_cost_is_vectorized_over_layers_in_workload_order():
    wl = Workload("two", (SMALL_CONV.layers[0], Layer("fc", kind="linear", c=64, k=10)))
    both = cim_layer_costs(CimMacro(), wl, tech=TECH)
    alone = cim_layer_costs(CimMacro(), Workload("fc", (wl.layers[1],)), tech=TECH)
    assert both.energy_j.shape == (2,)
    assert both.energy_j[1] == pytest.approx(alone.energy_j[0])


def test_bad_technology_file_names_the_file_and_key(tmp_path):
    bad = tmp_path / "cim.yaml"
    text = TECH.model_dump()
    text["adc"]["linear_f"] = -1.0
    import yaml

    bad.write_text(yaml.safe_dump(text))
    with pytest.raises(CimTechnologyError, match=r"cim.yaml: adc.linear_f"):
        load_cim_technology(bad)


def test_macro_area_grows_with_adc_bits_and_macro_count():
    base = CimMacro().area_mm2(TECH)
    assert CimMacro(adc_bits=8).area_mm2(TECH) > base
    assert CimMacro(n_macros=64).area_mm2(TECH) == pytest.approx(2 * base)


def test_bad_macro_file_names_the_file_and_every_bad_key(tmp_path):
    from coexplore.cim import CimMacroError, load_cim_macro

    bad = tmp_path / "macro.yaml"
    bad.write_text("rows: 1\nadc_bit: 5\n")
    with pytest.raises(CimMacroError, match=r"macro.yaml: rows: .*\n.*macro.yaml: adc_bit: unknown key"):
        load_cim_macro(bad)
    bad.write_text("- rows\n")
    with pytest.raises(CimMacroError, match=r"macro.yaml: expected a mapping with keys \['rows'"):
        load_cim_macro(bad)
    good = tmp_path / "good.yaml"
    good.write_text("rows: 128\nadc_bits: 6\n")
    assert load_cim_macro(good) == CimMacro(rows=128, adc_bits=6)
