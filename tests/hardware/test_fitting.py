"""Polynomial characterization fits and user characterization files."""

from __future__ import annotations

import numpy as np
import pytest

from coexplore.hardware.characterization import CharacterizationError, load_characterization
from coexplore.hardware.fitting import PolyCurve
from coexplore.hardware.technology import TechnologyTable


def test_fit_recovers_a_known_polynomial():
    x = np.array([2.0, 4, 8, 12, 16])
    y = 0.01 * x**2 + 0.05 * x + 0.02
    curve = PolyCurve.fit(x, y, degree=2)
    assert np.allclose(curve.coef, [0.02, 0.05, 0.01], atol=1e-9)
    assert curve.report.r2 == pytest.approx(1.0)
    assert curve.report.max_rel_error < 1e-9


def test_fit_reports_the_error_of_noisy_points():
    rng = np.random.default_rng(0)
    x = np.linspace(1, 16, 20)
    y = (0.01 * x**2 + 0.1) * (1 + rng.normal(0, 0.05, x.size))
    report = PolyCurve.fit(x, y, degree=2).report
    assert 0.9 < report.r2 < 1.0
    assert 0.01 < report.max_rel_error < 0.5


def test_the_default_degree_is_lowered_to_what_the_points_allow():
    assert PolyCurve.fit([1, 2], [3, 5]).report.degree == 1


@pytest.mark.parametrize(("x", "y", "degree", "phrase"), [
    ([1, 2], [3, 5], 5, "degree 5 needs at least 6 points"),
    ([1, 1, 1], [3, 5, 4], 1, "degree 1 needs at least 2 points with distinct x"),
    ([1, 2, 3], [3, float("nan"), 4], 1, "finite numbers"),
    ([1, 2, 3], [3, -5, 4], 1, "must not be negative"),
])
def test_a_fit_the_points_cannot_support_is_refused(x, y, degree, phrase):
    with pytest.raises(ValueError, match=phrase):
        PolyCurve.fit(x, y, degree=degree)


def test_log_fit_recovers_a_power_law():
    x = np.array([1e3, 1e4, 1e5])
    curve = PolyCurve.fit(x, 0.5 * x**0.5, degree=1, log=True)
    assert float(curve(1e6)) == pytest.approx(0.5 * 1e3, rel=1e-9)


def test_user_mac_curve_replaces_the_default_for_its_family(tmp_path):
    path = tmp_path / "synth.yaml"
    path.write_text(
        "fits:\n  - quantity: mac_energy_pj\n    family: int\n    degree: 2\n"
        "    x: [4, 8, 16]\n    y: [0.1, 0.4, 1.6]\n"
    )
    tech = TechnologyTable.load(path)
    assert float(tech.mac_energy_pj(np.array([1]), 8, 8)[0]) == pytest.approx(0.4)
    default = TechnologyTable.default()
    # LightPE is untouched by an int characterization.
    assert tech.mac_energy_pj(np.array([3]), 4, 8)[0] == default.mac_energy_pj(np.array([3]), 4, 8)[0]
    assert [r.quantity for r in tech.fit_reports()] == ["mac_energy_pj[int]"]


def test_csv_characterization_is_fitted_per_quantity(tmp_path):
    path = tmp_path / "spad.csv"
    path.write_text(
        "quantity,family,x,y,degree\n"
        "spad_energy_pj_per_bit,,16,0.01,1\n"
        "spad_energy_pj_per_bit,,64,0.02,1\n"
        "spad_energy_pj_per_bit,,256,0.06,1\n"
    )
    char = load_characterization(path)
    curve = char.curves[("spad_energy_pj_per_bit", "")]
    assert curve.report.n_points == 3
    assert TechnologyTable.load(path).spad_energy_pj_per_bit(64.0) == pytest.approx(float(curve(64.0)))


def test_unknown_quantity_names_file_entry_and_allowed_values(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("fits:\n  - quantity: magic\n    x: [1]\n    y: [1]\n")
    with pytest.raises(CharacterizationError, match=r"bad\.yaml: fits\[0\]\.quantity.*allowed: mac_energy_pj"):
        load_characterization(path)


def test_measurements_at_another_node_are_rescaled_to_the_reference(tmp_path):
    path = tmp_path / "n22.yaml"
    path.write_text("node_nm: 22.5\nfits:\n  - {quantity: dram_energy_pj_per_bit, degree: 0, x: [0], y: [10.0]}\n")
    tech = TechnologyTable.load(path)
    assert tech.dram_energy_pj_per_bit() == pytest.approx(10.0 / float(tech.energy_scale(22.5)))
