"""Certified eigenvalue enclosures of the ground truth, the target and the noise.

The scalar engine simulates one recurrence per eigenvalue ``mu_i`` of the
observed target ``Mhat``.  When ``Mhat`` is diagonal the eigenvalues are exact
rationals.  Otherwise they come from :func:`mpmath.eigsy` at a working precision
with guard digits, together with a rigorous radius ``rho`` such that each true
eigenvalue (sorted) lies within ``rho`` of the computed one:

* With ``V`` the computed eigenvectors, ``Lambda`` the computed eigenvalues and
  ``R = A V - V Lambda``, write ``B = V Lambda V^T``.  Then
  ``A - B = R V^T + A (I - V V^T)``, so by Weyl's inequality
  ``|lambda_i(A) - lambda_i(B)| <= ||R||_F ||V||_F + ||A||_F ||I - V^T V||_F``.
* By Ostrowski's theorem ``lambda_i(B) = theta_i Lambda_i`` with ``theta_i``
  between the extreme squared singular values of ``V``, so
  ``|lambda_i(B) - Lambda_i| <= |Lambda_i| ||V^T V - I||_F``.
* The residuals themselves are computed in floating point; their rounding is
  bounded a priori by ``gamma_{n+2} = (n+2) u / (1 - (n+2) u)`` times the norms
  of the factors (``u = 2^-prec``), and the conversion of the exact input to
  the working precision by ``u ||A||_F``.  The sum of these terms, doubled, is
  the radius.

Results are cached per matrix (ground truth and noise) and precision: one
eigendecomposition serves every run on the same target.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath

from dmfverify.instance import Instance, Matrix
from dmfverify.rounding import to_fraction_exact

__all__ = ["SpectrumEnclosure", "target_spectrum", "ground_truth_spectrum", "noise_norm", "matrix_spectrum"]

#: Decimal guard digits used inside the eigendecomposition.
GUARD_DIGITS = 12


@dataclass(frozen=True)
class SpectrumEnclosure:
    """Eigenvalues in descending order with a rigorous common radius.

    Attributes
    ----------
    values : tuple of Fraction
        Computed eigenvalues, descending, as exact rationals (the binary values
        produced by the eigensolver, or the exact eigenvalues of a diagonal matrix).
    radius : Fraction
        Each true eigenvalue ``lambda_i`` satisfies ``|lambda_i - values[i]| <= radius``.
    radii : tuple of Fraction, optional
        Sharper per-eigenvalue radii where known (0 for the exact zeros of a
        matrix with zero rows); ``radius`` is their maximum.
    vectors : list of list of mpf, or None
        Columns are the computed eigenvectors (None for a diagonal matrix, whose
        eigenvectors are coordinate vectors in the order ``order``).
    order : tuple of int
        For a diagonal matrix, the diagonal index of each sorted eigenvalue.
    dps : int
        Decimal precision of the computation (0 when the values are exact).
    """

    values: tuple[Fraction, ...]
    radius: Fraction
    vectors: list | None
    order: tuple[int, ...]
    dps: int
    radii: tuple[Fraction, ...] | None = None

    @property
    def exact(self) -> bool:
        """True when the eigenvalues are known exactly."""
        return self.radius == 0

    def radius_of(self, i: int) -> Fraction:
        """Return the radius of the ``i``-th largest eigenvalue."""
        return self.radius if self.radii is None else self.radii[i]

    def interval(self, i: int) -> tuple[Fraction, Fraction]:
        """Return exact rational bounds ``(lo, hi)`` of the ``i``-th largest eigenvalue."""
        radius = self.radius_of(i)
        return self.values[i] - radius, self.values[i] + radius

    def as_floats(self) -> list[float]:
        """Return the eigenvalues rounded to float64."""
        return [float(value) for value in self.values]


def target_spectrum(instance: Instance, dps: int = 30) -> SpectrumEnclosure:
    """Enclose the eigenvalues ``mu_1 >= ... >= mu_n`` of the observed target ``M + E``.

    >>> inst = Instance.create(spectrum=["0.5", "1", "0.1"], depth=2, alpha="0.1", eta="0.1")
    >>> [str(v) for v in target_spectrum(inst).values]
    ['1', '1/2', '1/10']
    """
    return _cached_spectrum(instance, "target", dps)


def ground_truth_spectrum(instance: Instance, dps: int = 30) -> SpectrumEnclosure:
    """Enclose the eigenvalues ``lambda_1 >= ... >= lambda_n`` of the ground truth ``M``."""
    return _cached_spectrum(instance, "ground_truth", dps)


def noise_norm(instance: Instance, dps: int = 30) -> tuple[Fraction, Fraction]:
    """Return exact bounds ``(lo, hi)`` of the spectral norm ``sigma = ||E||_2`` of the noise.

    A non-symmetric ``E`` is handled through the symmetric matrix
    ``[[0, E], [E^T, 0]]``, whose eigenvalues are plus and minus the singular
    values of ``E``.
    """
    if instance.noise is None or instance.is_noiseless:
        return Fraction(0), Fraction(0)
    enclosure = _cached_spectrum(instance, "noise", dps)
    largest = max(abs(enclosure.values[0]), abs(enclosure.values[-1]))
    return max(largest - enclosure.radius, Fraction(0)), largest + enclosure.radius


def _cached_spectrum(instance: Instance, which: str, dps: int) -> SpectrumEnclosure:
    fingerprint = instance.matrix_fingerprint()
    key = (fingerprint, which, int(dps))
    cached = _CACHE.get(key)
    if cached is None:
        # A more precise enclosure of the same matrix serves a less precise request.
        finer = [entry for (print_, kind, digits), entry in _CACHE.items() if print_ == fingerprint and kind == which and digits >= dps]
        if finer:
            return min(finer, key=lambda entry: entry.dps)
    if cached is None:
        cached = _compute(instance, which, dps)
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = cached
    return cached


_CACHE: dict[tuple[str, str, int], SpectrumEnclosure] = {}


def _compute(instance: Instance, which: str, dps: int) -> SpectrumEnclosure:
    if which == "target" and instance.spectrum is not None and instance.is_noiseless:
        return _diagonal(instance.spectrum)
    if which == "ground_truth" and instance.spectrum is not None:
        return _diagonal(instance.spectrum)

    if which == "target":
        matrix = instance.target_matrix()
    elif which == "ground_truth":
        matrix = instance.ground_truth_matrix()
    else:
        matrix = instance.noise
        if not instance.noise_is_symmetric:
            matrix = _hermitian_dilation(matrix)

    if _is_diagonal(matrix):
        return _diagonal(tuple(matrix[i][i] for i in range(len(matrix))))
    return _deflated_spectrum(matrix, dps)


def _deflated_spectrum(matrix: Matrix, dps: int) -> SpectrumEnclosure:
    """Split off exactly-zero rows and columns, whose eigenvalues are exact zeros, then enclose the rest.

    A covariance with constant pixels has such rows; without the split its zero
    eigenvalues would only be known to lie within the radius, so their sign would
    stay undecided.
    """
    n = len(matrix)
    zero_rows = [i for i in range(n) if all(entry == 0 for entry in matrix[i])]
    if not zero_rows or len(zero_rows) == n:
        return matrix_spectrum(matrix, dps)

    kept = [i for i in range(n) if i not in zero_rows]
    inner = matrix_spectrum(tuple(tuple(matrix[i][j] for j in kept) for i in kept), dps)
    entries = [(value, inner.radius, [column[row] for row in range(len(kept))], kept) for value, column in zip(inner.values, inner.vectors)]
    entries += [(Fraction(0), Fraction(0), None, [i]) for i in zero_rows]
    entries.sort(key=lambda entry: entry[0], reverse=True)

    vectors = []
    for value, _, column, rows in entries:
        full = [mpmath.mpf(0)] * n
        if column is None:
            full[rows[0]] = mpmath.mpf(1)
        else:
            for position, row in enumerate(rows):
                full[row] = column[position]
        vectors.append(full)
    radii = tuple(entry[1] for entry in entries)
    return SpectrumEnclosure(tuple(entry[0] for entry in entries), max(radii), vectors, tuple(range(n)), inner.dps, radii)


def matrix_spectrum(matrix: Matrix, dps: int = 30) -> SpectrumEnclosure:
    """Enclose the eigenvalues of an exact symmetric matrix.

    Parameters
    ----------
    matrix : tuple of tuples of Fraction
        Symmetric; only the lower triangle is trusted.
    dps : int
        Requested decimal digits; the eigendecomposition runs with
        ``GUARD_DIGITS`` more.

    Examples
    --------
    >>> from fractions import Fraction as F
    >>> enc = matrix_spectrum(((F(2), F(1)), (F(1), F(2))), dps=30)
    >>> [round(float(v), 12) for v in enc.values], float(enc.radius) < 1e-35
    ([3.0, 1.0], True)
    """
    n = len(matrix)
    work_dps = int(dps) + GUARD_DIGITS

    with mpmath.workdps(work_dps):
        a = mpmath.matrix([[mpmath.mpf(entry.numerator) / entry.denominator for entry in row] for row in matrix])
        eigenvalues, vectors = mpmath.eigsy(a)
        order = sorted(range(n), key=lambda i: eigenvalues[i], reverse=True)
        lam = [eigenvalues[i] for i in order]
        v = mpmath.matrix(n, n)
        for new, old in enumerate(order):
            for row in range(n):
                v[row, new] = vectors[row, old]

        residual = a * v - v * mpmath.diag(lam)
        gram_defect = v.T * v - mpmath.eye(n)

        norm_a = mpmath.mnorm(a, "f")
        norm_v = mpmath.mnorm(v, "f")
        norm_r = mpmath.mnorm(residual, "f")
        norm_g = mpmath.mnorm(gram_defect, "f")
        largest = max(abs(lam[0]), abs(lam[-1]))

        unit = mpmath.ldexp(1, -mpmath.mp.prec)
        gamma = (n + 2) * unit / (1 - (n + 2) * unit)
        # A priori rounding of the residual R and of the Gram defect, each bounded by gamma |.||.|.
        rounding = 2 * gamma * norm_v**2 * (norm_a + largest)
        radius = 2 * (norm_r * norm_v + norm_a * norm_g + largest * norm_g + rounding + unit * norm_a)

        values = tuple(_mpf_to_fraction(value) for value in lam)
        columns = [[v[row, col] for row in range(n)] for col in range(n)]

    return SpectrumEnclosure(values, _mpf_to_fraction(radius), columns, tuple(order), int(dps))


def _diagonal(entries: tuple[Fraction, ...]) -> SpectrumEnclosure:
    order = tuple(sorted(range(len(entries)), key=lambda i: entries[i], reverse=True))
    return SpectrumEnclosure(tuple(entries[i] for i in order), Fraction(0), None, order, 0)


def _is_diagonal(matrix: Matrix) -> bool:
    return all(matrix[i][j] == 0 for i in range(len(matrix)) for j in range(len(matrix)) if i != j)


def _hermitian_dilation(matrix: Matrix) -> Matrix:
    n = len(matrix)
    zero = Fraction(0)
    top = [tuple([zero] * n) + tuple(matrix[i]) for i in range(n)]
    bottom = [tuple(matrix[j][i] for j in range(n)) + tuple([zero] * n) for i in range(n)]
    return tuple(top + bottom)


def _mpf_to_fraction(value) -> Fraction:
    return to_fraction_exact(mpmath.mpf(value))
