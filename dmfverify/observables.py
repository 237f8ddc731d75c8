"""Observables of a gradient-descent iterate: ranks, distances, losses and subspace angles.

Every function is pure and accepts either float64 input (numpy arrays, lists of
floats) or mpmath input (``mpmath.matrix``, numpy object arrays or lists holding
``mpmath.mpf``).  mpmath input is computed in mpmath at the current working
precision, so call these functions inside ``mpmath.workdps(dps)`` when the
digits matter.  Results keep the arithmetic of the input: floats and numpy
arrays for float64, ``mpmath.mpf`` and ``mpmath.matrix`` (matrices) or numpy
object arrays (vectors) for mpmath.

A matrix counts as *symmetric up to rounding* when
``||A - A^T||_F^2 <= u ||A||_F^2``, with ``u`` the machine epsilon (``2^-52`` in
float64, ``mpmath.mp.eps`` in mpmath).  The relative asymmetry is then below
``sqrt(u)``, about ``1.5e-8`` in float64.  That is far above the rounding that
gradient descent on a symmetric target accumulates over ordinary horizons, and
far below the asymmetry of a genuinely non-symmetric iterate.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import mpmath
import numpy as np

from dmfverify.errors import InvalidArgument, NumericalWarning

__all__ = [
    "MatrixSpectra",
    "effective_rank",
    "stable_rank",
    "best_rank_approximation",
    "spectral_distance",
    "frobenius_distance",
    "loss",
    "squared_frobenius_norm",
    "principal_angles",
    "sin_theta_distance",
    "top_eigenspace",
    "is_symmetric_up_to_rounding",
    "matrix_spectra",
]

_FLOAT64_EPS = float(np.finfo(np.float64).eps)


class MatrixSpectra(NamedTuple):
    """Eigenvalues and singular values of one square matrix, both in descending order.

    ``eigenvalues`` is ``None`` when the matrix is not symmetric up to rounding.
    For a symmetric matrix they are the eigenvalues of ``(A + A^T) / 2`` and the
    singular values are their sorted absolute values.
    """

    eigenvalues: np.ndarray | None
    singular_values: np.ndarray
    symmetric: bool


# ---------------------------------------------------------------- ranks


def effective_rank(eigenvalues: Any) -> Any:
    r"""Compute the entropy effective rank ``exp(-sum_i q_i ln q_i)``.

    With ``p`` the positive entries of ``eigenvalues`` and ``q = p / sum(p)``,
    the effective rank is the exponential of the Shannon entropy of ``q``.  It
    lies in ``[1, number of positive entries]`` and equals ``k`` for ``k`` equal
    positive values.  Entries ``<= 0`` are left out (a PSD matrix has none
    but rounding may produce tiny negative ones).  When no entry is positive the
    matrix is zero and the effective rank is defined as 0.

    Parameters
    ----------
    eigenvalues : array_like of float or mpmath.mpf, shape (n,)
        Eigenvalues (or singular values) of the matrix.

    Raises
    ------
    InvalidArgument
        If the input is not one-dimensional or contains a NaN or an infinity.

    Examples
    --------
    >>> round(effective_rank([2.0, 2.0, 2.0, 0.0]), 12)
    3.0
    >>> round(effective_rank([1.0, 1e-6]), 6)
    1.000015
    >>> effective_rank([0.0, -1e-18])
    0.0
    """
    values, use_mp = _vector("eigenvalues", eigenvalues)

    if use_mp:
        positive = [value for value in values if value > 0]
        if not positive:
            return mpmath.mpf(0)
        total = mpmath.fsum(positive)
        entropy = -mpmath.fsum((value / total) * mpmath.log(value / total) for value in positive)
        return mpmath.exp(entropy)

    positive = values[values > 0]
    if positive.size == 0:
        return 0.0
    q = positive / positive.sum()
    return float(np.exp(-np.sum(q * np.log(q))))


def stable_rank(matrix_or_singular_values: Any) -> Any:
    """Compute the stable rank ``||A||_F^2 / ||A||_2^2 = sum_i s_i^2 / max_i s_i^2``.

    Parameters
    ----------
    matrix_or_singular_values : array_like
        A matrix (2-D) or its singular values (1-D).  Signs are ignored, so the
        eigenvalues of a symmetric matrix work too.  An ``n x 1``
        ``mpmath.matrix``, the form ``mpmath.svd_r`` returns, is read as a
        vector of values, but an ``n x 1`` numpy array is a matrix.

    Returns
    -------
    float or mpmath.mpf
        A number in ``[1, rank]``, or 0 for the zero matrix.

    Examples
    --------
    >>> stable_rank(np.eye(4))
    4.0
    >>> stable_rank([3.0, 4.0])
    1.5625
    """
    values = _singular_values_of(matrix_or_singular_values, "matrix_or_singular_values")
    if isinstance(values, np.ndarray) and values.dtype != object:
        largest = float(np.max(np.abs(values), initial=0.0))
        if largest == 0.0:
            return 0.0
        return float(np.sum((values / largest) ** 2))

    largest = max((abs(value) for value in values), default=mpmath.mpf(0))
    if largest == 0:
        return mpmath.mpf(0)
    return mpmath.fsum((value / largest) ** 2 for value in values)


# ---------------------------------------------------------------- distances


def squared_frobenius_norm(matrix: Any) -> Any:
    """Compute ``||A||_F^2 = sum_ij A_ij^2`` (mpmath input is summed with ``mpmath.fdot``)."""
    array, use_mp = _matrix("matrix", matrix, square=False)
    if use_mp:
        entries = [array[i, j] for i in range(array.rows) for j in range(array.cols)]
        return mpmath.fdot(entries, entries)
    flat = array.ravel()
    return float(np.dot(flat, flat))


def frobenius_distance(first: Any, second: Any) -> Any:
    """Compute ``||A - B||_F``.

    Examples
    --------
    >>> frobenius_distance(np.eye(2), np.zeros((2, 2)))
    1.4142135623730951
    """
    difference = _difference(first, second)
    if isinstance(difference, mpmath.matrix):
        return mpmath.sqrt(squared_frobenius_norm(difference))
    return float(np.linalg.norm(difference))


def spectral_distance(first: Any, second: Any) -> Any:
    """Compute ``||A - B||_2``, the largest singular value of the difference.

    Examples
    --------
    >>> spectral_distance(np.diag([3.0, 1.0]), np.diag([1.0, 1.0]))
    2.0
    """
    difference = _difference(first, second)
    if isinstance(difference, mpmath.matrix):
        return max(mpmath.svd_r(difference, compute_uv=False))
    return float(np.linalg.norm(difference, 2))


def loss(product: Any, target: Any) -> Any:
    """Compute the training loss ``1/2 ||W - Mhat||_F^2``.

    Examples
    --------
    >>> loss(np.eye(2), np.diag([1.0, 0.0]))
    0.5
    """
    return squared_frobenius_norm(_difference(product, target)) / 2


# ---------------------------------------------------------------- low-rank structure


def best_rank_approximation(matrix: Any, r: int) -> Any:
    """Compute a best rank-``r`` approximation in both the spectral and the Frobenius norm.

    By the Eckart-Young-Mirsky theorem a best approximation keeps the ``r``
    largest singular triplets.  For a matrix that is symmetric up to rounding this
    is done with eigenpairs, keeping the ``r`` eigenvalues of largest absolute
    value, so the result is exactly symmetric.  For a PSD matrix these are the
    top ``r`` eigenpairs, the ``M_r`` of the low-rank theory.  When the ``r``-th and
    ``(r+1)``-th values tie, the best approximation is not unique and one of
    them is returned.

    Parameters
    ----------
    matrix : array_like, shape (n, n)
    r : int
        Rank, ``0 <= r <= n``.

    Examples
    --------
    >>> best_rank_approximation(np.diag([1.0, -3.0, 2.0]), 2)
    array([[ 0.,  0.,  0.],
           [ 0., -3.,  0.],
           [ 0.,  0.,  2.]])
    """
    array, use_mp = _matrix("matrix", matrix)
    n = array.rows if use_mp else array.shape[0]
    r = _check_rank(r, n, lowest=0)
    symmetric = is_symmetric_up_to_rounding(array)

    if not use_mp:
        if symmetric:
            values, vectors = np.linalg.eigh((array + array.T) / 2)
            keep = np.argsort(-np.abs(values), kind="stable")[:r]
            basis = vectors[:, keep]
            return (basis * values[keep]) @ basis.T
        left, values, right = np.linalg.svd(array)
        return (left[:, :r] * values[:r]) @ right[:r]

    if symmetric:
        values, vectors = mpmath.eigsy((array + array.T) / 2)
        order = sorted(range(n), key=lambda index: -abs(values[index]))[:r]
        result = mpmath.zeros(n, n)
        for index in order:
            column = vectors[:, index]
            result += values[index] * (column * column.T)
        return result
    left, values, right = mpmath.svd_r(array)
    result = mpmath.zeros(n, n)
    for index in range(r):
        result += values[index] * (left[:, index] * right[index, :])
    return result


def top_eigenspace(matrix: Any, r: int) -> Any:
    """Compute an orthonormal basis of the eigenvectors of the ``r`` largest eigenvalues.

    The eigenvalues are ordered algebraically (largest first), and column ``k`` of
    the ``n x r`` result belongs to the ``k``-th largest.  The matrix must be
    symmetric up to rounding; its symmetric part is used.

    Warns
    -----
    NumericalWarning
        When ``lambda_r - lambda_{r+1} <= sqrt(u) ||A||_2``: the eigenspace is then
        not determined by the matrix to working precision.

    Raises
    ------
    InvalidArgument
        If the matrix is not symmetric up to rounding or ``r`` is not in ``1..n``.

    Examples
    --------
    >>> np.abs(top_eigenspace(np.diag([1.0, 3.0, 2.0]), 2))
    array([[0., 0.],
           [1., 0.],
           [0., 1.]])
    """
    array, use_mp = _matrix("matrix", matrix)
    n = array.rows if use_mp else array.shape[0]
    r = _check_rank(r, n, lowest=1)
    if not is_symmetric_up_to_rounding(array):
        raise InvalidArgument(
            "matrix is not symmetric, so its eigenspaces are not orthogonal; "
            "pass the symmetric part (A + A^T) / 2, or use the left singular vectors for a non-symmetric matrix."
        )

    if use_mp:
        values, vectors = mpmath.eigsy((array + array.T) / 2)
        order = sorted(range(n), key=lambda index: -values[index])
        ordered = [values[index] for index in order]
        basis = mpmath.matrix(n, r)
        for column, index in enumerate(order[:r]):
            basis[:, column] = vectors[:, index]
        scale = max(abs(ordered[0]), abs(ordered[-1]))
        gap_limit = mpmath.sqrt(mpmath.mp.eps) * scale
    else:
        values, vectors = np.linalg.eigh((array + array.T) / 2)
        ordered = values[::-1]
        basis = np.ascontiguousarray(vectors[:, ::-1][:, :r])
        gap_limit = math.sqrt(_FLOAT64_EPS) * max(abs(ordered[0]), abs(ordered[-1]))

    if r < n and ordered[r - 1] - ordered[r] <= gap_limit:
        warnings.warn(
            f"top_eigenspace: the eigenvalues {_show(ordered[r - 1])} and {_show(ordered[r])} at rank r = {r} are "
            "within rounding of each other, so the returned eigenspace is arbitrary within their joint eigenspace.",
            NumericalWarning,
            stacklevel=2,
        )
    return basis


def principal_angles(first: Any, second: Any) -> np.ndarray:
    """Compute the sines of the principal angles between two column spaces, in ascending order.

    Both bases are orthonormalised first (QR), so any basis of full column rank
    is accepted.  With ``Q_U`` of ``p`` columns and ``Q_V`` of ``q <= p`` columns
    (the inputs are swapped otherwise), the sines of the ``q`` principal angles
    are the singular values of ``(I - Q_U Q_U^T) Q_V``.  Computing them from
    this residual keeps small angles accurate, unlike ``sqrt(1 - cos^2)``.

    Parameters
    ----------
    first, second : array_like, shape (n, p) and (n, q)
        Bases of the two subspaces (1-D input is one column).

    Returns
    -------
    numpy.ndarray, shape (min(p, q),)
        ``sin(theta_1) <= ... <= sin(theta_k)``, float64 or object (mpf) entries.

    Raises
    ------
    InvalidArgument
        If the row counts differ or a basis is rank deficient.

    Examples
    --------
    >>> plane = np.eye(3)[:, :2]
    >>> principal_angles(plane, np.array([1.0, 0.0, 1.0])).round(12)
    array([0.70710678])
    >>> principal_angles(plane, np.eye(3)[:, 2:]).round(12)
    array([1.])
    """
    first_array, first_mp = _basis("first", first)
    second_array, second_mp = _basis("second", second)
    use_mp = first_mp or second_mp
    rows = [array.rows if isinstance(array, mpmath.matrix) else array.shape[0] for array in (first_array, second_array)]
    if rows[0] != rows[1]:
        raise InvalidArgument(
            f"the bases have {rows[0]} and {rows[1]} rows; principal angles need subspaces of the same space, so pass bases with equal row counts."
        )

    if use_mp:
        first_q = _orthonormal_mp("first", _to_mp_matrix(first_array))
        second_q = _orthonormal_mp("second", _to_mp_matrix(second_array))
        if second_q.cols > first_q.cols:
            first_q, second_q = second_q, first_q
        residual = second_q - first_q * (first_q.T * second_q)
        sines = [min(value, mpmath.mpf(1)) for value in mpmath.svd_r(residual, compute_uv=False)]
        return np.array(sorted(sines), dtype=object)

    first_q = _orthonormal("first", first_array)
    second_q = _orthonormal("second", second_array)
    if second_q.shape[1] > first_q.shape[1]:
        first_q, second_q = second_q, first_q
    residual = second_q - first_q @ (first_q.T @ second_q)
    sines = np.linalg.svd(residual, compute_uv=False)
    return np.sort(np.minimum(sines, 1.0))


def sin_theta_distance(first: Any, second: Any) -> Any:
    """Compute the sin-theta distance: the largest sine of the principal angles.

    For subspaces of equal dimension it equals ``||P_U - P_V||_2``.

    Examples
    --------
    >>> sin_theta_distance(np.eye(3)[:, :2], np.eye(3)[:, :2])
    0.0
    """
    sines = principal_angles(first, second)
    if sines.dtype == object:
        return max(sines)
    return float(np.max(sines))


# ---------------------------------------------------------------- spectra of an iterate


def is_symmetric_up_to_rounding(matrix: Any) -> bool:
    """Test ``||A - A^T||_F^2 <= u ||A||_F^2`` with ``u`` the machine epsilon of the input's arithmetic.

    Examples
    --------
    >>> is_symmetric_up_to_rounding(np.array([[1.0, 2.0], [2.0 + 1e-15, 1.0]]))
    True
    >>> is_symmetric_up_to_rounding(np.array([[1.0, 2.0], [2.001, 1.0]]))
    False
    """
    array, use_mp = _matrix("matrix", matrix)
    if use_mp:
        return bool(squared_frobenius_norm(array - array.T) <= mpmath.mp.eps * squared_frobenius_norm(array))
    asymmetry = (array - array.T).ravel()
    return bool(np.dot(asymmetry, asymmetry) <= _FLOAT64_EPS * squared_frobenius_norm(array))


def matrix_spectra(matrix: Any) -> MatrixSpectra:
    """Compute the eigenvalues (when symmetric up to rounding) and the singular values of a square matrix.

    float64 input gives float64 arrays; mpmath input gives object arrays of
    ``mpmath.mpf`` computed with ``mpmath.eigsy`` or ``mpmath.svd_r``.

    Examples
    --------
    >>> matrix_spectra(np.diag([1.0, -2.0]))
    MatrixSpectra(eigenvalues=array([ 1., -2.]), singular_values=array([2., 1.]), symmetric=True)
    >>> matrix_spectra(np.array([[0.0, 1.0], [0.0, 0.0]])).eigenvalues is None
    True
    """
    array, use_mp = _matrix("matrix", matrix)
    symmetric = is_symmetric_up_to_rounding(array)

    if use_mp:
        if symmetric:
            ascending = mpmath.eigsy((array + array.T) / 2, eigvals_only=True)
            eigenvalues = np.array([ascending[i] for i in range(ascending.rows - 1, -1, -1)], dtype=object)
            singular_values = np.array(sorted((abs(value) for value in eigenvalues), reverse=True), dtype=object)
            return MatrixSpectra(eigenvalues, singular_values, True)
        values = mpmath.svd_r(array, compute_uv=False)
        return MatrixSpectra(None, np.array([values[i] for i in range(values.rows)], dtype=object), False)

    if symmetric:
        eigenvalues = np.linalg.eigvalsh((array + array.T) / 2)[::-1].copy()
        singular_values = np.sort(np.abs(eigenvalues))[::-1].copy()
        return MatrixSpectra(eigenvalues, singular_values, True)
    return MatrixSpectra(None, np.linalg.svd(array, compute_uv=False), False)


# ---------------------------------------------------------------- input handling


def _contains_mpf(values: Any) -> bool:
    return any(isinstance(value, mpmath.mpf) for value in values)


def _vector(name: str, values: Any) -> tuple[Any, bool]:
    """Return a 1-D float64 array, or a list of mpf when any entry is an mpf."""
    if isinstance(values, mpmath.matrix):
        values = list(values)
    if isinstance(values, np.ndarray) and values.dtype != object:
        array = values
    else:
        array = np.asarray(values, dtype=object)
        if array.ndim == 1 and not _contains_mpf(array):
            array = array.astype(np.float64)
    if array.ndim != 1:
        raise InvalidArgument(f"{name} has shape {array.shape}; pass a one-dimensional sequence of values.")

    if array.dtype == object:
        entries = [mpmath.mpf(value) for value in array]
        if not all(mpmath.isfinite(value) for value in entries):
            raise InvalidArgument(f"{name} contains a NaN or an infinity; pass finite values (a run that diverged has no spectrum).")
        return entries, True

    floats = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(floats)):
        raise InvalidArgument(f"{name} contains a NaN or an infinity; pass finite values (a run that diverged has no spectrum).")
    return floats, False


def _matrix(name: str, matrix: Any, *, square: bool = True) -> tuple[Any, bool]:
    """Return ``(mpmath.matrix, True)`` for mpmath input and ``(float64 array, False)`` otherwise."""
    if isinstance(matrix, mpmath.matrix):
        array: Any = matrix
        shape = (matrix.rows, matrix.cols)
        use_mp = True
    else:
        raw = np.asarray(matrix, dtype=object) if not isinstance(matrix, np.ndarray) else matrix
        use_mp = raw.dtype == object and _contains_mpf(raw.ravel())
        shape = raw.shape
        if raw.ndim != 2:
            raise InvalidArgument(f"{name} has shape {shape}; pass a two-dimensional matrix.")
        array = mpmath.matrix(raw.tolist()) if use_mp else np.asarray(raw, dtype=np.float64)

    if square and shape[0] != shape[1]:
        raise InvalidArgument(f"{name} has shape {shape}; pass a square n x n matrix.")
    finite = all(mpmath.isfinite(value) for value in array) if use_mp else bool(np.all(np.isfinite(array)))
    if not finite:
        raise InvalidArgument(f"{name} contains a NaN or an infinity; pass a finite matrix.")
    return array, use_mp


def _basis(name: str, basis: Any) -> tuple[Any, bool]:
    if isinstance(basis, mpmath.matrix):
        return _matrix(name, basis, square=False)
    raw = np.asarray(basis, dtype=object) if not isinstance(basis, np.ndarray) else basis
    if raw.ndim == 1:
        raw = raw.reshape(-1, 1)
    return _matrix(name, raw, square=False)


def _to_mp_matrix(array: Any) -> mpmath.matrix:
    return array if isinstance(array, mpmath.matrix) else mpmath.matrix(array.tolist())


def _difference(first: Any, second: Any) -> Any:
    first_array, first_mp = _matrix("first", first, square=False)
    second_array, second_mp = _matrix("second", second, square=False)
    first_shape = (first_array.rows, first_array.cols) if first_mp else first_array.shape
    second_shape = (second_array.rows, second_array.cols) if second_mp else second_array.shape
    if first_shape != second_shape:
        raise InvalidArgument(f"the matrices have shapes {first_shape} and {second_shape}; pass matrices of the same shape.")
    if first_mp or second_mp:
        return _to_mp_matrix(first_array) - _to_mp_matrix(second_array)
    return first_array - second_array


def _singular_values_of(data: Any, name: str) -> Any:
    """Return the singular values of a matrix, or the absolute values of a 1-D input."""
    if isinstance(data, mpmath.matrix) and data.cols > 1:
        array, _ = _matrix(name, data, square=False)
        return list(mpmath.svd_r(array, compute_uv=False))
    raw = np.asarray(data, dtype=object) if not isinstance(data, (np.ndarray, mpmath.matrix)) else data
    if isinstance(raw, np.ndarray) and raw.ndim == 2:
        array, use_mp = _matrix(name, raw, square=False)
        if use_mp:
            return list(mpmath.svd_r(array, compute_uv=False))
        return np.linalg.svd(array, compute_uv=False)
    values, use_mp = _vector(name, data)
    return [abs(value) for value in values] if use_mp else np.abs(values)


def _orthonormal(name: str, basis: np.ndarray) -> np.ndarray:
    singular = np.linalg.svd(basis, compute_uv=False)
    tolerance = max(basis.shape) * _FLOAT64_EPS * (singular[0] if singular.size else 0.0)
    if basis.shape[1] > basis.shape[0] or singular.size == 0 or singular[-1] <= tolerance:
        raise InvalidArgument(
            f"{name} basis of shape {basis.shape} is rank deficient (smallest singular value "
            f"{singular[-1] if singular.size else 0.0:.3g}); pass linearly independent columns."
        )
    q, _ = np.linalg.qr(basis)
    return q


def _orthonormal_mp(name: str, basis: mpmath.matrix) -> mpmath.matrix:
    rows, cols = basis.rows, basis.cols
    singular = mpmath.svd_r(basis, compute_uv=False) if cols <= rows else None
    if singular is None or min(singular) <= max(rows, cols) * mpmath.mp.eps * max(singular):
        raise InvalidArgument(f"{name} basis of shape ({rows}, {cols}) is rank deficient; pass linearly independent columns.")
    q, _ = mpmath.qr(basis, mode="skinny")
    return q


def _check_rank(r: Any, n: int, *, lowest: int) -> int:
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not lowest <= r <= n:
        raise InvalidArgument(f"r = {r!r} is out of range for a matrix of size {n}; pass an integer with {lowest} <= r <= {n}.")
    return int(r)


def _show(value: Any) -> str:
    if isinstance(value, mpmath.mpf):
        return mpmath.nstr(value, 6)
    return f"{float(value):.6g}"
