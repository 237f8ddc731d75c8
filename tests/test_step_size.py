"""Tests of the scalar dynamics quantities: S(mu), the maximal step size, v*, h and f."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath import mp

from dmfverify.errors import InvalidArgument
from dmfverify.hitting_time import hitting_time_bracket
from dmfverify.step_size import max_step_size, peak_level, speed, step_size_number, update

CASES = Path(__file__).resolve().parents[1] / ".." / "shared" / "cases"


def as_mpf(value: Fraction | str) -> mpmath.mpf:
    """Convert an exact test value to mpf at the current precision (mpmath does not take Fraction)."""
    value = Fraction(value)
    return mpmath.mpf(value.numerator) / value.denominator


def scalar_cases() -> list[dict]:
    if not CASES.is_dir():
        pytest.skip("reference cases directory not found next to the repository")
    return [json.loads(path.read_text()) for path in sorted(CASES.glob("scalar-*.json"))]


# Eigenvalues from 1e-4 to about 1e4 as exact decimals, shrinking towards small mantissas.
eigenvalues = st.builds(
    lambda mantissa, exponent: Fraction(mantissa, 1000) * Fraction(10) ** exponent,
    st.integers(1, 9999),
    st.integers(-4, 3),
)
depths = st.integers(2, 6)


def test_step_size_number_matches_reference_cases():
    for case in scalar_cases():
        expected = case["expected"]["step_size_number_S"]
        with mp.workdps(50):
            value = step_size_number(case["eigenvalue"], case["eta"], case["depth"])
            assert abs(value - mpmath.mpf(expected)) <= mpmath.mpf(10) ** -29 * abs(value), case["id"]


def test_step_size_number_known_values():
    with mp.workdps(40):
        assert step_size_number(1, "0.1", 2) == mpmath.mpf("0.2")
        assert step_size_number(0, "0.1", 3) == 0
        # eta N mu^(2-2/N) = 0.01 * 5 * 2^(8/5)
        expected = mpmath.mpf("0.05") * mpmath.mpf(2) ** (mpmath.mpf(8) / 5)
        assert abs(step_size_number(2, "0.01", 5) - expected) < mpmath.mpf(10) ** -39


@settings(max_examples=60, deadline=None)
@given(mu=eigenvalues, depth=depths, target=st.sampled_from(["1", "0.5", "2", "1e-3"]), dps=st.sampled_from([15, 30, 50]))
def test_max_step_size_inverts_step_size_number(mu, depth, target, dps):
    with mp.workdps(dps):
        eta = max_step_size(mu, depth, S=target)
        recovered = step_size_number(mu, eta, depth)

        assert abs(recovered - as_mpf(target)) <= mpmath.mpf(10) ** (2 - dps) * as_mpf(target)

    # Rounded down: the exact step-size number of the returned eta is at most the target.
    mantissa, exponent = eta.man_exp
    eta_exact = Fraction(int(mantissa)) * Fraction(2) ** int(exponent)
    assert (eta_exact * depth) ** depth * mu ** (2 * depth - 2) <= Fraction(target) ** depth


def test_max_step_size_passes_bracket_hypothesis():
    with mp.workdps(30):
        for mu, depth in [("1", 3), ("0.7", 2), ("13", 5), (Fraction(1, 3), 4)]:
            eta = max_step_size(mu, depth)
            bracket = hitting_time_bracket(Fraction(mu) / 2, mu, Fraction(1, 100), eta, depth)
            assert abs(bracket.step_size_number - 1) < mpmath.mpf(10) ** -28


@settings(max_examples=40, deadline=None)
@given(mu=eigenvalues, depth=depths)
def test_peak_level_is_where_speed_peaks(mu, depth):
    with mp.workdps(40):
        level = peak_level(mu, depth)
        peak_x = mpmath.root(level, depth)
        slope = mpmath.diff(lambda x: speed(x, mu, depth), peak_x)
        scale = speed(peak_x, mu, depth) / peak_x

        assert abs(slope) < mpmath.mpf(10) ** -25 * scale
        assert speed(peak_x * mpmath.mpf("0.99"), mu, depth) < speed(peak_x, mu, depth)
        assert speed(peak_x * mpmath.mpf("1.01"), mu, depth) < speed(peak_x, mu, depth)
        assert abs(level - as_mpf(mu) * (depth - 1) / (2 * depth - 1)) <= mpmath.mpf(10) ** -39 * level


def test_speed_and_update_exact_values():
    with mp.workdps(30):
        assert speed("0.5", 1, 2) == mpmath.mpf("0.375")
        assert speed(2, 8, 3) == 0
        assert speed(-1, 1, 2) == 0
        assert update("0.1", 1, "0.1", 2) == mpmath.mpf("0.1099")
        assert update(2, 8, "0.3", 3) == 2

        # 1/2 + (1/7) (1/2)^3 (1/3 - (1/2)^4) = 1357/2688
        exact = mpmath.mpf(1357) / 2688
        assert abs(update(Fraction(1, 2), Fraction(1, 3), Fraction(1, 7), 4) - exact) <= mpmath.mpf(10) ** -29


def test_update_is_x_plus_eta_speed():
    with mp.workdps(50):
        x, mu, eta = mpmath.mpf("0.3"), mpmath.mpf("1.7"), mpmath.mpf("0.02")
        for depth in range(2, 7):
            expected = x + eta * speed(x, mu, depth)
            assert abs(update(x, mu, eta, depth) - expected) < mpmath.mpf(10) ** -48


@settings(max_examples=30, deadline=None)
@given(
    mu=eigenvalues,
    depth=depths,
    S=st.sampled_from(["1", "0.9", "0.3", "0.05"]),
    ratio=st.floats(1e-3, 0.99),
)
def test_monotone_regime_increases_without_passing(mu, depth, S, ratio):
    # For S(mu) <= 1 and alpha^N < mu the iterates increase strictly to mu^(1/N)
    # and never pass it.  The checks allow for rounding once x is within 1e-25 of it.
    with mp.workdps(30):
        eta = max_step_size(mu, depth, S=S)
        fixed_point = mpmath.root(as_mpf(mu), depth)
        tolerance = mpmath.mpf(10) ** -25 * fixed_point
        x = fixed_point * mpmath.mpf(ratio)
        for _ in range(60):
            following = update(x, mu, eta, depth)
            assert following <= fixed_point + tolerance
            if fixed_point - x > tolerance:
                assert following > x
            x = following


def test_exact_fraction_and_string_inputs_agree():
    with mp.workdps(50):
        from_string = step_size_number("0.7", "0.125", 3)
        from_fraction = step_size_number(Fraction(7, 10), Fraction(1, 8), 3)
        from_mpf = step_size_number(mpmath.mpf("0.7"), mpmath.mpf("0.125"), 3)

        assert from_string == from_fraction
        assert abs(from_mpf - from_string) < mpmath.mpf(10) ** -48


def test_caller_precision_used_and_restored():
    with mp.workdps(50):
        value = max_step_size(1, 3)
        assert value == +value
        assert abs(value - mpmath.mpf(1) / 3) < mpmath.mpf(10) ** -49
        assert mp.dps == 50

    with mp.workdps(15):
        assert abs(max_step_size(1, 3) - mpmath.mpf(1) / 3) < mpmath.mpf(10) ** -15
        assert mp.dps == 15


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: step_size_number("-1", "0.1", 3), "mu = -1"),
        (lambda: step_size_number(1, "0", 3), "eta = 0"),
        (lambda: step_size_number(1, "-0.5", 3), "eta = -0.5"),
        (lambda: step_size_number(1, "0.1", 1), "depth = 1"),
        (lambda: step_size_number(1, "0.1", 2.5), "depth = 2.5"),
        (lambda: step_size_number(1, "abc", 3), "eta = 'abc'"),
        (lambda: step_size_number(float("nan"), "0.1", 3), "mu = nan"),
        (lambda: step_size_number(True, "0.1", 3), "mu = True"),
        (lambda: max_step_size(0, 3), "mu = 0"),
        (lambda: max_step_size(1, 3, S="-2"), "S = -2"),
        (lambda: peak_level("-3", 2), "mu = -3"),
        (lambda: update(1, 1, "-0.1", 2), "eta = -0.1"),
        (lambda: speed(mpmath.inf, 1, 2), "x = +inf"),
    ],
)
def test_invalid_arguments_name_the_value(call, fragment):
    with pytest.raises(InvalidArgument) as raised:
        call()

    assert fragment in str(raised.value)


def test_contraction_of_small_step_size_number():
    """S(mu)^N far below the working precision (depth 50, S = 0.0025) still gives ln(1/q) close to S."""
    from dmfverify.step_size import _log_inverse_contraction

    with mpmath.workdps(30):
        value = _log_inverse_contraction(Fraction(1), Fraction(1, 20000), 50)
        expected = -mpmath.log1p(-mpmath.mpf("0.0025"))

        assert abs(value - expected) < mpmath.mpf(10) ** -28 * expected


def test_deep_bracket_with_small_step():
    # Gradient descent first reaches p_k >= 0.6 at step 157 here (certified run).
    lower = hitting_time_bracket("0.6", 1, "0.982", "0.0002", 50).lower

    assert 100 < lower < 157
