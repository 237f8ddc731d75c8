"""Tests of the Hypothesis strategies: validity, exact replay, steering and shrinking direction."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance
from dmfverify.regime import step_size_at_most_one
from dmfverify.strategies import (
    SPECTRUM_KINDS,
    Steering,
    alphas,
    decimals,
    instances,
    instances_for,
    log_uniform_decimals,
    noise_matrices,
    parse_steering,
    spectra,
    step_size_for,
    step_size_numbers,
    steering_for,
)
from dmfverify.theorem_loader import builtin_theorems, load_theorems, select

PLANTED = Path(__file__).resolve().parent / "quality" / "planted"
FAST = settings(max_examples=25, deadline=None, database=None)


def theorem(theorem_id):
    return select(builtin_theorems(), [theorem_id])[0]


# ------------------------------------------------------------------ numbers


@FAST
@given(log_uniform_decimals("1e-6", "1", digits=3))
def test_log_uniform_decimals_stay_in_range(value):
    assert isinstance(value, Fraction)
    assert Fraction(1, 10**6) <= value <= 1


@FAST
@given(decimals("0.2", "0.7", digits=2))
def test_decimals_have_few_digits(value):
    assert Fraction(1, 5) <= value <= Fraction(7, 10)
    assert len(str(float(value)).replace("0.", "").rstrip("0")) <= 3


def test_log_uniform_shrinks_towards_requested_end():
    assert find(log_uniform_decimals("0.001", "1"), lambda value: True) == Fraction(1, 1000)
    assert find(alphas("1e-6", "0.5"), lambda value: True) == Fraction(1, 2)


def test_log_uniform_rejects_empty_range():
    with pytest.raises(InvalidArgument, match="bounds"):
        log_uniform_decimals(1, "0.5").example()


def test_step_size_numbers_shrink_to_edge():
    assert find(step_size_numbers(), lambda value: True) == 1


def test_step_size_numbers_reach_just_above_one():
    value = find(step_size_numbers(above_one=True), lambda value: value > 1)
    assert 1 < value <= Fraction(1001, 1000)


def test_step_size_exact_for_rational_power():
    assert step_size_for(1, 1, 3) == Fraction(1, 3)
    assert step_size_for("0.5", 4, 2) == Fraction(1, 16)
    assert step_size_for(1, Fraction(1, 8), 3) == Fraction(16, 3)


@FAST
@given(st.sampled_from(["0.37", "2.5", "0.0123"]), st.integers(2, 6), st.sampled_from(["1", "0.999", "0.5"]))
def test_step_size_never_exceeds_requested_number(mu, depth, S):
    eta = step_size_for(S, mu, depth)
    target = Fraction(S)
    # Exact test of eta N mu^(2-2/N) <= S, raised to the power N.
    assert (eta * depth) ** depth * Fraction(mu) ** (2 * depth - 2) <= target**depth
    assert step_size_at_most_one(Fraction(mu), eta, depth)


# ------------------------------------------------------------------ spectra


@FAST
@given(spectra(max_size=6))
def test_spectra_are_sorted_and_start_at_one(values):
    assert values[0] == 1
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert all(value >= 0 for value in values)


@pytest.mark.parametrize("kind", SPECTRUM_KINDS)
def test_each_spectrum_kind_is_generated(kind):
    values = find(spectra(min_size=4, max_size=4, kinds=(kind,)), lambda values: True)
    assert len(values) == 4
    if kind == "zeros":
        assert values[-1] == 0
    if kind == "repeated":
        assert len(set(values)) < 4


def test_near_degenerate_gap_reaches_tiny_ratio():
    values = find(spectra(min_size=3, max_size=3, kinds=("near_degenerate",)),
                  lambda values: any(0 < a - b < Fraction(1, 10**9) * a for a, b in zip(values, values[1:])))
    assert len(values) == 3


def test_ill_conditioned_reaches_huge_condition_number():
    values = find(spectra(min_size=3, max_size=3, kinds=("ill_conditioned",)), lambda values: values[0] / values[-1] > 10**9)
    assert values[-1] > 0


@FAST
@given(st.data())
def test_spectra_enforce_gap_at_rank(data):
    values = data.draw(spectra(min_size=4, max_size=4, rank=2, gap_ratios=("3", "10"), positive=True))
    assert values[1] / values[2] >= 3


@FAST
@given(spectra(max_size=5, max_condition=100, positive=True))
def test_condition_cap_is_enforced(values):
    assert values[0] / values[-1] <= 100


# -------------------------------------------------------------------- noise


@FAST
@given(st.data(), st.integers(1, 5), st.sampled_from(["0.01", "0.3"]))
def test_noise_has_exact_spectral_norm(data, n, norm):
    matrix = data.draw(noise_matrices(n, norm))
    array = np.array([[float(entry) for entry in row] for row in matrix])
    assert all(matrix[a][b] == matrix[b][a] for a in range(n) for b in range(n))
    assert np.max(np.abs(np.linalg.eigvalsh(array))) == pytest.approx(float(Fraction(norm)), rel=1e-12)


@FAST
@given(st.data())
def test_negative_noise_is_negative_semidefinite(data):
    matrix = data.draw(noise_matrices(4, "0.1", signs="negative"))
    array = np.array([[float(entry) for entry in row] for row in matrix])
    assert np.max(np.linalg.eigvalsh(array)) <= 1e-15


def test_noise_shrinks_to_aligned():
    matrix = find(noise_matrices(3, "0.5"), lambda matrix: True)
    assert all(matrix[a][b] == 0 for a in range(3) for b in range(3) if a != b)


def test_rotated_noise_is_found():
    matrix = find(noise_matrices(3, "0.5", kinds=("rotated",)), lambda matrix: matrix[0][1] != 0)
    assert matrix[0][1] == matrix[1][0]


# ---------------------------------------------------------------- instances


@settings(max_examples=15, deadline=None, database=None)
@given(instances(max_size=4))
def test_instances_replay_exactly(instance):
    assert isinstance(instance, Instance)
    assert 1 <= instance.n <= 4
    again = Instance.from_dict(instance.to_dict())
    assert again == instance
    assert again.fingerprint() == instance.fingerprint()


def test_instances_shrink_to_simplest():
    instance = find(instances(), lambda instance: True)
    assert instance.depth == 2
    assert instance.n == 1
    assert instance.noise is None
    assert step_size_for(1, instance.spectrum[0], 2) == instance.eta


@settings(max_examples=10, deadline=None, database=None)
@given(instances_for(theorem("H1")))
def test_hitting_time_levels_on_rising_part(instance):
    top = float(np.max(np.linalg.eigvalsh(instance.target_array())))
    peak = (instance.depth - 1) / (2 * instance.depth - 1) * top * (1 + 1e-12)
    start = float(instance.alpha**instance.depth)
    assert instance.thresholds
    assert any(start < float(level) <= peak for level in instance.thresholds)


@settings(max_examples=10, deadline=None, database=None)
@given(instances_for(theorem("L2")))
def test_phase_instances_respect_l2_shape(instance):
    assert instance.noise is None
    assert instance.depth >= 3
    lam = sorted(instance.spectrum, reverse=True)
    r = instance.rank
    assert lam[r - 1] / lam[r] >= Fraction(2 * instance.depth - 1, instance.depth)
    assert instance.alpha**instance.depth < instance.delta <= Fraction(instance.depth - 1, 2 * instance.depth - 1) * lam[r]


@settings(max_examples=10, deadline=None, database=None)
@given(instances_for(theorem("P2")))
def test_perturbed_instances_have_noise_within_step_limit(instance):
    assert instance.noise is not None
    sigma = max(abs(value) for value in np.linalg.eigvalsh(instance.noise_array()))
    reference = float(max(instance.spectrum)) + sigma
    S = float(instance.eta) * instance.depth * reference ** (2 - 2 / instance.depth)
    assert S <= 1 + 1e-9


def test_steering_profiles_cover_catalog():
    for item in builtin_theorems():
        assert isinstance(steering_for(item), Steering)


def test_steering_infers_planted_phase():
    planted = load_theorems(PLANTED / "phase_depth_blind.py")[0]
    steering = steering_for(planted)
    assert steering.noise == "none"
    assert steering.phase == "spectral"
    assert steering.thresholds is None


def test_steering_infers_planted_noise_bound():
    planted = load_theorems(PLANTED / "eigengap_one_sigma.py")[0]
    steering = steering_for(planted)
    assert steering.noise == "required"
    assert steering.phase == "plain"


def test_steering_infers_hitting_levels():
    planted = load_theorems(PLANTED / "h1_upper_without_log.py")[0]
    assert steering_for(planted).thresholds == "both"


def test_steering_rejects_unknown_field_value():
    with pytest.raises(InvalidArgument, match="Steering.noise"):
        Steering(noise="loud")


@pytest.mark.parametrize("text", ["step_size_range=1,0.9", "step_size_range=a,b", "step_size_range=0,1"])
def test_parse_steering_rejects_bad_range(text):
    with pytest.raises(InvalidArgument, match="steering step_size_range"):
        parse_steering([text])
