"""Technology files stacked: a full table, then measured points fitted over it, later files win."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from coexplore.hardware.technology import TechError, TechnologyTable

SHIPPED = str(resources.files("coexplore.data").joinpath("tech_45nm.yaml"))


def _fits(path, *entries: str, node: str = "") -> str:
    path.write_text(node + "fits:\n" + "".join(f"  - {e}\n" for e in entries))
    return str(path)


def test_a_later_file_overrides_an_earlier_one(tmp_path):
    a = _fits(tmp_path / "a.yaml", "{quantity: dram_energy_pj_per_bit, degree: 0, x: [0], y: [20.0]}",
              "{quantity: glb_energy_pj_per_bit, degree: 0, x: [1], y: [0.5]}")
    b = _fits(tmp_path / "b.yaml", "{quantity: dram_energy_pj_per_bit, degree: 0, x: [0], y: [11.0]}")
    t = TechnologyTable.load_stack([SHIPPED, a, b])
    assert t.dram_energy_pj_per_bit() == pytest.approx(11.0)
    assert t.glb_energy_pj_per_bit(np.array([1024.0]))[0] == pytest.approx(0.5)  # kept from a


def test_an_empty_stack_is_the_default_table():
    assert TechnologyTable.load_stack([]).dram_energy_pj_per_bit() == TechnologyTable.default().dram_energy_pj_per_bit()


def test_a_full_table_after_a_characterization_is_refused_naming_it(tmp_path):
    a = _fits(tmp_path / "a.yaml", "{quantity: dram_energy_pj_per_bit, degree: 0, x: [0], y: [20.0]}")
    with pytest.raises(TechError, match="tech_45nm.yaml: a full technology table .* must come first"):
        TechnologyTable.load_stack([a, SHIPPED])


def test_each_file_is_brought_to_the_reference_node_by_its_own_node(tmp_path):
    t = TechnologyTable.default()
    at_28 = _fits(tmp_path / "a.yaml", "{quantity: dram_energy_pj_per_bit, degree: 0, x: [0], y: [10.0]}",
                  node="node_nm: 28\n")
    at_45 = _fits(tmp_path / "b.yaml", "{quantity: glb_energy_pj_per_bit, degree: 0, x: [1], y: [0.3]}")
    s = TechnologyTable.load_stack([at_28, at_45])
    assert s.dram_energy_pj_per_bit() == pytest.approx(10.0 / float(t.energy_scale(28.0)))
    assert s.glb_energy_pj_per_bit(np.array([4096.0]))[0] == pytest.approx(0.3)


def test_per_operand_spad_and_noc_energies_override_the_generic_curves(tmp_path):
    f = _fits(tmp_path / "a.yaml", "{quantity: psum_spad_energy_pj_per_bit, degree: 0, x: [2], y: [0.001]}",
              "{quantity: noc_energy_pj_per_bit, degree: 0, x: [0], y: [0.0]}")
    t = TechnologyTable.load_stack([f])
    size = np.array([48.0])
    assert t.spad_energy_pj_per_bit(size, operand="psum")[0] == pytest.approx(0.001)
    assert t.spad_energy_pj_per_bit(size, operand="filter")[0] == TechnologyTable.default().spad_energy_pj_per_bit(size)[0]
    assert t.noc_energy_pj_per_bit() == 0.0
