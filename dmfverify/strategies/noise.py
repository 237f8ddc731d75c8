r"""Symmetric noise matrices ``E = Q D Q^T`` with an exactly known spectral norm.

``D`` is diagonal and ``Q`` is the identity or a product of exact Householder
reflections ``I - 2 v v^T / (v^T v)`` with integer ``v``, so every entry of
``E`` is rational and its eigenvalues are exactly the diagonal of ``D``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Matrix
from dmfverify.strategies.decimal_draws import _as_fraction

__all__ = ["NOISE_KINDS", "noise_matrices"]


#: Noise kinds, simplest first: diagonal noise shares the eigenvectors of a diagonal ground truth.
NOISE_KINDS = ("aligned", "rotated", "low_rank")


def _householder(vector: list[int]) -> list[list[Fraction]]:
    """Return the exact orthogonal reflection ``I - 2 v v^T / (v^T v)`` (the identity for ``v = 0``)."""
    n = len(vector)
    norm = sum(entry * entry for entry in vector)
    if norm == 0:
        return [[Fraction(int(a == b)) for b in range(n)] for a in range(n)]
    return [[Fraction(int(a == b)) - Fraction(2 * vector[a] * vector[b], norm) for b in range(n)] for a in range(n)]


def _multiply(left: list[list[Fraction]], right: list[list[Fraction]]) -> list[list[Fraction]]:
    size = len(left)
    return [[sum((left[a][c] * right[c][b] for c in range(size)), Fraction(0)) for b in range(size)] for a in range(size)]


@st.composite
def noise_matrices(
    draw,
    n: int,
    spectral_norm: Any,
    *,
    kinds: tuple[str, ...] = NOISE_KINDS,
    signs: str = "any",
) -> Matrix:
    r"""Draw a symmetric noise matrix ``E = Q D Q^T`` with ``||E||_2 = spectral_norm`` exactly.

    ``D`` is diagonal.  In half of the draws it has one entry ``+-spectral_norm``
    and the others ``spectral_norm`` times a two-digit decimal in ``[-1, 1]``; in
    the other half (extremal noise) every entry is ``+-spectral_norm``.  ``Q`` is
    the identity for ``"aligned"`` noise, which then shares the eigenvectors of a
    diagonal ground truth.  For ``"rotated"`` noise it is a product of one or two
    exact Householder reflections built from integer vectors, so every entry of
    ``E`` is rational and its eigenvalues are exactly the diagonal of ``D``.  ``"low_rank"`` keeps only
    ``k <= n/2`` nonzero eigenvalues and rotates.  ``signs="negative"`` makes
    ``E`` negative semidefinite, which pushes target eigenvalues down (below
    zero once ``spectral_norm`` exceeds a small eigenvalue);
    ``signs="positive"`` makes it positive semidefinite.

    Shrinking
    ---------
    Towards aligned extremal noise ``+spectral_norm I``; reflection vectors shrink towards coordinate vectors,
    whose reflections leave ``D`` unchanged.
    """
    norm = _as_fraction(spectral_norm)
    if norm <= 0:
        raise InvalidArgument(f"spectral_norm = {norm} is invalid: it must be positive; pass a positive noise size.")
    if signs not in ("any", "negative", "positive"):
        raise InvalidArgument(f"signs = {signs!r} is invalid; use 'any', 'negative' or 'positive'.")
    kind = draw(st.sampled_from(kinds))

    sign_draw = {"any": st.sampled_from((1, -1)), "negative": st.just(-1), "positive": st.just(1)}[signs]
    low = {"any": -100, "negative": -100, "positive": 0}[signs]
    high = {"any": 100, "negative": 0, "positive": 100}[signs]
    if draw(st.booleans()):
        # Extremal noise, +-spectral_norm on every eigenvector: where Weyl-type bounds are attained.
        entries = [draw(sign_draw) * norm for _ in range(n)]
    else:
        entries = [Fraction(draw(st.integers(low, high)), 100) * norm for _ in range(n)]
    extreme = draw(st.integers(0, n - 1))
    entries[extreme] = draw(sign_draw) * norm

    if kind == "low_rank":
        keep = draw(st.integers(1, max(1, n // 2)))
        entries = [entry if (j - extreme) % n < keep else Fraction(0) for j, entry in enumerate(entries)]

    rotation = [[Fraction(int(a == b)) for b in range(n)] for a in range(n)]
    if kind != "aligned" and n >= 2:
        reflections = draw(st.integers(1, 2))
        for _ in range(reflections):
            vector = [draw(st.integers(-3, 3)) for _ in range(n)]
            rotation = _multiply(rotation, _householder(vector))

    scaled = [[rotation[a][c] * entries[c] for c in range(n)] for a in range(n)]
    matrix = [[sum((scaled[a][c] * rotation[b][c] for c in range(n)), Fraction(0)) for b in range(n)] for a in range(n)]
    return tuple(tuple(row) for row in matrix)
