"""Scalar engine: metamorphic properties (scaling map, matrix engine agreement) and certified enclosures."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmfverify.errors import CertificationError, DivergenceError, InvalidArgument
from dmfverify.instance import Instance
from dmfverify.scalar_engine import simulate_scalar


@st.composite
def rising_instances(draw):
    """Draw a one-eigenvalue instance in the rising regime with exact decimal parameters."""
    depth = draw(st.integers(2, 5))
    mu = Fraction(draw(st.integers(20, 200)), 100)
    alpha = Fraction(draw(st.integers(5, 40)), 100)
    if alpha**depth >= mu / 4:
        alpha = Fraction(1, 10)
    eta_max = 1 / (depth * float(mu) ** (2 - 2 / depth))
    eta = Fraction(draw(st.integers(5, 95)), 100) * Fraction(eta_max).limit_denominator(1000)
    fractions = sorted(set(draw(st.lists(st.sampled_from(["0.3", "0.5", "0.9", "0.99"]), min_size=1, max_size=3))))
    thresholds = [Fraction(text) * mu for text in fractions if Fraction(text) * mu > alpha**depth]
    if not thresholds:
        thresholds = [Fraction(99, 100) * mu]
    return Instance.create(spectrum=[mu], depth=depth, alpha=alpha, eta=eta, thresholds=thresholds, kind="scalar_hitting_times")


def _scaled(instance: Instance, t: Fraction) -> Instance:
    c = t**instance.depth
    return instance.with_changes(
        spectrum=[c * value for value in instance.spectrum],
        alpha=instance.alpha * t,
        eta=instance.eta / t ** (2 * instance.depth - 2),
        thresholds=[c * value for value in instance.thresholds],
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rising_instances(), st.sampled_from([Fraction(1, 2), Fraction(3, 2), Fraction(7, 5), Fraction(2)]))
def test_scaling_map_keeps_hitting_times(instance, t):
    scaled = _scaled(instance, t)
    horizon = 3000

    original = simulate_scalar(instance, horizon, arithmetic="certified")
    image = simulate_scalar(scaled, horizon, arithmetic="certified")

    for level, scaled_level in zip(instance.thresholds, scaled.thresholds):
        assert original.hitting_time(0, level) == image.hitting_time(0, scaled_level)


@settings(max_examples=30, deadline=None)
@given(rising_instances())
def test_certified_contains_mpmath_and_agrees(instance):
    horizon = 400
    steps = list(range(0, horizon + 1, 7))

    certified = simulate_scalar(instance, horizon, arithmetic="certified", snapshot_steps=steps)
    reference = simulate_scalar(instance, horizon, arithmetic="mpmath", dps=60, snapshot_steps=steps)

    for step in steps:
        low, high = certified.value(0, step)
        value = reference.value(0, step)[0]
        assert low <= value * (1 + Fraction(1, 10**40)) + Fraction(1, 10**60)
        assert value * (1 - Fraction(1, 10**40)) - Fraction(1, 10**60) <= high
    for level in instance.thresholds:
        earliest, latest = certified.hitting_time(0, level)
        exact = reference.hitting_time(0, level)[0]
        assert earliest is None or earliest <= exact
        if latest is not None:
            assert exact <= latest


def test_matrix_engine_agrees_on_diagonal_phase_instance():
    from dmfverify.matrix_engine import run_matrix_gd

    instance = Instance.create(spectrum=["1", "0.5", "0.1", "0.05"], depth=3, alpha="0.05", eta="0.1")
    horizon = 200
    steps = list(range(horizon + 1))
    scalar = simulate_scalar(instance, horizon, arithmetic="mpmath", dps=50, snapshot_steps=steps)
    matrix = run_matrix_gd([[str(x) for x in row] for row in instance.target_matrix()], 3, "0.1", instance.initialisation, "0.05",
                           horizon, arithmetic="mpmath", dps=50, schedule="every")

    with mpmath.workdps(50):
        for row, step in enumerate(matrix.steps):
            for i in range(4):
                expected = scalar.value(i, int(step))[0]
                value = matrix.eigenvalues[row][i]
                assert abs(value - mpmath.mpf(expected.numerator) / expected.denominator) <= mpmath.mpf(10) ** -30


def test_rotated_target_keeps_observables():
    """Rotating M and E by an orthogonal Q changes no eigenvalue trajectory beyond rounding."""
    from dmfverify.matrix_engine import run_matrix_gd

    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    target = np.diag([1.0, 0.5, 0.1, 0.05])
    rotated = q @ target @ q.T

    plain = run_matrix_gd(target, 3, 0.1, {"kind": "aligned"}, 0.05, 600, schedule="every")
    turned = run_matrix_gd((rotated + rotated.T) / 2, 3, 0.1, {"kind": "aligned"}, 0.05, 600, schedule="every")

    assert np.allclose(plain.eigenvalues, turned.eigenvalues, rtol=1e-10, atol=1e-14)


def test_oscillating_regime_is_not_certified():
    instance = Instance.create(spectrum=["1"], depth=3, alpha="0.1", eta="0.5", thresholds=["0.5"])
    with pytest.raises(CertificationError, match="S\\(mu\\) = eta N mu\\^\\(2-2/N\\) exceeds 1"):
        simulate_scalar(instance, 100, arithmetic="certified")


def test_divergence_is_reported():
    instance = Instance.create(spectrum=["1"], depth=3, alpha="0.5", eta="5", thresholds=["0.5"])
    with pytest.raises(DivergenceError, match="diverged at step"):
        simulate_scalar(instance, 1000, arithmetic="mpmath", dps=30)


def test_non_aligned_initialisation_rejected():
    instance = Instance.create(spectrum=["1", "0.5"], depth=3, alpha="0.1", eta="0.1", initialisation={"kind": "gaussian", "seed": 1})
    with pytest.raises(InvalidArgument, match="simulate --engine matrix"):
        simulate_scalar(instance, 10)


def test_repeated_eigenvalues_simulated_once():
    instance = Instance.create(spectrum=["1", "0.5", "0.5", "0"], depth=2, alpha="0.1", eta="0.1", thresholds=["0.25"])
    run = simulate_scalar(instance, 200, arithmetic="certified")
    assert len(run.records) == 3
    assert run.hitting_time(1, Fraction(1, 4)) == run.hitting_time(2, Fraction(1, 4))


def test_window_queries_on_record():
    instance = Instance.create(spectrum=["1"], depth=3, alpha="0.1", eta="0.05", thresholds=["0.3", "0.9"])
    run = simulate_scalar(instance, 400, arithmetic="certified")
    record = run.record(0)
    assert record.always_above(Fraction(3, 10), 177, 400) is True
    assert record.always_above(Fraction(3, 10), 176, 400) is False
    assert record.always_below(Fraction(9, 10), 0, 201) is True
    assert record.always_below(Fraction(9, 10), 0, 202) is False
    assert record.always_above(Fraction(3, 10), 177, None) is None
