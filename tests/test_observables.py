"""Tests of the observables: known values, both arithmetics, and accuracy of small angles."""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument, NumericalWarning
from dmfverify.observables import (
    best_rank_approximation,
    effective_rank,
    frobenius_distance,
    is_symmetric_up_to_rounding,
    loss,
    matrix_spectra,
    principal_angles,
    sin_theta_distance,
    spectral_distance,
    squared_frobenius_norm,
    stable_rank,
    top_eigenspace,
)


def random_orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def psd_with_spectrum(values, seed=0):
    q = random_orthogonal(len(values), seed)
    matrix = (q * np.asarray(values, dtype=float)) @ q.T
    return (matrix + matrix.T) / 2


# ---------------------------------------------------------------- effective rank


@pytest.mark.parametrize("count", [1, 2, 5, 17])
def test_effective_rank_equal_values_is_count(count):
    values = [0.3] * count + [0.0] * 3
    assert effective_rank(values) == pytest.approx(count, rel=1e-14)


def test_effective_rank_zero_matrix_is_zero():
    assert effective_rank([0.0, 0.0]) == 0.0
    assert effective_rank(np.zeros(4)) == 0.0
    with mpmath.workdps(30):
        assert effective_rank([mpmath.mpf(0), mpmath.mpf(0)]) == 0


def test_effective_rank_ignores_nonpositive_entries():
    assert effective_rank([1.0, 1.0, -1e-17, 0.0]) == pytest.approx(2.0, rel=1e-14)


def test_effective_rank_two_values_formula():
    p = np.array([3.0, 1.0])
    q = p / p.sum()
    expected = math.exp(-(q[0] * math.log(q[0]) + q[1] * math.log(q[1])))
    assert effective_rank(p) == pytest.approx(expected, rel=1e-14)


def test_effective_rank_mpmath_at_50_digits():
    with mpmath.workdps(50):
        values = [mpmath.mpf(3), mpmath.mpf(1)]
        result = effective_rank(values)
        q1, q2 = mpmath.mpf(3) / 4, mpmath.mpf(1) / 4
        expected = mpmath.exp(-(q1 * mpmath.log(q1) + q2 * mpmath.log(q2)))
        assert isinstance(result, mpmath.mpf)
        assert abs(result - expected) < mpmath.mpf("1e-48")


def test_effective_rank_rejects_nan():
    with pytest.raises(InvalidArgument, match="NaN"):
        effective_rank([1.0, float("nan")])
    with pytest.raises(InvalidArgument, match="one-dimensional"):
        effective_rank(np.ones((2, 2)))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=1e-12, max_value=1e6, allow_nan=False), min_size=1, max_size=12),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_effective_rank_bounds_and_scale_invariance(values, scale):
    rank = effective_rank(values)
    assert 1.0 - 1e-12 <= rank <= len(values) + 1e-9
    assert effective_rank([scale * value for value in values]) == pytest.approx(rank, rel=1e-10)


# ---------------------------------------------------------------- stable rank


@pytest.mark.parametrize("n", [1, 3, 8])
def test_stable_rank_identity_is_n(n):
    assert stable_rank(np.eye(n)) == pytest.approx(n, rel=1e-14)


def test_stable_rank_matrix_equals_singular_values():
    matrix = np.random.default_rng(2).standard_normal((5, 5))
    singular = np.linalg.svd(matrix, compute_uv=False)
    expected = np.sum(matrix**2) / singular[0] ** 2
    assert stable_rank(matrix) == pytest.approx(expected, rel=1e-12)
    assert stable_rank(singular) == pytest.approx(expected, rel=1e-12)


def test_stable_rank_rank_one_and_zero():
    vector = np.array([1.0, 2.0, 3.0])
    assert stable_rank(np.outer(vector, vector)) == pytest.approx(1.0, rel=1e-12)
    assert stable_rank(np.zeros((3, 3))) == 0.0


def test_stable_rank_mpmath_matrix():
    with mpmath.workdps(40):
        result = stable_rank(mpmath.diag([2, 1, 1]))
        assert abs(result - mpmath.mpf("1.5")) < mpmath.mpf("1e-38")


# ---------------------------------------------------------------- distances and loss


def test_distances_known_values():
    first = np.diag([3.0, 1.0])
    second = np.diag([1.0, 0.0])
    assert spectral_distance(first, second) == pytest.approx(2.0)
    assert frobenius_distance(first, second) == pytest.approx(math.sqrt(5.0))
    assert loss(first, second) == pytest.approx(2.5)
    assert squared_frobenius_norm(first) == pytest.approx(10.0)


def test_distances_mpmath():
    with mpmath.workdps(50):
        first = mpmath.matrix([[mpmath.mpf("0.1"), 0], [0, 0]])
        second = mpmath.zeros(2, 2)
        assert frobenius_distance(first, second) == mpmath.mpf("0.1")
        assert spectral_distance(first, second) == mpmath.mpf("0.1")
        assert loss(first, second) == mpmath.mpf("0.1") ** 2 / 2


def test_distances_reject_shape_mismatch():
    with pytest.raises(InvalidArgument, match=r"\(2, 2\) and \(3, 3\)"):
        frobenius_distance(np.eye(2), np.eye(3))


# ---------------------------------------------------------------- best rank-r approximation


def test_best_rank_approximation_psd_eckart_young():
    values = [4.0, 2.0, 1.0, 0.5, 0.25]
    matrix = psd_with_spectrum(values, seed=3)
    for r in range(len(values) + 1):
        approximation = best_rank_approximation(matrix, r)
        assert np.linalg.matrix_rank(approximation, tol=1e-10) == r
        np.testing.assert_allclose(approximation, approximation.T, atol=0)
        expected_spectral = values[r] if r < len(values) else 0.0
        expected_frobenius = math.sqrt(sum(value**2 for value in values[r:]))
        assert spectral_distance(matrix, approximation) == pytest.approx(expected_spectral, abs=1e-12)
        assert frobenius_distance(matrix, approximation) == pytest.approx(expected_frobenius, abs=1e-12)


def test_best_rank_approximation_indefinite_keeps_largest_magnitude():
    result = best_rank_approximation(np.diag([1.0, -3.0, 2.0]), 1)
    np.testing.assert_allclose(result, np.diag([0.0, -3.0, 0.0]), atol=1e-15)


def test_best_rank_approximation_nonsymmetric_uses_svd():
    matrix = np.random.default_rng(4).standard_normal((4, 4))
    singular = np.linalg.svd(matrix, compute_uv=False)
    approximation = best_rank_approximation(matrix, 2)
    assert spectral_distance(matrix, approximation) == pytest.approx(singular[2], rel=1e-12)


def test_best_rank_approximation_mpmath_matches_float64():
    matrix = psd_with_spectrum([3.0, 1.0, 0.5], seed=6)
    fast = best_rank_approximation(matrix, 2)
    with mpmath.workdps(40):
        precise = best_rank_approximation(mpmath.matrix(matrix.tolist()), 2)
        assert isinstance(precise, mpmath.matrix)
        np.testing.assert_allclose(np.array(precise.tolist(), dtype=float), fast, atol=1e-13)


def test_best_rank_approximation_rejects_rank():
    with pytest.raises(InvalidArgument, match="r = 4"):
        best_rank_approximation(np.eye(3), 4)


# ---------------------------------------------------------------- principal angles


def test_principal_angles_identical_subspaces():
    basis = np.random.default_rng(1).standard_normal((6, 3))
    sines = principal_angles(basis, basis @ np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 3.0]]))
    np.testing.assert_allclose(sines, np.zeros(3), atol=1e-14)
    assert sin_theta_distance(basis, basis) == pytest.approx(0.0, abs=1e-14)


def test_principal_angles_orthogonal_subspaces():
    identity = np.eye(5)
    sines = principal_angles(identity[:, :2], identity[:, 2:4])
    np.testing.assert_allclose(sines, [1.0, 1.0], atol=0)


def test_principal_angles_known_angle_and_order():
    identity = np.eye(4)
    theta = 0.3
    first = identity[:, :2]
    second = np.column_stack([identity[:, 0], math.cos(theta) * identity[:, 1] + math.sin(theta) * identity[:, 3]])
    sines = principal_angles(first, second)
    np.testing.assert_allclose(sines, [0.0, math.sin(theta)], atol=1e-15)


def test_principal_angles_small_angle_accuracy():
    theta = 1e-10
    first = np.array([[1.0], [0.0]])
    second = np.array([[math.cos(theta)], [math.sin(theta)]])
    (sine,) = principal_angles(first, second)
    assert sine == pytest.approx(math.sin(theta), rel=1e-8)


def test_principal_angles_unequal_dimensions_match_scipy():
    generator = np.random.default_rng(9)
    first = generator.standard_normal((7, 2))
    second = generator.standard_normal((7, 4))
    expected = np.sort(np.sin(scipy.linalg.subspace_angles(first, second)))
    np.testing.assert_allclose(principal_angles(first, second), expected, atol=1e-13)
    np.testing.assert_allclose(principal_angles(second, first), expected, atol=1e-13)


def test_sin_theta_equals_projector_distance():
    generator = np.random.default_rng(12)
    first = np.linalg.qr(generator.standard_normal((6, 3)))[0]
    second = np.linalg.qr(generator.standard_normal((6, 3)))[0]
    projector_distance = np.linalg.norm(first @ first.T - second @ second.T, 2)
    assert sin_theta_distance(first, second) == pytest.approx(projector_distance, rel=1e-12)


def test_principal_angles_mpmath_tiny_angle():
    with mpmath.workdps(50):
        theta = mpmath.mpf("1e-30")
        first = mpmath.matrix([[1], [0], [0]])
        second = mpmath.matrix([[mpmath.cos(theta)], [mpmath.sin(theta)], [0]])
        (sine,) = principal_angles(first, second)
        assert isinstance(sine, mpmath.mpf)
        assert abs(sine - mpmath.sin(theta)) < mpmath.mpf("1e-75")


def test_principal_angles_reject_bad_bases():
    with pytest.raises(InvalidArgument, match="rank deficient"):
        principal_angles(np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]]), np.eye(3)[:, :1])
    with pytest.raises(InvalidArgument, match="3 and 4 rows"):
        principal_angles(np.eye(3), np.eye(4))


# ---------------------------------------------------------------- top eigenspace


def test_top_eigenspace_orders_by_eigenvalue():
    basis = top_eigenspace(np.diag([1.0, 3.0, 2.0, -5.0]), 2)
    np.testing.assert_allclose(np.abs(basis), np.eye(4)[:, [1, 2]], atol=1e-15)


def test_top_eigenspace_rotated_matches_subspace():
    q = random_orthogonal(5, seed=2)
    matrix = psd_with_spectrum([5.0, 4.0, 1.0, 0.5, 0.1], seed=2)
    basis = top_eigenspace(matrix, 2)
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-14)
    assert sin_theta_distance(basis, q[:, :2]) < 1e-13


def test_top_eigenspace_warns_on_tie():
    with pytest.warns(NumericalWarning, match="within rounding"):
        top_eigenspace(np.diag([2.0, 1.0, 1.0]), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        top_eigenspace(np.diag([2.0, 1.0, 1.0]), 1)


def test_top_eigenspace_rejects_nonsymmetric():
    with pytest.raises(InvalidArgument, match="not symmetric"):
        top_eigenspace(np.array([[1.0, 1.0], [0.0, 1.0]]), 1)


def test_top_eigenspace_mpmath():
    with mpmath.workdps(40):
        basis = top_eigenspace(mpmath.diag([1, 3, 2]), 1)
        assert isinstance(basis, mpmath.matrix)
        assert (basis.rows, basis.cols) == (3, 1)
        assert abs(abs(basis[1, 0]) - 1) < mpmath.mpf("1e-38")


# ---------------------------------------------------------------- spectra of an iterate


def test_matrix_spectra_symmetric_and_not():
    symmetric = matrix_spectra(np.diag([1.0, -2.0, 0.5]))
    assert symmetric.symmetric
    np.testing.assert_array_equal(symmetric.eigenvalues, [1.0, 0.5, -2.0])
    np.testing.assert_array_equal(symmetric.singular_values, [2.0, 1.0, 0.5])

    shear = matrix_spectra(np.array([[1.0, 1.0], [0.0, 1.0]]))
    assert not shear.symmetric
    assert shear.eigenvalues is None
    golden = (1 + math.sqrt(5)) / 2
    np.testing.assert_allclose(shear.singular_values, [golden, 1 / golden], rtol=1e-14)


def test_matrix_spectra_mpmath_object_arrays():
    with mpmath.workdps(50):
        spectra = matrix_spectra(mpmath.matrix([[2, 1], [1, 2]]))
        assert spectra.eigenvalues.dtype == object
        assert abs(spectra.eigenvalues[0] - 3) < mpmath.mpf("1e-48")
        assert abs(spectra.eigenvalues[1] - 1) < mpmath.mpf("1e-48")


def test_symmetry_tolerance_follows_precision():
    assert is_symmetric_up_to_rounding(np.array([[1.0, 2.0], [2.0 + 1e-10, 1.0]]))
    assert not is_symmetric_up_to_rounding(np.array([[1.0, 2.0], [2.0 + 1e-6, 1.0]]))
    with mpmath.workdps(15):
        assert is_symmetric_up_to_rounding(mpmath.matrix([[1, 2], [mpmath.mpf(2) + mpmath.mpf("1e-20"), 1]]))
    with mpmath.workdps(50):
        assert not is_symmetric_up_to_rounding(mpmath.matrix([[1, 2], [mpmath.mpf(2) + mpmath.mpf("1e-20"), 1]]))
