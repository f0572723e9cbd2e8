"""QuantPlan: per-layer bits from defaults, pins, overrides and patterns; canonical keys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coexplore.quant import QuantPlan, QuantPlanError

NAMES = ["features.0", "features.3", "features.7", "classifier"]


def test_defaults_are_the_pe_types_native_bits() -> None:
    assert QuantPlan(pe_type="lightpe1").resolve(NAMES) == ([4] * 4, [8] * 4)
    assert QuantPlan(pe_type="binary").resolve(NAMES) == ([1] * 4, [1] * 4)


def test_pin_first_last_sets_both_bits_of_the_first_and_last_layer() -> None:
    w, a = QuantPlan(pe_type="int4", pin_first_last=8).resolve(NAMES)
    assert w == [8, 4, 4, 8] and a == [8, 4, 4, 8]


def test_an_explicit_layer_override_wins_over_the_pin() -> None:
    plan = QuantPlan(
        pe_type="int8", weight_bits=4, layer_weight_bits={"classifier": 6}, pin_first_last=8
    )
    assert plan.resolve(NAMES)[0] == [8, 4, 4, 6]


def test_glob_patterns_set_a_group_of_layers_and_exact_names_win() -> None:
    plan = QuantPlan(pe_type="int8", layer_weight_bits={"features.*": 3, "features.3": 5})
    assert plan.resolve(NAMES)[0] == [3, 5, 3, 8]


def test_unknown_layer_names_are_an_error_naming_them() -> None:
    plan = QuantPlan(pe_type="int8", layer_act_bits={"conv9": 4, "features.0": 4})
    with pytest.raises(QuantPlanError, match="layer_act_bits: unknown layer name.*conv9"):
        plan.resolve(NAMES)


def test_bits_outside_1_to_16_are_rejected_with_the_field() -> None:
    with pytest.raises(QuantPlanError, match="layer_weight_bits.features.0"):
        QuantPlan(pe_type="int8", layer_weight_bits={"features.0": 32}).resolve(NAMES)
    with pytest.raises(ValidationError):
        QuantPlan(pe_type="int8", weight_bits=0)


def test_lightpe2_needs_two_bits_per_term() -> None:
    with pytest.raises(QuantPlanError, match="features.0.*at least 4 bits"):
        QuantPlan(pe_type="lightpe2", weight_bits=3).layer_specs(NAMES)


def test_key_is_canonical_over_defaults_and_dict_order() -> None:
    a = QuantPlan(pe_type="int8", layer_weight_bits={"a": 4, "b": 2})
    b = QuantPlan(pe_type="int8", weight_bits=8, act_bits=8, layer_weight_bits={"b": 2, "a": 4})
    assert a.key() == b.key()
    assert a.key() != QuantPlan(pe_type="int8", layer_weight_bits={"a": 4, "b": 3}).key()


def test_schemes_follow_the_pe_type_and_one_bit_layers_binarize() -> None:
    specs = QuantPlan(pe_type="binary", pin_first_last=8).layer_specs(NAMES)
    assert [s.weight_scheme for s in specs] == ["uniform", "binary", "binary", "uniform"]
    assert [s.act_scheme for s in specs] == ["uniform", "binary", "binary", "uniform"]
    lp2 = QuantPlan(pe_type="lightpe2").layer_specs(NAMES)[0]
    assert lp2.weight_scheme == "pow2" and lp2.weight_options == {"terms": 2}


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        QuantPlan(pe_type="int8", bits=4)  # type: ignore[call-arg]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    w=st.integers(1, 16),
    a=st.integers(1, 16),
    pin=st.one_of(st.none(), st.integers(1, 16)),
    data=st.data(),
)
def test_resolve_gives_one_bit_width_per_layer_from_default_pin_or_override(
    n: int, w: int, a: int, pin: int | None, data: st.DataObject
) -> None:
    names = [f"layer{i}" for i in range(n)]
    overrides = data.draw(st.dictionaries(st.sampled_from(names), st.integers(1, 16), max_size=n))
    plan = QuantPlan(
        pe_type="int8", weight_bits=w, act_bits=a, pin_first_last=pin, layer_weight_bits=overrides
    )
    weights, acts = plan.resolve(names)
    assert len(weights) == len(acts) == n
    for i, name in enumerate(names):
        pinned = pin is not None and i in (0, n - 1)
        assert weights[i] == overrides.get(name, pin if pinned else w)
        assert acts[i] == (pin if pinned else a)
