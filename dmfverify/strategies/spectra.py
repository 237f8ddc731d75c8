r"""Ground-truth spectra ``lambda_1 >= ... >= lambda_n >= 0`` drawn in several shapes.

The shapes are geometric decay ``rho^(i-1)``, polynomial decay ``i^(-p)``,
clusters, exactly repeated values, exact zeros, a near-degenerate gap
``lambda_(r+1) = lambda_r (1 - 10^-j)`` and condition numbers up to ``1e12``.
Every eigenvalue is an exact :class:`~fractions.Fraction`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.strategies.decimal_draws import _as_fraction, _round_significant, decimals, log_uniform_decimals

__all__ = ["SPECTRUM_KINDS", "spectra"]


#: Spectrum shapes, simplest first (``sampled_from`` shrinks towards the first).
SPECTRUM_KINDS = ("geometric", "polynomial", "clustered", "repeated", "zeros", "near_degenerate", "ill_conditioned")


def _shape(kind: str, n: int, draw) -> list[Fraction]:
    """Return a non-increasing spectrum shape with top value 1 (before zeros, gaps and the condition cap)."""
    if kind == "geometric":
        ratio = draw(log_uniform_decimals("0.01", "0.95", digits=2, shrink_towards="min"))
        return [ratio**j for j in range(n)]

    if kind == "polynomial":
        power = draw(decimals("0.5", "4", digits=2))
        return [_round_significant(float(j + 1) ** -float(power), 6) for j in range(n)]

    if kind == "clustered":
        clusters = draw(st.integers(1, max(1, min(3, n))))
        centres = sorted((draw(log_uniform_decimals("0.001", "1", digits=2, shrink_towards="max")) for _ in range(clusters)), reverse=True)
        centres[0] = Fraction(1)
        spread = draw(log_uniform_decimals("1e-9", "0.01", digits=1, shrink_towards="max"))
        values = []
        for j in range(n):
            centre = centres[j * clusters // n]
            offset = draw(st.integers(0, 9)) if j > 0 else 0
            values.append(centre * (1 - spread * offset))
        return sorted(values, reverse=True)

    if kind == "repeated":
        distinct = draw(st.integers(1, max(1, n - 1)))
        levels = [Fraction(1)] + sorted((draw(log_uniform_decimals("0.001", "0.99", digits=2)) for _ in range(distinct - 1)), reverse=True)
        counts = [1] * distinct
        for _ in range(n - distinct):
            counts[draw(st.integers(0, distinct - 1))] += 1
        return [level for level, count in zip(levels, counts) for _ in range(count)]

    if kind == "near_degenerate":
        ratio = draw(log_uniform_decimals("0.05", "0.9", digits=2, shrink_towards="min"))
        values = [ratio**j for j in range(n)]
        if n >= 2:
            boundary = draw(st.integers(1, n - 1))
            closeness = Fraction(1, 10 ** draw(st.integers(1, 12)))
            values[boundary] = values[boundary - 1] * (1 - closeness)
            for j in range(boundary + 1, n):
                values[j] = min(values[j], values[boundary])
        return values

    if kind == "ill_conditioned":
        condition = draw(log_uniform_decimals("1e3", "1e12", digits=1, shrink_towards="min"))
        if n == 1:
            return [Fraction(1)]
        # Interior eigenvalues sit at condition^-(1 - t) for positions t in (0, 1), between 1 and 1 / condition.
        positions = sorted((draw(decimals(0, 1, digits=2)) for _ in range(n - 2)), reverse=True)
        values = [Fraction(1)]
        for t in positions:
            values.append(_round_significant(float(condition) ** -(1 - float(t)), 4))
        values.append(1 / condition)
        return values

    if kind == "zeros":
        ratio = draw(log_uniform_decimals("0.05", "0.9", digits=2, shrink_towards="min"))
        zeros = draw(st.integers(1, max(1, n - 1))) if n >= 2 else 0
        return [ratio**j for j in range(n - zeros)] + [Fraction(0)] * zeros

    raise InvalidArgument(f"spectrum kind {kind!r} is unknown; use one of {', '.join(SPECTRUM_KINDS)}.")


@st.composite
def spectra(
    draw,
    *,
    min_size: int = 1,
    max_size: int = 6,
    kinds: tuple[str, ...] = SPECTRUM_KINDS,
    top: Any = 1,
    max_condition: Any = Fraction(10**12),
    rank: int | None = None,
    gap_ratios: tuple[Any, Any] | None = None,
    positive: bool = False,
) -> list[Fraction]:
    r"""Draw a ground-truth spectrum ``lambda_1 >= ... >= lambda_n >= 0`` with ``lambda_1 = top``.

    Shapes (``kinds``): geometric decay ``rho^(i-1)``, polynomial decay
    ``i^(-p)``, clusters of nearly equal values, exactly repeated values, exact
    zeros in the tail, a near-degenerate gap (``lambda_(r+1) = lambda_r (1 - 10^-j)``
    with ``j`` up to 12) and huge condition numbers (up to ``1e12``).

    Parameters
    ----------
    top : number
        ``lambda_1`` (the theory is invariant under scaling, so 1 loses little).
    max_condition : number
        Positive eigenvalues below ``top / max_condition`` are raised to that
        floor (which makes them repeated), so the slowest eigenvalue's learning
        time stays bounded.
    rank, gap_ratios : int and (low, high), optional
        Scale the tail after the condition cap so that ``lambda_rank / lambda_(rank+1)``
        is at least a ratio drawn from ``[low, high]``, because the spectral
        condition of a low-rank phase needs such a gap.  The tail may then fall
        below the cap.  A zero ``lambda_rank`` (possible unless ``positive``)
        leaves the gap as drawn.
    positive : bool
        Replace exact zeros by the condition floor.

    Shrinking
    ---------
    Towards the smallest size, the first kind (geometric), slow decay, few zeros
    and a gap ratio at ``low``.
    """
    top = _as_fraction(top)
    size = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(kinds))
    values = [top * value for value in _shape(kind, size, draw)]

    floor = _round_significant(top / _as_fraction(max_condition), 3, ROUND_CEILING)
    values = [max(value, floor) if (value > 0 or positive) else value for value in values]
    values = sorted(values, reverse=True)

    if rank is not None and gap_ratios is not None and 1 <= rank < size:
        low, high = (_as_fraction(bound) for bound in gap_ratios)
        ratio = draw(log_uniform_decimals(low, high, digits=3))
        scale = values[rank - 1] / (ratio * values[rank]) if values[rank] > 0 else Fraction(1)
        # Rounding down keeps the gap at least ``ratio`` and the tail readable.
        values = values[:rank] + [_round_significant(value * scale, 4, ROUND_FLOOR) for value in values[rank:]]
    return sorted(values, reverse=True)
