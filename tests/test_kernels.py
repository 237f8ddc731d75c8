"""Tests of the float64 and certified scalar kernels.

Reference values come from plain loops in Python floats and in mpmath, and from the
reference instances stored beside the repository (skipped when that folder is absent).
Regimes of random instances are decided here with exact rational arithmetic.
"""

from __future__ import annotations

import json
import math
import operator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from mpmath import mp

from dmfverify import _kernels_jit as jit
from dmfverify.errors import CertificationError, InvalidArgument
from dmfverify.kernels import (
    NOT_REACHED,
    Regime,
    Status,
    enclose_float,
    enclose_root,
    run_certified,
    run_float64,
)

CASES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "cases"


# ---------------------------------------------------------------------------
# Reference implementations


def python_products(mu: float, depth: int, alpha: float, eta: float, horizon: int) -> list[float]:
    """Return ``p_k`` for ``k = 0..horizon`` from the recurrence in Python floats."""
    x = alpha
    products = []
    for k in range(horizon + 1):
        xp = x
        for _ in range(depth - 2):
            xp *= x
        p = xp * x
        products.append(p)
        if k < horizon:
            x = x + eta * xp * (mu - p)
    return products


def mp_number(value: Fraction) -> mp.mpf:
    return mp.mpf(value.numerator) / value.denominator


def mpmath_products(mu: Fraction, depth: int, alpha: Fraction, eta: Fraction, horizon: int,
                    dps: int) -> list:
    """Return ``p_k`` for ``k = 0..horizon`` computed with mpmath at ``dps`` digits."""
    with mp.workdps(dps):
        x = mp_number(alpha)
        mu_mp = mp_number(mu)
        eta_mp = mp_number(eta)
        products = []
        for k in range(horizon + 1):
            xp = x ** (depth - 1)
            p = xp * x
            products.append(p)
            if k < horizon:
                x = x + eta_mp * xp * (mu_mp - p)
        return products


def exact_regime(mu: Fraction, depth: int, alpha: Fraction, eta: Fraction) -> Regime | None:
    """Return the monotone regime of the exact parameters, or None if none applies."""
    n = depth
    power = alpha**n
    if 0 < power <= mu and (eta * n) ** n * mu ** (2 * n - 2) <= 1:
        return Regime.RISING
    if power > mu > 0 and eta * (2 * n - 1) * alpha ** (2 * n - 2) <= 1:
        return Regime.FALLING
    if mu <= 0 and eta * alpha ** (n - 2) * ((n - 1) * -mu + (2 * n - 1) * power) <= 1:
        return Regime.DECAYING
    return None


def certify_one(mu: Fraction, depth: int, alpha: Fraction, eta: Fraction, horizon: int,
                thresholds=(), snap_steps=None, max_events: int = 256,
                level_width: float = 0.0):
    """Run the certified kernel on one row with outward enclosures of the exact inputs.

    ``level_width`` widens each level enclosure by that relative amount on both sides.
    """
    regime = exact_regime(mu, depth, alpha, eta)
    assert regime is not None
    mu_lo, mu_hi = enclose_float(mu)
    alpha_lo, alpha_hi = enclose_float(alpha)
    eta_lo, eta_hi = enclose_float(eta)
    fp_lo, fp_hi = (0.0, 0.0) if regime == Regime.DECAYING else enclose_root(mu, depth)
    levels = [enclose_float(u) for u in thresholds] or [(math.inf, math.inf)]
    levels = [(lo * (1 - level_width), hi * (1 + level_width)) for lo, hi in levels]
    if snap_steps is None:
        snap_steps = np.arange(horizon + 1)
    return run_certified(
        [mu_lo], [mu_hi], [depth], [alpha_lo], [alpha_hi], [eta_lo], [eta_hi], [fp_lo], [fp_hi],
        [regime], horizon, [[lo for lo, _ in levels]], [[hi for _, hi in levels]],
        np.asarray(snap_steps, dtype=np.int64), max_events)


def assert_encloses(record, products, steps) -> None:
    for s, k in enumerate(steps):
        assert record.snaps_lo[0, s] <= products[k], f"lower bound above the exact p_{k}"
        assert products[k] <= record.snaps_hi[0, s], f"upper bound below the exact p_{k}"


def index_from_events(steps, values, n_events, horizon) -> np.ndarray:
    """Expand an event list into the level index at every step."""
    index = np.empty(horizon + 1, dtype=np.int64)
    for e in range(n_events):
        stop = steps[e + 1] if e + 1 < n_events else horizon + 1
        index[steps[e]:stop] = values[e]
    return index


def load_scalar_cases() -> list[dict]:
    if not CASES_DIR.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(CASES_DIR.glob("scalar-*.json"))]


SCALAR_CASES = load_scalar_cases()
needs_cases = pytest.mark.skipif(not SCALAR_CASES, reason="reference cases folder is absent")


def case_parameters(case: dict) -> tuple[Fraction, int, Fraction, Fraction]:
    return (Fraction(case["eigenvalue"]), int(case["depth"]), Fraction(case["alpha"]),
            Fraction(case["eta"]))


def is_tie_at_start(case: dict, threshold: str) -> bool:
    """True when a threshold equals ``alpha^N`` exactly.

    The exact hitting time is then 0, but ``alpha`` and the threshold are not binary
    fractions, so float64 and binary mpmath compare two rounded numbers and may give 1.
    """
    mu, depth, alpha, eta = case_parameters(case)
    return Fraction(threshold) == alpha**depth


# ---------------------------------------------------------------------------
# Outward rounding helpers


OPERATIONS = [(operator.add, "+"), (operator.sub, "-"), (operator.mul, "*")]


def brackets(lower: float, exact: Fraction, upper: float) -> bool:
    """True when ``lower <= exact <= upper``; bounds may be infinite near overflow."""
    lower_ok = lower == -math.inf or Fraction(lower) <= exact
    upper_ok = upper == math.inf or exact <= Fraction(upper)
    return lower_ok and upper_ok
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(a=finite_floats, b=finite_floats)
@example(a=5e-324, b=5e-324)
@example(a=2.2250738585072014e-308, b=0.5)
@example(a=1.0, b=-1.0)
@example(a=1e-200, b=1e-200)
@example(a=3.0, b=1.0 / 3.0)
def test_rounding_helpers_bracket_exact_results(a, b):
    for op, _ in OPERATIONS:
        r = op(a, b)
        if not math.isfinite(r):
            continue
        exact = op(Fraction(a), Fraction(b))

        assert brackets(jit._down(r), exact, jit._up(r))
        if exact >= 0:
            assert brackets(jit._down_nonneg(r), exact, jit._up_nonneg(r))
        if exact <= 0:
            assert brackets(jit._down_nonpos(r), exact, jit._up_nonpos(r))

        # The bounds stay within two floats of r.
        two_up = math.nextafter(math.nextafter(r, math.inf), math.inf)
        two_down = math.nextafter(math.nextafter(r, -math.inf), -math.inf)
        assert two_down <= jit._down(r)
        assert jit._up(r) <= two_up


def exact_update(x: Fraction, depth: int, mu: Fraction, eta: Fraction) -> Fraction:
    return x + eta * x ** (depth - 1) * (mu - x**depth)


def box(center: float, relative_width: float) -> tuple[float, float]:
    return center * (1 - relative_width), center * (1 + relative_width)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(0, 3), n=st.integers(0, 11))
@example(x=5e-324, n=3)
@example(x=1e-100, n=4)
def test_power_bounds_bracket_exact_power(x, n):
    low, high = jit._power_bounds(x, n)

    assert Fraction(low) <= Fraction(x) ** n <= Fraction(high)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(0, 2), depth=st.integers(2, 6), mu=st.floats(-3, 3), eta=st.floats(1e-4, 1),
       mu_width=st.sampled_from([0.0, 1e-12, 1e-3, 0.2]),
       eta_width=st.sampled_from([0.0, 1e-12, 1e-3, 0.2]))
def test_step_bounds_bracket_every_parameter_corner(x, depth, mu, eta, mu_width, eta_width):
    mu_lo, mu_hi = sorted(box(mu, mu_width))
    eta_lo, eta_hi = box(eta, eta_width)
    xp_low, xp_high = jit._power_bounds(x, depth - 1)
    p_low = jit._down_nonneg(xp_low * x)
    p_high = jit._up_nonneg(xp_high * x)

    lower = jit._lower_update(x, xp_low, xp_high, p_high, mu_lo, eta_lo, eta_hi)
    upper = jit._upper_update(x, xp_low, xp_high, p_low, mu_hi, eta_lo, eta_hi)

    corners = [exact_update(Fraction(x), depth, Fraction(m), Fraction(e))
               for m in (mu_lo, mu_hi) for e in (eta_lo, eta_hi)]
    assert Fraction(lower) <= min(corners)
    assert max(corners) <= Fraction(upper)


@settings(max_examples=200, deadline=None)
@given(hi=st.floats(1e-3, 2), depth=st.integers(2, 6), mu_lo=st.floats(-3, 3),
       eta_hi=st.floats(1e-4, 1), fraction=st.floats(0, 1))
def test_slope_deficit_bounds_minus_derivative(hi, depth, mu_lo, eta_hi, fraction):
    p_high = jit._power_bounds(hi, depth)[1]
    deficit = jit._slope_deficit(hi, p_high, depth, mu_lo, eta_hi)

    # -f'(t) = eta t^(N-2) ((2N-1) t^N - (N-1) mu) - 1 at t in [0, hi].
    t = Fraction(hi) * Fraction(fraction)
    minus_slope = (Fraction(eta_hi) * t ** (depth - 2)
                   * ((2 * depth - 1) * t**depth - (depth - 1) * Fraction(mu_lo)) - 1)
    assert deficit >= 0.0
    assert Fraction(deficit) >= minus_slope


# ---------------------------------------------------------------------------
# Enclosures of exact values


@pytest.mark.parametrize("text", ["0.1", "0.3", "1e-7", "123456.789", "1/3", "-0.05", "2e-320"])
def test_enclose_float_is_tight(text):
    lo, hi = enclose_float(text)
    exact = Fraction(text)

    assert Fraction(lo) < exact < Fraction(hi)
    assert math.nextafter(lo, math.inf) == hi


@pytest.mark.parametrize("value", ["0.5", "3", Fraction(3, 4), 0.1, -2.0, 0])
def test_enclose_float_exact_values(value):
    lo, hi = enclose_float(value)

    assert lo == hi
    assert Fraction(lo) == Fraction(value)


@pytest.mark.parametrize("value", ["abc", "nan", float("inf"), "1e400", True, None])
def test_enclose_float_rejects_bad_values(value):
    with pytest.raises(InvalidArgument, match="value="):
        enclose_float(value)


@pytest.mark.parametrize("value, depth", [("2", 2), ("0.5", 3), ("18.68", 6), ("1e-30", 5),
                                          ("0.25", 2), ("8", 3)])
def test_enclose_root_is_tight(value, depth):
    lo, hi = enclose_root(value, depth)
    exact = Fraction(value)

    assert Fraction(lo) ** depth <= exact <= Fraction(hi) ** depth
    assert hi == lo or math.nextafter(lo, math.inf) == hi


def test_enclose_root_rejects_negative_value():
    with pytest.raises(InvalidArgument, match="negative"):
        enclose_root("-1", 3)


# ---------------------------------------------------------------------------
# float64 kernel

FLOAT64_ROWS = [
    # mu, depth, alpha, eta
    (1.0, 2, 0.1, 0.1),
    (1.0, 3, 0.1, 0.05),
    (0.5, 4, 0.05, 0.2),
    (2.0, 5, 0.3, 0.01),
    (1.0, 3, 1.3, 0.05),  # falling
    (-0.7, 3, 0.8, 0.1),  # decaying
    (1.0, 2, 0.5, 0.8),  # S = 1.6: oscillates around the fixed point
]


def test_float64_matches_python_loop_bits():
    horizon = 300
    record = run_float64(*map(list, zip(*[(mu, n, a, e) for mu, n, a, e in FLOAT64_ROWS])),
                         horizon=horizon, levels=np.full((len(FLOAT64_ROWS), 1), np.inf),
                         snap_steps=np.arange(horizon + 1))

    for i, (mu, depth, alpha, eta) in enumerate(FLOAT64_ROWS):
        expected = python_products(mu, depth, alpha, eta, horizon)
        assert record.status[i] in (Status.COMPLETED, Status.STATIONARY)
        assert np.array_equal(record.snaps[i], np.array(expected)), f"row {i} differs"


def test_float64_events_give_level_index_at_every_step():
    horizon = 400
    levels = np.array([[0.2, 0.5, 0.9, 0.999, 1.0005, 1.01, np.inf]] * len(FLOAT64_ROWS))
    columns = list(map(list, zip(*FLOAT64_ROWS)))
    record = run_float64(*columns, horizon=horizon, levels=levels,
                         snap_steps=np.arange(horizon + 1))

    for i in range(len(FLOAT64_ROWS)):
        expected = np.searchsorted(levels[i], record.snaps[i], side="right")
        got = index_from_events(record.event_step[i], record.event_j[i], record.n_events[i],
                                horizon)
        assert np.array_equal(got, expected), f"row {i}"
        changes = np.count_nonzero(np.diff(expected)) + 1
        assert record.n_events[i] == changes


def test_float64_oscillating_row_crosses_levels_both_ways():
    record = run_float64([1.0], [2], [0.5], [0.8], 200, [[1.0]], [0])
    events = record.event_j[0, : record.n_events[0]]

    assert record.n_events[0] > 4
    assert np.all(np.abs(np.diff(events)) == 1)


@needs_cases
@pytest.mark.parametrize("case", SCALAR_CASES, ids=[case["id"] for case in SCALAR_CASES])
def test_float64_hitting_times_match_reference(case):
    mu, depth, alpha, eta = case_parameters(case)
    thresholds = case["thresholds"]
    expected = case["expected"]["hitting_times"]
    horizon = max(expected) + 5
    record = run_float64([float(mu)], [depth], [float(alpha)], [float(eta)], horizon,
                         [[float(Fraction(u)) for u in thresholds]], [horizon])
    products = mpmath_products(mu, depth, alpha, eta, horizon, dps=50)

    for j, threshold in enumerate(thresholds):
        kernel_step = int(record.first_step_reaching(j)[0])
        with mp.workdps(50):
            level = mp_number(Fraction(threshold))
            mpmath_step = next(k for k, p in enumerate(products) if p >= level)
        if is_tie_at_start(case, threshold):
            assert kernel_step in (0, 1)
            assert mpmath_step in (0, 1)
            continue
        assert kernel_step == expected[j], f"threshold {threshold}"
        assert mpmath_step == expected[j], f"threshold {threshold}"


def test_float64_divergence_is_reported():
    # S = eta N mu^(2-2/N) = 6 for mu = 1, N = 2: the first step overshoots far past the
    # fixed point and |x| then grows like |x|^3.
    eta = 3.0
    horizon = 200
    record = run_float64([1.0], [2], [0.5], [eta], horizon, [[np.inf]], np.arange(horizon + 1))
    last = int(record.last_step[0])

    assert record.status[0] == Status.DIVERGED
    assert 0 < last < horizon
    assert np.all(np.isfinite(record.snaps[0, :last]))
    assert np.all(np.isnan(record.snaps[0, last:]))
    x = 0.5
    for k in range(1, last + 1):
        x = x + eta * x * (1.0 - x * x)
        assert (abs(x) <= 1e150) == (k < last)


def test_float64_event_overflow_keeps_first_events():
    levels = [np.linspace(0.02, 0.98, 40)]
    full = run_float64([1.0], [2], [0.1], [0.1], 100, levels, [50, 100])
    cut = run_float64([1.0], [2], [0.1], [0.1], 100, levels, [50, 100], max_events=5)

    assert full.status[0] == Status.COMPLETED
    assert cut.status[0] == Status.EVENT_OVERFLOW
    assert cut.n_events[0] == 5
    assert np.array_equal(cut.event_step[0], full.event_step[0, :5])
    assert np.array_equal(cut.snaps, full.snaps)
    assert cut.first_step_reaching(2)[0] == full.first_step_reaching(2)[0]
    assert cut.first_step_reaching(30)[0] == -2


def test_float64_fixed_point_start_is_stationary():
    record = run_float64([1.0], [3], [1.0], [0.1], 1000, [[0.5, 1.0, 2.0]], [0, 1, 999, 1000])

    assert record.status[0] == Status.STATIONARY
    assert record.last_step[0] == 1
    assert np.array_equal(record.snaps[0], [1.0, 1.0, 1.0, 1.0])
    assert record.first_step_reaching(1)[0] == 0
    assert record.first_step_reaching(2)[0] == NOT_REACHED


# ---------------------------------------------------------------------------
# Certified kernel on the reference cases


@needs_cases
@pytest.mark.parametrize("case", SCALAR_CASES, ids=[case["id"] for case in SCALAR_CASES])
def test_certified_encloses_reference_trajectory(case):
    mu, depth, alpha, eta = case_parameters(case)
    horizon = max(case["expected"]["hitting_times"]) + 50
    steps = np.arange(horizon + 1)
    record = certify_one(mu, depth, alpha, eta, horizon, case["thresholds"], steps)
    products = mpmath_products(mu, depth, alpha, eta, horizon, dps=60)

    assert record.status[0] in (Status.COMPLETED, Status.STATIONARY)
    with mp.workdps(60):
        assert_encloses(record, products, steps)
        for k, text in case["expected"]["product_at_step"].items():
            if int(k) <= horizon:
                reference = mp.mpf(text)
                assert record.snaps_lo[0, int(k)] <= reference <= record.snaps_hi[0, int(k)]


@needs_cases
@pytest.mark.parametrize("case", SCALAR_CASES, ids=[case["id"] for case in SCALAR_CASES])
def test_certified_hitting_ranges_match_reference(case):
    mu, depth, alpha, eta = case_parameters(case)
    expected = case["expected"]["hitting_times"]
    horizon = max(expected) + 5
    record = certify_one(mu, depth, alpha, eta, horizon, case["thresholds"], [horizon])

    for j, threshold in enumerate(case["thresholds"]):
        earliest, latest = (int(bound[0]) for bound in record.hitting_step_bounds(j))
        assert earliest <= expected[j] <= latest, f"threshold {threshold}"
        if is_tie_at_start(case, threshold):
            # The exact time is 0, and the enclosure of alpha^N straddles the level.
            assert (earliest, latest) == (0, 1)
        else:
            assert earliest == latest, f"threshold {threshold} is not decided"


def test_certified_events_give_both_indices_at_every_step():
    mu, depth, alpha, eta = Fraction(1), 3, Fraction("0.1"), Fraction("0.05")
    horizon = 300
    # Dense levels with overlapping wide enclosures: one step can pass several levels,
    # and the two indices differ over many steps.
    thresholds = [Fraction(f"{0.0012 * 1.05**i:.6g}") for i in range(135)]
    width = 0.04
    record = certify_one(mu, depth, alpha, eta, horizon, thresholds, level_width=width)
    levels_lo = np.array([enclose_float(u)[0] * (1 - width) for u in thresholds])
    levels_hi = np.array([enclose_float(u)[1] * (1 + width) for u in thresholds])

    expected_lo = np.searchsorted(levels_hi, record.snaps_lo[0], side="right")
    expected_hi = np.searchsorted(levels_lo, record.snaps_hi[0], side="right")
    n = record.n_events[0]
    assert record.status[0] == Status.COMPLETED
    assert np.count_nonzero(expected_lo != expected_hi) > 100
    assert np.array_equal(index_from_events(record.event_step[0], record.event_j_lo[0], n,
                                            horizon), expected_lo)
    assert np.array_equal(index_from_events(record.event_step[0], record.event_j_hi[0], n,
                                            horizon), expected_hi)


# ---------------------------------------------------------------------------
# Certified kernel on random monotone instances


def decimal_fraction(value: float) -> Fraction:
    """Round a float to 4 significant decimal digits, as an exact Fraction."""
    return Fraction(Decimal(f"{value:.4g}"))


@st.composite
def rising_instances(draw):
    """Instances of regime 1.

    ``mu`` in [0.05, 20], ``alpha`` a fraction 10^-2..1 of ``mu^(1/N)``, ``eta`` a fraction
    10^-2..1 of the largest step with ``S <= 1``; all rounded to 4 decimal digits.  Shrinks
    toward depth 2, the smallest ``mu`` and the smallest fractions.
    """
    depth = draw(st.integers(2, 6))
    mu = decimal_fraction(draw(st.floats(0.05, 20)))
    fixed_point = float(mu) ** (1 / depth)
    alpha = decimal_fraction(fixed_point * 10 ** -draw(st.floats(0, 2)))
    eta_max = 1 / (depth * float(mu) ** (2 - 2 / depth))
    eta = decimal_fraction(eta_max * 10 ** -draw(st.floats(0, 2)))
    assume(exact_regime(mu, depth, alpha, eta) == Regime.RISING)
    return mu, depth, alpha, eta


@st.composite
def falling_instances(draw):
    """Instances of regime 2: ``alpha`` 1..3 times ``mu^(1/N)``, ``eta`` up to its limit."""
    depth = draw(st.integers(2, 6))
    mu = decimal_fraction(draw(st.floats(0.05, 20)))
    alpha = decimal_fraction(float(mu) ** (1 / depth) * draw(st.floats(1.001, 3)))
    eta_max = 1 / ((2 * depth - 1) * float(alpha) ** (2 * depth - 2))
    eta = decimal_fraction(eta_max * 10 ** -draw(st.floats(0, 2)))
    assume(exact_regime(mu, depth, alpha, eta) == Regime.FALLING)
    return mu, depth, alpha, eta


@st.composite
def decaying_instances(draw):
    """Instances of regime 3: ``mu`` in [-5, 0] (0 included), ``alpha`` in [0.05, 2]."""
    depth = draw(st.integers(2, 6))
    mu = -decimal_fraction(draw(st.one_of(st.just(0.0), st.floats(1e-3, 5))))
    alpha = decimal_fraction(draw(st.floats(0.05, 2)))
    a = float(alpha)
    eta_max = 1 / (a ** (depth - 2) * ((depth - 1) * -float(mu) + (2 * depth - 1) * a**depth))
    eta = decimal_fraction(eta_max * 10 ** -draw(st.floats(0, 2)))
    assume(exact_regime(mu, depth, alpha, eta) == Regime.DECAYING)
    return mu, depth, alpha, eta


HORIZON = 2000
RANDOM_SETTINGS = settings(max_examples=30, deadline=None,
                           suppress_health_check=[HealthCheck.filter_too_much])


def check_random_instance(instance, final_width_limit: float) -> None:
    mu, depth, alpha, eta = instance
    steps = np.arange(HORIZON + 1)
    record = certify_one(mu, depth, alpha, eta, HORIZON, snap_steps=steps)
    products = mpmath_products(mu, depth, alpha, eta, HORIZON, dps=50)

    assert record.status[0] in (Status.COMPLETED, Status.STATIONARY)
    assert np.all(record.snaps_lo[0] <= record.snaps_hi[0])
    with mp.workdps(50):
        assert_encloses(record, products, steps)

    # The width stays near the conditioning of the problem.  Naive interval evaluation
    # of the update would grow it geometrically instead.
    width = record.snaps_hi[0] - record.snaps_lo[0]
    scale = np.maximum(np.abs(record.snaps_hi[0]), 1e-300)
    assert np.max(width / scale) < 1e-6
    final = width[-1] / scale[-1]
    assert final < final_width_limit or width[-1] < 1e-250


@RANDOM_SETTINGS
@given(rising_instances())
@example((Fraction(1), 3, Fraction("0.1"), Fraction("0.3333333333333333")))
def test_certified_rising_encloses_mpmath(instance):
    check_random_instance(instance, final_width_limit=1e-9)


@RANDOM_SETTINGS
@given(falling_instances())
def test_certified_falling_encloses_mpmath(instance):
    check_random_instance(instance, final_width_limit=1e-9)


@RANDOM_SETTINGS
@given(decaying_instances())
@example((Fraction(0), 3, Fraction("0.5"), Fraction("0.1")))
def test_certified_decaying_encloses_mpmath(instance):
    check_random_instance(instance, final_width_limit=1e-9)


WIDE_BOX_ROWS = [
    # regime, mu, depth, alpha, eta: box centers, and every corner must satisfy the regime
    (Regime.RISING, 1.0, 3, 0.1, 0.3),
    (Regime.RISING, 2.0, 2, 0.05, 0.2),
    (Regime.RISING, 0.5, 5, 0.5, 0.5),
    (Regime.FALLING, 1.0, 3, 1.2, 0.05),
    (Regime.FALLING, 0.5, 2, 1.0, 0.2),
    (Regime.DECAYING, -0.5, 3, 0.8, 0.2),
    (Regime.DECAYING, -0.01, 2, 0.9, 0.3),
]


@pytest.mark.parametrize("regime, mu, depth, alpha, eta", WIDE_BOX_ROWS)
def test_certified_encloses_every_corner_of_wide_boxes(regime, mu, depth, alpha, eta):
    width = 1e-3
    mu_lo, mu_hi = sorted(box(mu, width))
    alpha_lo, alpha_hi = box(alpha, width)
    eta_lo, eta_hi = box(eta, width)
    if regime == Regime.DECAYING:
        fp_lo, fp_hi = 0.0, 0.0
    else:
        fp_lo, fp_hi = enclose_root(mu_lo, depth)[0], enclose_root(mu_hi, depth)[1]
    corners = [(Fraction(m), depth, Fraction(a), Fraction(e))
               for m in (mu_lo, mu_hi) for a in (alpha_lo, alpha_hi) for e in (eta_lo, eta_hi)]
    for corner in corners:
        assert exact_regime(*corner) == regime
    horizon = 600
    steps = np.arange(horizon + 1)

    record = run_certified([mu_lo], [mu_hi], [depth], [alpha_lo], [alpha_hi], [eta_lo],
                           [eta_hi], [fp_lo], [fp_hi], [regime], horizon, [[np.inf]],
                           [[np.inf]], steps)

    assert record.status[0] in (Status.COMPLETED, Status.STATIONARY)
    for corner in corners:
        with mp.workdps(40):
            assert_encloses(record, mpmath_products(*corner, horizon, dps=40), steps)


@pytest.mark.parametrize("regime, mu, depth, alpha_width", [
    (Regime.DECAYING, Fraction(0), 2, 1e-3),
    (Regime.DECAYING, Fraction(0), 3, 1e-3),
    (Regime.DECAYING, Fraction(0), 4, 1e-2),
    (Regime.FALLING, Fraction("0.01"), 2, 0.05),
])
def test_certified_slope_bound_above_increasing_region(regime, mu, depth, alpha_width):
    # alpha = 1 and eta = 1/(2N-1) meet the regime's step-size condition with equality,
    # so f is increasing only up to about alpha.  The upper end of the alpha box lies
    # where f decreases: there f(alpha_hi) < f(alpha), and only the mean-value
    # correction keeps the upper bound above the exact trajectory.
    alpha = Fraction(1)
    eta = Fraction(1, 2 * depth - 1)
    assert exact_regime(mu, depth, alpha, eta) == regime
    alpha_lo, alpha_hi = box(1.0, alpha_width)
    mu_lo, mu_hi = enclose_float(mu)
    eta_lo, eta_hi = enclose_float(eta)
    fp_lo, fp_hi = (0.0, 0.0) if regime == Regime.DECAYING else enclose_root(mu, depth)
    horizon = 200
    steps = np.arange(horizon + 1)

    record = run_certified([mu_lo], [mu_hi], [depth], [alpha_lo], [alpha_hi], [eta_lo],
                           [eta_hi], [fp_lo], [fp_hi], [regime], horizon, [[np.inf]],
                           [[np.inf]], steps)

    with mp.workdps(50):
        assert_encloses(record, mpmath_products(mu, depth, alpha, eta, horizon, dps=50), steps)


def test_certified_fixed_point_start_is_stationary():
    record = certify_one(Fraction(1), 3, Fraction(1), Fraction("0.1"), 500)

    assert record.status[0] == Status.STATIONARY
    assert record.last_step[0] == 1
    assert np.all(record.snaps_lo[0] <= 1.0) and np.all(record.snaps_hi[0] >= 1.0)


# ---------------------------------------------------------------------------
# Batching and threads


def mixed_rows() -> list[tuple[Fraction, int, Fraction, Fraction]]:
    rows = []
    for i in range(19):
        depth = 2 + i % 4
        mu = Fraction(1 + i, 7) if i % 5 else Fraction(-i, 10)
        alpha = Fraction(1, 10 + i) if i % 3 else Fraction(3, 2)
        regime_eta = [Fraction(1, 10 * 4**j) for j in range(12)]
        eta = next(e for e in regime_eta if exact_regime(mu, depth, alpha, e) is not None)
        rows.append((mu, depth, alpha, eta))
    return rows


def test_batched_rows_equal_single_rows():
    rows = mixed_rows()
    horizon = 700
    levels = [0.05, 0.5, 1.0, np.inf]
    steps = np.array([0, 10, 350, 700])
    batch_f64 = run_float64([float(r[0]) for r in rows], [r[1] for r in rows],
                            [float(r[2]) for r in rows], [float(r[3]) for r in rows], horizon,
                            [levels] * len(rows), steps, parallel=False)
    threaded_f64 = run_float64([float(r[0]) for r in rows], [r[1] for r in rows],
                               [float(r[2]) for r in rows], [float(r[3]) for r in rows], horizon,
                               [levels] * len(rows), steps, parallel=True)

    for i, (mu, depth, alpha, eta) in enumerate(rows):
        single = run_float64([float(mu)], [depth], [float(alpha)], [float(eta)], horizon,
                             [levels], steps)
        for batch in (batch_f64, threaded_f64):
            assert np.array_equal(batch.snaps[i], single.snaps[0], equal_nan=True)
            assert np.array_equal(batch.event_step[i], single.event_step[0])
            assert np.array_equal(batch.event_j[i], single.event_j[0])
            assert batch.status[i] == single.status[0]
            assert batch.last_step[i] == single.last_step[0]


def test_certified_batched_rows_equal_single_rows():
    rows = mixed_rows()
    horizon = 700
    steps = np.array([0, 10, 350, 700])
    singles = [certify_one(*row, horizon, ["0.05", "0.5"], steps) for row in rows]
    arguments = [[] for _ in range(14)]
    for single_row in rows:
        mu, depth, alpha, eta = single_row
        regime = exact_regime(*single_row)
        fp = (0.0, 0.0) if regime == Regime.DECAYING else enclose_root(mu, depth)
        values = [*enclose_float(mu), depth, *enclose_float(alpha), *enclose_float(eta), *fp,
                  regime, [enclose_float("0.05")[0], enclose_float("0.5")[0]],
                  [enclose_float("0.05")[1], enclose_float("0.5")[1]]]
        for column, value in zip(arguments, values):
            column.append(value)
    (mu_lo, mu_hi, depth, a_lo, a_hi, e_lo, e_hi, fp_lo, fp_hi, regime, levels_lo,
     levels_hi) = arguments[:12]

    for parallel in (False, True):
        batch = run_certified(mu_lo, mu_hi, depth, a_lo, a_hi, e_lo, e_hi, fp_lo, fp_hi,
                              np.array(regime, dtype=np.int32), horizon, levels_lo, levels_hi,
                              steps, parallel=parallel)
        for i, single in enumerate(singles):
            assert np.array_equal(batch.snaps_lo[i], single.snaps_lo[0])
            assert np.array_equal(batch.snaps_hi[i], single.snaps_hi[0])
            assert np.array_equal(batch.event_step[i], single.event_step[0])
            assert np.array_equal(batch.event_j_lo[i], single.event_j_lo[0])
            assert np.array_equal(batch.event_j_hi[i], single.event_j_hi[0])
            assert batch.status[i] == single.status[0]


# ---------------------------------------------------------------------------
# Argument validation


def float64_arguments(**changes):
    arguments = dict(mu=[1.0, 2.0], depth=[3, 3], alpha=[0.1, 0.1], eta=[0.05, 0.05],
                     horizon=10, levels=[[0.5], [0.5]], snap_steps=[0, 10])
    arguments.update(changes)
    return arguments


@pytest.mark.parametrize("changes, fragment", [
    (dict(alpha=[0.1]), "alpha has shape"),
    (dict(alpha=[0.1, -0.1]), "alpha must be positive"),
    (dict(eta=[0.05, 0.0]), "eta must be positive"),
    (dict(mu=[1.0, np.nan]), "mu contains NaN"),
    (dict(mu=["1", "2"]), "mu has dtype"),
    (dict(depth=[3, 1]), "depth=1"),
    (dict(depth=[3.0, 3.0]), "depth has dtype"),
    (dict(horizon=-1), "horizon=-1"),
    (dict(horizon=10.0), "horizon=10.0"),
    (dict(levels=[0.5, 0.5]), "levels has shape"),
    (dict(levels=[[0.5, 0.2], [0.1, 0.2]]), "not ascending"),
    (dict(levels=[[np.nan], [0.5]]), "levels contains NaN"),
    (dict(snap_steps=[0, 11]), "snap_steps must be ascending"),
    (dict(snap_steps=[5, 2]), "snap_steps must be ascending"),
    (dict(max_events=0), "max_events=0"),
])
def test_run_float64_rejects_invalid_arguments(changes, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        run_float64(**float64_arguments(**changes))


def certified_arguments(**changes):
    fp_lo, fp_hi = enclose_root("2", 3)
    arguments = dict(mu_lo=[2.0], mu_hi=[2.0], depth=[3], alpha_lo=[0.1], alpha_hi=[0.1],
                     eta_lo=[0.01], eta_hi=[0.01], fp_lo=[fp_lo], fp_hi=[fp_hi],
                     regime=[1], horizon=10, levels_lo=[[0.5]], levels_hi=[[0.5]],
                     snap_steps=[10])
    arguments.update(changes)
    return arguments


@pytest.mark.parametrize("changes, fragment", [
    (dict(mu_hi=[1.0]), "mu_lo exceeds mu_hi"),
    (dict(alpha_lo=[0.2]), "alpha_lo exceeds alpha_hi"),
    (dict(levels_lo=[[0.6]]), "levels_lo exceeds levels_hi"),
    (dict(levels_lo=[[0.5, 0.6]]), "levels_lo has shape"),
    (dict(regime=[4]), "regime=4"),
    (dict(regime=[1], alpha_lo=[2.0], alpha_hi=[2.0]), "regime 1 needs alpha"),
    (dict(regime=[2]), "regime 2 needs alpha"),
    (dict(regime=[3]), "regime 3 needs mu <= 0"),
    (dict(fp_lo=[-1.0]), "fp_lo must be nonnegative"),
    (dict(depth=[40], alpha_lo=[1e10], alpha_hi=[1e10], regime=[2], fp_lo=[0.5], fp_hi=[0.5]),
     "outside the float64 range"),
    (dict(mu_hi=[np.inf]), "mu_hi contains NaN or infinity"),
])
def test_run_certified_rejects_invalid_arguments(changes, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        run_certified(**certified_arguments(**changes))


def test_run_certified_rejects_inexact_integer_bounds():
    with pytest.raises(InvalidArgument, match="float64 cannot represent exactly"):
        run_certified(**certified_arguments(mu_lo=np.array([2**60 + 1], dtype=np.int64),
                                            mu_hi=[2.0**61]))


def test_run_certified_rejects_inexact_longdouble_levels():
    third = np.longdouble(1) / 3
    if np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("np.longdouble is float64 on this platform")
    with pytest.raises(InvalidArgument, match="levels_lo holds values"):
        run_certified(**certified_arguments(levels_lo=np.array([[third]]),
                                            levels_hi=[[0.5]]))


def test_run_certified_raises_when_bounds_cross():
    # Regime 3 is claimed, but eta = 5 makes f(1) = 1 - 5 negative: the lower bound is
    # clamped at 0 while the upper bound follows f below it.
    with pytest.raises(CertificationError, match="rows \\[0\\]"):
        run_certified([0.0], [0.0], [2], [1.0], [1.0], [5.0], [5.0], [0.0], [0.0], [3], 10,
                      [[np.inf]], [[np.inf]], [10])
