"""The default technology table: published points reproduced, PE ordering, node scaling."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from coexplore.hardware import native_bits, pe_type_names

PE_TYPES = pe_type_names()
from coexplore.hardware.technology import TechError, TechnologyTable

CODE = {name: i for i, name in enumerate(PE_TYPES)}


@pytest.fixture(scope="module")
def tech() -> TechnologyTable:
    return TechnologyTable.default()


def _mac(tech: TechnologyTable, pe: str) -> float:
    w, a = native_bits(pe)
    return float(tech.mac_energy_pj(np.array([CODE[pe]]), w, a)[0])


def _area(tech: TechnologyTable, pe: str) -> float:
    return float(tech.pe_area_um2(np.array([CODE[pe]]))[0])


def test_multiplier_curve_reproduces_horowitz_points(tech):
    mult = tech.curve("int_mult_energy_pj")
    assert mult(64.0) == pytest.approx(0.2, rel=0.02)
    assert mult(1024.0) == pytest.approx(3.1, rel=0.02)


def test_adder_curve_fits_horowitz_points_within_ten_percent(tech):
    add = tech.curve("int_add_energy_pj")
    for bits, pj in ((8, 0.03), (16, 0.05), (32, 0.1)):
        assert add(float(bits)) == pytest.approx(pj, rel=0.1)


def test_sram_energy_per_bit_reproduces_horowitz_points(tech):
    for size, pj64 in ((8192, 10.0), (32768, 20.0), (1048576, 100.0)):
        assert float(tech.glb_energy_pj_per_bit(size)) * 64 == pytest.approx(pj64, rel=0.15)


def test_int_mac_energy_grows_about_quadratically_with_bits(tech):
    e8, e16 = _mac(tech, "int8"), _mac(tech, "int16")
    assert 2.5 < e16 / e8 < 4.0


def test_lightpe1_is_far_cheaper_than_int16_mac(tech):
    assert _mac(tech, "int16") / _mac(tech, "lightpe1") > 4
    assert _area(tech, "int16") / _area(tech, "lightpe1") > 3


def test_lightpe2_is_cheaper_than_int16_mac(tech):
    assert _mac(tech, "int16") / _mac(tech, "lightpe2") > 2
    assert _area(tech, "int16") / _area(tech, "lightpe2") > 2


def test_binary_pe_is_the_cheapest(tech):
    energies = {pe: _mac(tech, pe) for pe in PE_TYPES}
    areas = {pe: _area(tech, pe) for pe in PE_TYPES}
    assert min(energies, key=energies.get) == "binary"
    assert min(areas, key=areas.get) == "binary"


def test_operand_gating_lowers_mac_energy(tech):
    code = np.array([CODE["int16"]] * 3)
    e = tech.mac_energy_pj(code, np.array([4, 8, 16]), np.array([4, 8, 16]))
    assert e[0] < e[1] < e[2]


def test_register_file_costs_one_mac_per_access_at_half_a_kib(tech):
    # Eyeriss (ISCA 2016): RF access = 1x a 16-bit MAC.
    assert float(tech.spad_energy_pj_per_bit(512)) * 16 == pytest.approx(tech.mac16_energy_pj(), rel=1e-9)


def test_global_buffer_costs_within_2x_of_eyeriss_6x(tech):
    ratio = float(tech.glb_energy_pj_per_bit(108 * 1024)) * 16 / tech.mac16_energy_pj()
    assert 3 < ratio < 12


def test_node_scaling_shrinks_area_quadratically_and_energy(tech):
    assert float(tech.area_scale(22.5)) == pytest.approx(0.25)
    assert float(tech.energy_scale(22.5)) < 1.0
    assert float(tech.energy_scale(45.0)) == 1.0


def test_loading_the_shipped_file_gives_the_default_table(tech):
    path = resources.files("coexplore.data").joinpath("tech_45nm.yaml")
    loaded = TechnologyTable.load(str(path))
    assert loaded.curve("int_mult_energy_pj").coef == tech.curve("int_mult_energy_pj").coef


def test_a_table_missing_a_curve_names_the_file_and_key(tmp_path):
    path = tmp_path / "tech.yaml"
    path.write_text("reference_node_nm: 45\ncurves: {}\nconstants: {}\nscaling: {}\n")
    with pytest.raises(TechError, match=r"tech\.yaml.*int_mult_energy_pj"):
        TechnologyTable.load(path)


def test_every_pe_type_has_a_working_model_and_every_dataflow_a_mapping(tech):
    from coexplore.hardware import DATAFLOWS
    from coexplore.ppa.dataflows import DATAFLOW_MODELS

    for pe in PE_TYPES:  # each registered type's model answers with positive, finite costs
        assert np.isfinite(_mac(tech, pe)) and _mac(tech, pe) > 0 and _area(tech, pe) > 0
    assert set(DATAFLOW_MODELS) == set(DATAFLOWS)


def test_methods_answer_at_a_given_node(tech):
    code = np.array([CODE["int8"]])
    at_22 = tech.mac_energy_pj(code, 8, 8, node_nm=22.5)
    assert at_22[0] == pytest.approx(tech.mac_energy_pj(code, 8, 8)[0] * float(tech.energy_scale(22.5)))
    assert tech.pe_area_um2(code, node_nm=22.5)[0] == pytest.approx(tech.pe_area_um2(code)[0] / 4)
