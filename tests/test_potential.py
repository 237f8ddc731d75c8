"""Tests of the potential Phi, its elementary bracket J and the hitting-time bracket."""

from __future__ import annotations

import json
import math
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mpmath import mp

from dmfverify.errors import InvalidArgument, NumericalWarning
from dmfverify.hitting_time import (
    HittingTimeBracket,
    estimate_hitting_time,
    hitting_time_bracket,
    hitting_time_lower,
    hitting_time_upper,
)
from dmfverify.potential import elementary_bracket, potential
from dmfverify.step_size import max_step_size

CASES = Path(__file__).resolve().parents[1] / ".." / "shared" / "cases"


def as_mpf(value: Fraction | str | int | mpmath.mpf) -> mpmath.mpf:
    """Convert an exact test value to mpf at the current precision (mpmath does not take Fraction)."""
    if isinstance(value, mpmath.mpf):
        return +value
    value = Fraction(value)
    return mpmath.mpf(value.numerator) / value.denominator


def scalar_cases() -> list[dict]:
    if not CASES.is_dir():
        pytest.skip("reference cases directory not found next to the repository")
    return [json.loads(path.read_text()) for path in sorted(CASES.glob("scalar-*.json"))]


def simulate_hitting_time(u, mu, alpha, eta, depth: int, limit: int = 100_000) -> int:
    """Run x <- x + eta x^(N-1) (mu - x^N) from alpha in mpmath until x^N >= u."""
    u, mu, eta, x = as_mpf(u), as_mpf(mu), as_mpf(eta), as_mpf(alpha)
    for step in range(limit + 1):
        if x**depth >= u:
            return step
        x += eta * x ** (depth - 1) * (mu - x**depth)
    raise AssertionError(f"threshold {u} not reached in {limit} steps")


def close(value: mpmath.mpf, expected: mpmath.mpf, digits: int) -> bool:
    return abs(value - expected) <= mpmath.mpf(10) ** (-digits) * max(abs(expected), mpmath.mpf(1))


@st.composite
def potential_instances(draw, max_near_mu_digits: int = 20):
    """Draw exact ``(v, mu, alpha, depth)`` with ``alpha^N <= v < mu``.

    ``mu`` spans 1e-3..1e3, ``alpha^N / mu`` spans about 1e-10..0.9, and ``v`` is
    uniform in ``[alpha^N, mu)`` or within ``10^-k`` of ``mu`` (relative).  Shrinks
    towards depth 2, ``mu = 1`` and ``v = alpha^N``.
    """
    depth = draw(st.integers(2, 6))
    mu = Fraction(draw(st.integers(1, 9999)), 1000) * Fraction(10) ** draw(st.integers(-2, 2))
    start_ratio = draw(st.floats(1e-10, 0.9))
    alpha = Fraction(float(mpmath.root(float(mu) * start_ratio, depth)))
    start = alpha**depth
    assume(start < mu)

    near_mu = draw(st.integers(0, max_near_mu_digits))
    if near_mu == 0:
        position = Fraction(draw(st.integers(0, 999)), 1000)
    else:
        position = 1 - Fraction(draw(st.integers(1, 999)), 1000) * Fraction(1, 10**near_mu)
    v = start + (mu - start) * position
    return v, mu, alpha, depth


@st.composite
def bracket_instances(draw, max_steps: float = 20_000):
    """Draw exact ``(u, mu, alpha, eta, depth)`` satisfying the bracket's hypotheses.

    ``S(mu)`` is 1 exactly, just below 1, or in 0.05..1; ``u`` is uniform in
    ``(alpha^N, mu)`` or close to ``mu``.  Instances whose estimated hitting time
    exceeds ``max_steps`` are rejected, so a direct simulation stays cheap.
    """
    depth = draw(st.integers(2, 5))
    mu = Fraction(draw(st.integers(1, 9999)), 1000)
    S = draw(st.sampled_from([Fraction(1), Fraction(999, 1000)]) | st.fractions(Fraction(1, 20), 1, max_denominator=1000))
    with mp.workdps(30):
        eta = max_step_size(mu, depth, S=S)
    start_ratio = draw(st.floats(1e-6, 0.9))
    alpha = Fraction(float(mpmath.root(float(mu) * start_ratio, depth)))
    start = alpha**depth
    assume(start < mu)

    position = draw(st.sampled_from([None, 1, 3, 8]))
    if position is None:
        u = start + (mu - start) * Fraction(draw(st.integers(1, 999)), 1000)
    else:
        u = mu - mu * Fraction(draw(st.integers(1, 999)), 1000) / 10**position
    assume(start < u < mu)
    assume(estimate_hitting_time(u, mu, alpha, eta, depth) < max_steps)
    return u, mu, alpha, eta, depth


def test_reference_brackets_match_at_50_digits():
    checked = 0
    for case in scalar_cases():
        arguments = (case["eigenvalue"], case["alpha"], case["eta"], case["depth"])
        for threshold, expected in zip(case["thresholds"], case["expected"]["bracket"]):
            if expected is None:
                continue
            with mp.workdps(50):
                bracket = hitting_time_bracket(threshold, *arguments)
                label = f"{case['id']} at u = {threshold}"
                assert close(bracket.potential, mpmath.mpf(expected["Phi"]), 29), label
                assert close(bracket.lower, mpmath.mpf(expected["Hlower"]), 29), label
                assert close(bracket.upper, mpmath.mpf(expected["Hupper"]), 29), label
                assert close(bracket.step_size_number, mpmath.mpf(case["expected"]["step_size_number_S"]), 29), label
            checked += 1

    assert checked >= 15


def test_separate_functions_match_bracket():
    for case in scalar_cases():
        arguments = (case["eigenvalue"], case["alpha"], case["eta"], case["depth"])
        for threshold, expected in zip(case["thresholds"], case["expected"]["bracket"]):
            if expected is None:
                continue
            with mp.workdps(50):
                bracket = hitting_time_bracket(threshold, *arguments)
                assert hitting_time_lower(threshold, *arguments) == bracket.lower
                assert hitting_time_upper(threshold, *arguments) == bracket.upper
                assert potential(threshold, case["eigenvalue"], case["alpha"], case["depth"]) == bracket.potential


def test_threshold_at_start_rejected():
    rejected = 0
    for case in scalar_cases():
        arguments = (case["eigenvalue"], case["alpha"], case["eta"], case["depth"])
        for threshold, expected in zip(case["thresholds"], case["expected"]["bracket"]):
            if expected is None:
                with pytest.raises(InvalidArgument, match="above alpha\\^N"):
                    hitting_time_bracket(threshold, *arguments)
                rejected += 1

    assert rejected >= 1


def test_reference_hitting_times_inside_bracket():
    for case in scalar_cases():
        arguments = (case["eigenvalue"], case["alpha"], case["eta"], case["depth"])
        for threshold, steps, expected in zip(
            case["thresholds"], case["expected"]["hitting_times"], case["expected"]["bracket"]
        ):
            if expected is None:
                continue
            with mp.workdps(30):
                bracket = hitting_time_bracket(threshold, *arguments)
            assert bracket.lower <= steps <= bracket.upper, f"{case['id']} at u = {threshold}"


@settings(max_examples=25, deadline=None)
@given(potential_instances())
def test_closed_form_matches_quadrature(instance):
    v, mu, alpha, depth = instance
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        with mp.workdps(50):
            closed = potential(v, mu, alpha, depth)
            integrated = potential(v, mu, alpha, depth, method="quadrature")

            assert abs(closed - integrated) <= mpmath.mpf(10) ** -40 * abs(closed)


def test_closed_form_near_mu_and_near_start():
    # v within 1e-60 of mu (the 2F1 singularity) and within 1e-40 of alpha^N (cancellation).
    instances = [
        (1 - Fraction(1, 10**60), 1, Fraction(1, 10), 3),
        (1 - Fraction(1, 10**60), 1, Fraction(1, 10), 2),
        (Fraction(7, 2) * (1 - Fraction(1, 10**45)), Fraction(7, 2), Fraction(3, 100), 5),
        (Fraction(1, 1000) * (1 + Fraction(1, 10**40)), 1, Fraction(1, 10), 3),
        (Fraction(1, 100) * (1 + Fraction(1, 10**40)), 1, Fraction(1, 10), 2),
    ]
    for v, mu, alpha, depth in instances:
        with mp.workdps(50):
            closed = potential(v, mu, alpha, depth)
            integrated = potential(v, mu, alpha, depth, method="quadrature")
            assert abs(closed - integrated) <= mpmath.mpf(10) ** -45 * abs(closed), (v, depth)


def test_potential_near_start_is_first_order():
    # Phi(alpha^N (1 + d)) = d alpha^N / (N alpha^(2N-2) (mu - alpha^N)) + O(d^2).
    with mp.workdps(50):
        alpha, mu, depth = Fraction(1, 10), Fraction(2), 4
        start = alpha**depth
        d = Fraction(1, 10**30)
        expected = as_mpf(d * start / (depth * alpha ** (2 * depth - 2) * (mu - start)))
        assert close(potential(start * (1 + d), mu, alpha, depth), expected, 25)
        assert potential(start, mu, alpha, depth) == 0


def test_depth2_closed_form_is_logarithm():
    with mp.workdps(50):
        v, mu, alpha = mpmath.mpf("0.7"), mpmath.mpf("1.3"), mpmath.mpf("0.2")
        expected = mpmath.log(v * (mu - alpha**2) / (alpha**2 * (mu - v))) / (2 * mu)
        assert close(potential(v, mu, alpha, 2), expected, 48)


@settings(max_examples=60, deadline=None)
@given(potential_instances(max_near_mu_digits=8))
def test_elementary_bracket_encloses_potential(instance):
    v, mu, alpha, depth = instance
    with mp.workdps(40):
        phi = potential(v, mu, alpha, depth)
        bracket = elementary_bracket(v, alpha, depth)
        slack = mpmath.mpf(10) ** -35 * phi

        assert bracket / as_mpf(mu) <= phi + slack
        assert phi <= bracket / as_mpf(mu - v) + slack


def test_elementary_bracket_values():
    with mp.workdps(40):
        assert close(elementary_bracket("0.3", "0.1", 3), 10 - mpmath.mpf("0.3") ** (-mpmath.mpf(1) / 3), 38)
        assert close(elementary_bracket("0.5", "0.1", 2), mpmath.log(50) / 2, 38)
        assert elementary_bracket("0.001", "0.1", 3) == 0
        assert elementary_bracket("0.0005", "0.1", 3) < 0


@pytest.mark.parametrize("depth", [3, 4, 5, 6])
def test_small_alpha_asymptotics(depth):
    # Phi_mu(v) - alpha^(2-N) / ((N - 2) mu) converges as alpha -> 0, with error O(alpha^2).
    # Phi reaches 1e64, so 120 digits leave about 50 for the remainder.
    mu, v = Fraction(3, 2), Fraction(1, 2)
    with mp.workdps(120):
        remainders = []
        for exponent in (8, 12, 16):
            alpha = Fraction(1, 10**exponent)
            phi = potential(v, mu, alpha, depth)
            leading = as_mpf(1 / (alpha ** (depth - 2) * (depth - 2) * mu))
            assert abs(phi / leading - 1) < mpmath.mpf(10) ** (-exponent * (depth - 2) + 2)
            remainders.append(phi - leading)

        assert abs(remainders[1] - remainders[2]) < mpmath.mpf(10) ** -20
        assert abs(remainders[0] - remainders[2]) < mpmath.mpf(10) ** -12


def test_small_alpha_time_ratio():
    # For N >= 3 the learning times of two eigenvalues tend to the inverse ratio of the eigenvalues.
    with mp.workdps(40):
        alpha = Fraction(1, 10**12)
        fast = potential(Fraction(9, 10) * 2, 2, alpha, 3)
        slow = potential(Fraction(9, 10) * Fraction(1, 2), Fraction(1, 2), alpha, 3)
        assert abs(slow / fast - 4) < mpmath.mpf(10) ** -9


def test_depth2_small_alpha_grows_like_log():
    mu, v = Fraction(3, 2), Fraction(1, 2)
    with mp.workdps(50):
        alpha = Fraction(1, 10**20)
        phi = potential(v, mu, alpha, 2)
        limit = mpmath.log(1 / as_mpf(alpha)) / as_mpf(mu) + mpmath.log(as_mpf(v * mu / (mu - v))) / (2 * as_mpf(mu))
        assert abs(phi - limit) < mpmath.mpf(10) ** -35


@settings(max_examples=40, deadline=None)
@given(
    instance=bracket_instances(max_steps=1e12),
    scale=st.sampled_from(["1e-6", "0.03", "7", "1e5"]) | st.floats(1e-3, 1e3),
)
def test_scaling_leaves_bracket_unchanged(instance, scale):
    # (mu, alpha, eta, u) -> (c mu, c^(1/N) alpha, c^(-(2N-2)/N) eta, c u) maps the trajectory exactly.
    u, mu, alpha, eta, depth = instance
    peak = mu * (depth - 1) / (2 * depth - 1)
    assume(abs(u / peak - 1) > Fraction(1, 10**6))
    assume(max_step_size(mu, depth) - eta > 1e-12 * eta)
    with mp.workdps(70):
        c = mpmath.mpf(scale)
        scaled = (
            c * as_mpf(u),
            c * as_mpf(mu),
            mpmath.root(c, depth) * as_mpf(alpha),
            c ** (-mpmath.mpf(2 * depth - 2) / depth) * mpmath.mpf(eta),
        )

    with mp.workdps(50):
        original = hitting_time_bracket(u, mu, alpha, eta, depth)
        transformed = hitting_time_bracket(*scaled, depth)
        phi_over_eta = original.potential / mpmath.mpf(eta)
        scaled_phi_over_eta = transformed.potential / scaled[3]

        assert close(scaled_phi_over_eta, phi_over_eta, 40)
        assert close(transformed.lower, original.lower, 40)
        assert close(transformed.upper, original.upper, 40)
        assert close(transformed.step_size_number, original.step_size_number, 40)


@settings(max_examples=40, deadline=None)
@given(bracket_instances())
def test_simulated_hitting_time_inside_bracket(instance):
    u, mu, alpha, eta, depth = instance
    with mp.workdps(30):
        bracket = hitting_time_bracket(u, mu, alpha, eta, depth)
        steps = simulate_hitting_time(u, mu, alpha, eta, depth)

    assert bracket.lower <= steps <= bracket.upper


def test_bracket_with_step_size_number_exactly_one():
    # S(mu) = 3 * (1/3) * 1 = 1, so q = 0 and the logarithmic term of Hlower is 0.
    u, mu, alpha, eta, depth = Fraction(99, 100), 1, Fraction(1, 10), Fraction(1, 3), 3
    with mp.workdps(40):
        bracket = hitting_time_bracket(u, mu, alpha, eta, depth)
        peak_potential = potential(Fraction(2, 5), mu, alpha, depth)

        assert bracket.step_size_number == 1
        assert close(bracket.lower, peak_potential * 3, 38)
        assert bracket.lower <= simulate_hitting_time(u, mu, alpha, eta, depth) <= bracket.upper


def test_contraction_term_near_unit_S():
    # N = 2, mu = 1, eta = (1 - d)/2 gives S = 1 - d, so q = d exactly.  Forming
    # 1 - S at 50 digits would keep only 10 digits of q = 1e-40.
    d = Fraction(1, 10**40)
    mu, alpha, eta, depth = 1, Fraction(1, 10), (1 - d) / 2, 2
    u = 1 - d**2
    with mp.workdps(50):
        peak = Fraction(1, 3)
        logarithmic = mpmath.log(as_mpf((mu - peak) / (mu - u))) / mpmath.log(1 / as_mpf(d)) - 1
        expected = potential(peak, mu, alpha, depth) / as_mpf(eta) + logarithmic

        assert logarithmic > 0
        assert close(hitting_time_lower(u, mu, alpha, eta, depth), expected, 45)


def test_bracket_when_start_is_past_peak():
    # alpha^N = 0.512 > v* = 0.4: the rising part is empty and the lower side counts from alpha^N.
    u, mu, alpha, eta, depth = Fraction(9, 10), 1, Fraction(4, 5), Fraction(1, 10), 3
    with mp.workdps(40):
        bracket = hitting_time_bracket(u, mu, alpha, eta, depth)
        q = 1 - as_mpf(eta) * depth
        expected_lower = max(0, mpmath.log(as_mpf((mu - alpha**3) / (mu - u))) / mpmath.log(1 / q) - 1)

        assert close(bracket.lower, expected_lower, 38)
        assert bracket.lower <= simulate_hitting_time(u, mu, alpha, eta, depth) <= bracket.upper


def test_bracket_branches_at_peak_level():
    # Hlower is continuous at u = v*, and Hupper jumps by 1 there because the saturating part adds a step.
    mu, alpha, eta, depth = 1, Fraction(1, 10), Fraction(1, 20), 3
    peak = Fraction(2, 5)
    above = peak * (1 + Fraction(1, 10**30))
    with mp.workdps(50):
        at_peak = hitting_time_bracket(peak, mu, alpha, eta, depth)
        past_peak = hitting_time_bracket(above, mu, alpha, eta, depth)

        assert close(past_peak.lower, at_peak.lower, 25)
        assert close(past_peak.upper - at_peak.upper, mpmath.mpf(1), 25)


def test_bracket_record_fields():
    with mp.workdps(35):
        bracket = hitting_time_bracket("0.5", 2, "0.3", "0.01", 5)

    assert isinstance(bracket, HittingTimeBracket)
    assert bracket.dps == 35
    assert bracket.threshold == mpmath.mpf("0.5")
    assert bracket.lower < bracket.upper
    with pytest.raises(AttributeError):
        bracket.lower = 0


def test_estimate_on_reference_cases():
    for case in scalar_cases():
        arguments = (case["eigenvalue"], case["alpha"], case["eta"], case["depth"])
        for threshold, steps, expected in zip(
            case["thresholds"], case["expected"]["hitting_times"], case["expected"]["bracket"]
        ):
            estimate = estimate_hitting_time(threshold, *arguments)
            if expected is None:
                assert estimate == 0.0
                continue
            assert float(expected["Hlower"]) - 1e-9 <= estimate <= float(expected["Hupper"])
            assert abs(estimate - steps) <= 0.05 * steps + 5, f"{case['id']} at u = {threshold}"


@settings(max_examples=40, deadline=None)
@given(bracket_instances(max_steps=1e12))
def test_estimate_lies_inside_bracket(instance):
    # The local contraction ratio r satisfies 1 - S(mu) <= r <= exp(-eta g(x)), so the
    # estimate is at least Hlower and at most Phi(u) / eta <= Hupper - 1.
    u, mu, alpha, eta, depth = instance
    estimate = estimate_hitting_time(u, mu, alpha, eta, depth)
    with mp.workdps(30):
        bracket = hitting_time_bracket(u, mu, alpha, eta, depth)

    assert math.isfinite(estimate)
    assert float(bracket.lower) * (1 - 1e-9) - 1e-9 <= estimate
    assert estimate <= float(bracket.upper - 1) * (1 + 1e-9)


def test_estimate_edge_values():
    assert estimate_hitting_time("0.001", 1, "0.1", "0.05", 3) == 0.0
    assert estimate_hitting_time("0.0001", 1, "0.1", "0.05", 3) == 0.0
    assert estimate_hitting_time(1, 1, "0.1", "0.05", 3) == math.inf
    assert estimate_hitting_time("0.5", "-1", "0.1", "0.05", 3) == math.inf
    assert estimate_hitting_time("0.5", 1, "1e-200", "0.05", 6) == sys.float_info.max


@pytest.mark.parametrize("S", ["1.5", "1.99", "3"])
def test_estimate_finite_beyond_monotone_regime(S):
    with mp.workdps(30):
        eta = max_step_size(1, 3, S=S)
    steps = simulate_hitting_time(Fraction(9, 10), 1, Fraction(1, 10), eta, 3)
    estimate = estimate_hitting_time("0.9", 1, "0.1", eta, 3)

    assert math.isfinite(estimate)
    assert abs(estimate - steps) <= 0.2 * steps + 3


def test_caller_precision_used_and_restored():
    with mp.workdps(20):
        low = potential("0.3", 1, "0.1", 3)
        assert mp.dps == 20
    with mp.workdps(60):
        high = potential("0.3", 1, "0.1", 3)
        assert high == +high
        assert mp.dps == 60

    assert abs(low - high) < mpmath.mpf(10) ** -19 * high


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: potential("0.0001", 1, "0.1", 3), "v = 0.0001"),
        (lambda: potential(1, 1, "0.1", 3), "v = 1"),
        (lambda: potential("1.5", 1, "0.1", 3), "v = 1.5"),
        (lambda: potential("0.5", "-1", "0.1", 3), "mu = -1"),
        (lambda: potential("0.5", 1, "0", 3), "alpha = 0"),
        (lambda: potential("0.5", 1, "1.2", 3), "alpha = 1.2"),
        (lambda: potential("0.5", 1, "0.1", 1), "depth = 1"),
        (lambda: potential("0.5", 1, "0.1", 3, method="simpson"), "method = 'simpson'"),
        (lambda: elementary_bracket("-1", "0.1", 3), "v = -1"),
        (lambda: hitting_time_bracket("0.001", 1, "0.1", "0.05", 3), "u = 0.001"),
        (lambda: hitting_time_bracket("1", 1, "0.1", "0.05", 3), "u = 1"),
        (lambda: hitting_time_lower("0.5", 1, "0.1", "0.34", 3), "eta = 0.34"),
        (lambda: hitting_time_upper("0.5", 1, "0.1", "-0.1", 3), "eta = -0.1"),
        (lambda: hitting_time_bracket("0.5", 0, "0.1", "0.05", 3), "mu = 0"),
        (lambda: estimate_hitting_time("0.5", 1, "0.1", 0, 3), "eta = 0"),
    ],
)
def test_invalid_arguments_name_the_value(call, fragment):
    with pytest.raises(InvalidArgument) as raised:
        call()

    assert fragment in str(raised.value)


def test_step_size_number_above_one_message():
    with pytest.raises(InvalidArgument, match=r"S\(mu\) = eta N mu\^\(2-2/N\) = 1 \+ 2.0e-31 exceeds 1"):
        hitting_time_bracket("0.5", 1, "0.1", "0.3333333333333333333333333333334", 3)


def test_rounded_edge_step_size_accepted():
    # mu = 1.34 and eta = 25/67 give S(mu) = 2 * 25/67 * 1.34 = 1 exactly, but neither is
    # a binary number: rounded to mpf, S comes out just above 1.  That must read as S = 1.
    u, alpha, depth = Fraction(1, 2), Fraction(171, 1000), 2
    with mp.workdps(50):
        exact = hitting_time_bracket(u, Fraction(134, 100), alpha, Fraction(25, 67), depth)
        rounded = hitting_time_bracket(u, mpmath.mpf(134) / 100, alpha, mpmath.mpf(25) / 67, depth)

        assert close(rounded.lower, exact.lower, 45)
        assert close(rounded.upper, exact.upper, 45)


def test_edge_allowance_only_for_mpf():
    u, alpha, depth = Fraction(1, 2), Fraction(171, 1000), 2
    with pytest.raises(InvalidArgument, match="exceeds 1"):
        hitting_time_lower(u, Fraction(134, 100), alpha, Fraction(25, 67) + Fraction(1, 10**60), depth)
    with mp.workdps(50), pytest.raises(InvalidArgument, match="exceeds 1"):
        hitting_time_lower(u, mpmath.mpf(134) / 100 * (1 + mpmath.mpf(10) ** -40), alpha, mpmath.mpf(25) / 67, depth)


def test_sympy_bracket_accepts_edge():
    import sympy

    from dmfverify import symbolic

    arguments = (sympy.Rational(1, 2), sympy.Rational(134, 100), sympy.Rational(171, 1000), sympy.Rational(25, 67), 2)
    with mp.workdps(40):
        expected = hitting_time_lower(*arguments[:4], 2)
        value = mpmath.mpf(symbolic.Hlower(*arguments).evalf(40))

        assert close(value, expected, 35)
