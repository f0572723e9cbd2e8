"""Power-of-two weight quantizers (LightNN-k): sums of k signed powers of two, greedy, STE."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.quant import PowerOfTwoWeightQuantizer


def _is_sum_of_powers_of_two(value: float, terms: int, e_min: int, e_max: int) -> bool:
    """Whether ``value`` is 0 or a sum of at most ``terms`` signed powers 2^e, e in [e_min, e_max]."""
    if value == 0:
        return True
    if terms == 0:
        return False
    for e in range(e_min, e_max + 1):
        for sign in (1.0, -1.0):
            if _is_sum_of_powers_of_two(value - sign * 2.0**e, terms - 1, e_min, e_max):
                return True
    return False


@settings(max_examples=30, deadline=None)
@given(terms=st.sampled_from([1, 2]), bits=st.integers(4, 8), seed=st.integers(0, 10_000))
def test_each_weight_is_a_sum_of_at_most_k_signed_powers_of_two(
    terms: int, bits: int, seed: int
) -> None:
    w = torch.randn(3, 20, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    quant = PowerOfTwoWeightQuantizer(bits, w, terms=terms)
    e_min, e_max = quant.exponent_range(w)
    q = quant(w)
    for c in range(w.shape[0]):
        for v in q[c].tolist():
            assert _is_sum_of_powers_of_two(v, terms, int(e_min[c]), int(e_max[c])), v


def test_one_term_rounds_to_the_nearest_power_of_two_in_the_linear_domain() -> None:
    w = torch.tensor([[1.0, 0.74, 0.76, -0.3, 0.2]])
    q = PowerOfTwoWeightQuantizer(4, w, terms=1)(w)
    assert q.tolist() == [[1.0, 0.5, 1.0, -0.25, 0.25]]


def test_exponent_range_follows_the_weight_bits() -> None:
    w = torch.tensor([[1.0, 2.0**-5, 2.0**-7, 2.0**-9]])
    four = PowerOfTwoWeightQuantizer(4, w, terms=1)  # 7 exponents: 2^0 .. 2^-6
    three = PowerOfTwoWeightQuantizer(3, w, terms=1)  # 3 exponents: 2^0 .. 2^-2
    assert four.n_exponents == 7 and three.n_exponents == 3
    assert four(w).tolist() == [[1.0, 2.0**-5, 2.0**-6, 0.0]]
    assert three(w).tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_two_terms_approximate_better_than_one() -> None:
    w = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    err1 = (PowerOfTwoWeightQuantizer(8, w, terms=1)(w) - w).pow(2).mean()
    err2 = (PowerOfTwoWeightQuantizer(8, w, terms=2)(w) - w).pow(2).mean()
    assert err2 < 0.5 * err1


def test_gradient_passes_straight_through() -> None:
    w = torch.randn(4, 5, requires_grad=True)
    PowerOfTwoWeightQuantizer(4, w, terms=2)(w).sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


@pytest.mark.parametrize("terms,bits", [(1, 1), (2, 3)])
def test_too_few_bits_for_the_terms_are_rejected(terms: int, bits: int) -> None:
    with pytest.raises(ValueError, match="bits must be in"):
        PowerOfTwoWeightQuantizer(bits, torch.randn(2, 2), terms=terms)
