"""Noise matrices ``E`` for a perturbed target ``M + E``, drawn with a prescribed spectral norm.

The perturbed theorems are stated in terms of ``sigma = ||E||_2``.  An instance
file may give ``E`` entry by entry, or ask for one by spectral norm, seed and
kind.  :func:`generate_noise` draws it reproducibly and returns exact fractions
of its float64 entries, so the instance fixes the matrix to the last bit.

>>> E = generate_noise(3, "0.1", seed=0)
>>> round(float(np.linalg.norm(np.array(E, dtype=float), 2)), 12)
0.1
>>> E == generate_noise(3, "0.1", seed=0)
True
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from dmfverify.errors import InvalidArgument
from dmfverify.validation import check_positive

__all__ = ["Matrix", "generate_noise"]

#: A matrix of exact entries, row by row.
Matrix = tuple[tuple[Fraction, ...], ...]


def generate_noise(n: int, spectral_norm: Any, seed: int = 0, kind: str = "symmetric", rank: int | None = None) -> Matrix:
    """Draw a noise matrix with an exact prescribed spectral norm (up to float64 rounding).

    Parameters
    ----------
    n : int
        Matrix size.
    spectral_norm : number
        Target value of ``||E||_2``.
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same matrix.
    kind : {"symmetric", "low_rank", "aligned", "nonsymmetric"}
        ``"symmetric"``: a GOE-like matrix; ``"low_rank"``: ``sum of rank``
        symmetric rank-one terms; ``"aligned"``: diagonal, so it shares the
        eigenvectors of a diagonal ground truth; ``"nonsymmetric"``: i.i.d.
        Gaussian entries (only the matrix engine accepts it).

    Returns
    -------
    Matrix
        Exact Fractions of the float64 entries, so the instance is reproducible.
    """
    norm = float(check_positive("spectral_norm", spectral_norm))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidArgument(f"noise seed = {seed!r} is invalid: it must be a non-negative integer; pass e.g. \"seed\": 0.")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 1 <= rank <= n):
        raise InvalidArgument(f"noise rank = {rank!r} is invalid: it must be an integer between 1 and n = {n}; pass e.g. \"rank\": 1.")
    generator = np.random.default_rng(seed)

    if kind == "symmetric":
        draw = generator.standard_normal((n, n))
        matrix = (draw + draw.T) / 2
    elif kind == "low_rank":
        k = rank if rank is not None else 1
        vectors = generator.standard_normal((n, k))
        signs = generator.choice([-1.0, 1.0], size=k)
        matrix = (vectors * signs) @ vectors.T
    elif kind == "aligned":
        matrix = np.diag(generator.uniform(-1.0, 1.0, size=n))
    elif kind == "nonsymmetric":
        matrix = generator.standard_normal((n, n))
    else:
        raise InvalidArgument(f"noise kind = {kind!r} is unknown; use 'symmetric', 'low_rank', 'aligned' or 'nonsymmetric'.")

    current = np.linalg.norm(matrix, 2)
    if current == 0:
        raise InvalidArgument(f"noise of kind {kind!r} with seed {seed} came out zero; pick another seed.")
    matrix = matrix * (norm / current)
    if kind != "nonsymmetric":
        matrix = (matrix + matrix.T) / 2
    return tuple(tuple(Fraction(float(entry)) for entry in row) for row in matrix)
