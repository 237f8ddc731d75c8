r"""Hypothesis strategies for deep-matrix-factorization instances.

Every number a strategy produces is an exact :class:`~fractions.Fraction` built
from decimal draws (a few significant digits) or from exact rational arithmetic
on them, so a generated :class:`~dmfverify.instance.Instance` serialises to
decimal or ``p/q`` strings and replays bit for bit.

Shrinking follows Hypothesis' rule that integers shrink towards zero and
``sampled_from`` towards its first element; each docstring states what that
means for the generated value.  In short, a shrunk instance has a small size,
depth 2, a simple spectrum shape, little or no noise, the largest allowed
``alpha`` and the step-size number ``S = 1`` when it is allowed: the short runs
and round numbers a person can read.

Two entry points build whole instances:

* :func:`instances` draws from a :class:`Steering` (ranges of every parameter);
* :func:`instances_for` draws inside a theorem's hypotheses, using the steering
  of :func:`steering_for`, so a hunt spends its time on instances that claim
  something instead of filtering most draws out as ``VACUOUS``.

Step sizes are drawn through the step-size number ``S(mu) = eta N mu^(2 - 2/N)``
of a reference eigenvalue, that is relative to the monotone-regime limit
``eta_max = 1 / (N mu^(2 - 2/N))``.

>>> from hypothesis import given, settings
>>> @settings(max_examples=5, database=None)
... @given(instances(max_size=3))
... def test_sizes(instance):
...     assert 1 <= instance.n <= 3
>>> test_sizes()
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import gmpy2
import mpmath
import numpy as np
import sympy
from hypothesis import assume
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance, Matrix
from dmfverify.theorem import HittingTimeBound, Theorem

logger = logging.getLogger(__name__)

__all__ = [
    "SPECTRUM_KINDS", "NOISE_KINDS", "Steering", "decimals", "log_uniform_decimals", "spectra", "noise_matrices", "depths",
    "alphas", "step_size_numbers", "step_size_for", "ranks", "accuracies", "leakage_levels", "instances", "instances_for",
    "steering_for", "parse_steering",
]

#: Spectrum shapes, simplest first (``sampled_from`` shrinks towards the first).
SPECTRUM_KINDS = ("geometric", "polynomial", "clustered", "repeated", "zeros", "near_degenerate", "ill_conditioned")

#: Noise kinds, simplest first: diagonal noise shares the eigenvectors of a diagonal ground truth.
NOISE_KINDS = ("aligned", "rotated", "low_rank")

#: Resolution of the integer draw behind a log-uniform or uniform value.
_GRID = 10_000


# ----------------------------------------------------------------- numbers


def _round_significant(value: Any, digits: int, rounding: str = ROUND_HALF_EVEN) -> Fraction:
    """Round a positive or negative real to ``digits`` significant decimal digits, exactly."""
    if value == 0:
        return Fraction(0)
    text = mpmath.nstr(mpmath.mpf(value), digits + 10, strip_zeros=False) if isinstance(value, mpmath.mpf) else repr(float(value))
    number = Decimal(text)
    exponent = number.adjusted() - digits + 1
    return Fraction(number.quantize(Decimal(1).scaleb(exponent), rounding=rounding))


def _as_fraction(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, str)):
        return Fraction(value)
    return Fraction(Decimal(repr(float(value))))


def decimals(min_value: Any, max_value: Any, *, digits: int = 3) -> st.SearchStrategy[Fraction]:
    """Draw a decimal uniformly from ``[min_value, max_value]`` with ``digits`` significant digits.

    Shrinks towards ``min_value``.  String, int and Fraction bounds are exact,
    and a float bound is read as its shortest decimal repr.
    """
    low, high = _as_fraction(min_value), _as_fraction(max_value)
    if low > high:
        raise InvalidArgument(f"decimals: min_value = {low} exceeds max_value = {high}; swap the bounds.")

    def build(step: int) -> Fraction:
        value = low + (high - low) * Fraction(step, _GRID)
        if step in (0, _GRID) or value == 0:
            return value
        return min(max(_round_significant(value, digits), low), high)

    return st.integers(0, _GRID).map(build)


def log_uniform_decimals(min_value: Any, max_value: Any, *, digits: int = 3, shrink_towards: str = "min") -> st.SearchStrategy[Fraction]:
    """Draw a decimal log-uniformly from ``[min_value, max_value]`` (both > 0) with ``digits`` significant digits.

    Every decade is equally likely, so tiny values such as ``alpha = 1e-6`` come
    up as often as ``0.1``.  Shrinks towards ``min_value`` or, with
    ``shrink_towards="max"``, towards ``max_value``; the endpoint itself is
    returned unrounded.
    """
    low, high = _as_fraction(min_value), _as_fraction(max_value)
    if low <= 0 or low > high:
        raise InvalidArgument(
            f"log_uniform_decimals: the bounds [{low}, {high}] are invalid; they must satisfy 0 < min_value <= max_value."
        )
    if shrink_towards not in ("min", "max"):
        raise InvalidArgument(f"shrink_towards = {shrink_towards!r} is invalid; use 'min' or 'max'.")
    log_low, log_high = math.log(low), math.log(high)

    def build(step: int) -> Fraction:
        if shrink_towards == "max":
            step = _GRID - step
        if step == 0:
            return low
        if step == _GRID:
            return high
        value = math.exp(log_low + (log_high - log_low) * step / _GRID)
        return min(max(_round_significant(value, digits), low), high)

    return st.integers(0, _GRID).map(build)


# ----------------------------------------------------------------- spectra


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


# ------------------------------------------------------------------- noise


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


# ------------------------------------------------------- scalar parameters


def depths(min_depth: int = 2, max_depth: int = 6) -> st.SearchStrategy[int]:
    """Draw a depth ``N`` in ``[min_depth, max_depth]``; shrinks towards ``min_depth``."""
    if min_depth < 2 or min_depth > max_depth:
        raise InvalidArgument(f"depths: [{min_depth}, {max_depth}] is invalid; the depth must satisfy 2 <= min_depth <= max_depth.")
    return st.integers(min_depth, max_depth)


def alphas(min_value: Any = "1e-8", max_value: Any = "1") -> st.SearchStrategy[Fraction]:
    """Draw the initial scale ``alpha`` log-uniformly from ``[min_value, max_value]`` (three significant digits).

    Shrinks towards ``max_value``: a large ``alpha`` gives the shortest runs.
    """
    return log_uniform_decimals(min_value, max_value, digits=3, shrink_towards="max")


def step_size_numbers(min_value: Any = "0.05", max_value: Any = 1, *, above_one: bool = False) -> st.SearchStrategy[Fraction]:
    r"""Draw a step-size number ``S = eta N mu^(2-2/N)`` for the reference eigenvalue.

    Mixes the edge ``S = 1`` exactly (when ``max_value >= 1``), ``S = 1 - 10^-9``
    and log-uniform interior values in ``[min_value, max_value]``.  With
    ``above_one`` it also draws ``S = 1 + 10^-j`` (``j`` in 3..9), just past the
    monotone regime.  Shrinks towards ``S = 1`` (or ``max_value`` when it is below 1).
    """
    high = _as_fraction(max_value)
    edges = []
    if high >= 1:
        edges = [st.just(Fraction(1)), st.just(1 - Fraction(1, 10**9))]
    interior = log_uniform_decimals(min_value, high, digits=3, shrink_towards="max")
    choices = edges + [interior, interior, interior, interior]
    if above_one:
        choices.append(st.integers(3, 9).map(lambda j: 1 + Fraction(1, 10**j)))
    return st.one_of(*choices)


def _exact_power(mu: Fraction, depth: int) -> Fraction | None:
    """Return ``mu^(2 - 2/N)`` when it is rational, else None."""
    exponent_numerator, exponent_denominator = 2 * depth - 2, depth
    common = math.gcd(exponent_numerator, exponent_denominator)
    exponent_numerator //= common
    exponent_denominator //= common
    roots = []
    for part in (mu.numerator, mu.denominator):
        root, exact = gmpy2.iroot(gmpy2.mpz(part), exponent_denominator)
        if not exact:
            return None
        roots.append(int(root))
    return Fraction(roots[0], roots[1]) ** exponent_numerator


def step_size_for(S: Any, mu: Any, depth: int) -> Fraction:
    r"""Return the step size ``eta = S / (N mu^(2 - 2/N))`` as an exact number.

    Exact when ``mu^(2-2/N)`` is rational (for example ``mu = 1``); otherwise
    rounded to 15 significant digits downwards for ``S <= 1``, so that
    ``S(mu) <= S`` is exact, and upwards for ``S > 1``.

    >>> step_size_for(1, 1, 3)
    Fraction(1, 3)
    >>> float(step_size_for("0.5", 2, 2))
    0.125
    """
    S, mu = _as_fraction(S), _as_fraction(mu)
    if mu <= 0 or S <= 0:
        raise InvalidArgument(f"step_size_for: S = {S} and mu = {mu} must both be positive; pass the top positive eigenvalue.")
    exact = _exact_power(mu, depth)
    if exact is not None:
        return S / (depth * exact)
    with mpmath.workdps(40):
        value = mpmath.mpf(S.numerator) / S.denominator / (depth * (mpmath.mpf(mu.numerator) / mu.denominator) ** (mpmath.mpf(2 * depth - 2) / depth))
        return _round_significant(value, 15, ROUND_FLOOR if S <= 1 else ROUND_CEILING)


def ranks(n: int) -> st.SearchStrategy[int]:
    """Draw a rank ``r`` in ``[1, n - 1]``; shrinks towards 1."""
    if n < 2:
        raise InvalidArgument(f"ranks: n = {n} is too small; a low-rank phase needs n >= 2.")
    return st.integers(1, n - 1)


def accuracies(min_value: Any = "0.001", max_value: Any = "0.3") -> st.SearchStrategy[Fraction]:
    """Draw the accuracy ``eps`` log-uniformly from ``[min_value, max_value]``; shrinks towards ``max_value`` (easiest to reach)."""
    return log_uniform_decimals(min_value, max_value, digits=2, shrink_towards="max")


def leakage_levels(floor: Any, ceiling: Any) -> st.SearchStrategy[Fraction]:
    r"""Draw the leakage level ``delta`` strictly inside ``(floor, ceiling)``, log-uniformly in the middle 90%.

    ``floor`` is ``alpha^N`` (where every product eigenvalue starts) and
    ``ceiling`` typically ``v*(lambda_(r+1))``.  Shrinks towards the geometric
    mean's upper side, the largest allowed level.
    """
    low, high = _as_fraction(floor), _as_fraction(ceiling)
    if not 0 < low < high:
        raise InvalidArgument(f"leakage_levels: ({low}, {high}) is empty; the ceiling must exceed the positive floor.")
    log_low, log_high = math.log(low), math.log(high)

    def build(step: int) -> Fraction:
        t = 0.95 - 0.9 * step / _GRID
        value = _round_significant(math.exp(log_low + t * (log_high - log_low)), 3)
        return min(max(value, low * Fraction(1001, 1000)), high * Fraction(999, 1000))

    return st.integers(0, _GRID).map(build)


# -------------------------------------------------------------- instances


@dataclass(frozen=True)
class Steering:
    r"""Ranges from which :func:`instances` draws one instance.

    Attributes
    ----------
    min_size, max_size : int
        Range of the matrix size ``n``.
    min_depth, max_depth : int
        Range of the depth ``N``.
    spectrum_kinds : tuple of str
        Spectrum shapes (see :func:`spectra`).
    noise : {"any", "none", "required"}
        Whether the target carries noise (``"any"`` shrinks towards none).
    noise_kinds : tuple of str
        Noise kinds (see :func:`noise_matrices`).
    noise_scale : (low, high)
        Range of ``sigma / lambda_1``, or of ``sigma / (lambda_r - lambda_(r+1))``
        when ``noise_relative_to_gap`` is set.
    noise_relative_to_gap : bool
        Measure the noise against the gap at the rank boundary (persistence and
        subspace statements need ``sigma`` below that gap).
    step_size_range : (low, high)
        Range of the step-size number ``S`` of the reference eigenvalue.
    above_one : bool
        Also draw ``S`` just above 1.
    step_reference : {"target", "truth_plus_noise"}
        Reference eigenvalue of ``S``: the top target eigenvalue ``mu_1`` or
        ``lambda_1 + sigma`` (the perturbed statements' condition).
    alpha_ceiling : {"below_all", "above_some", "phase"}
        ``alpha^N`` at most half the smallest positive target eigenvalue (every
        eigenvalue rises), up to ``lambda_1`` (some fall towards their limit),
        or below ``lambda_(r+1) / 100`` (small initialisation, for a phase).
    min_alpha : number
        Smallest ``alpha`` drawn.
    phase : {None, "plain", "spectral"}
        Draw ``rank``, ``eps`` and ``delta``.  ``"spectral"`` also enforces a
        gap ``lambda_r / lambda_(r+1)`` from ``gap_ratios``, so that the spectral
        condition ``T0 < T1`` is likely; when ``min_depth >= 3`` the gap is at
        least ``1.3 (2N-1)/N``, the small-``alpha`` limit of the closed-form condition.
    gap_ratios : (low, high)
        Range of ``lambda_r / lambda_(r+1)`` for ``phase="spectral"``.
    thresholds : {None, "rising", "saturating", "both"}
        Hitting-time levels ``u`` relative to ``mu_1``: below ``v*`` (rising
        part), from ``v*`` up to ``mu_1 (1 - 10^-12)`` (saturating part), or both.
    max_steps : int
        Estimated horizon cap: instances whose slowest positive eigenvalue needs
        more steps to reach 99.9% of itself are rejected (``hypothesis.assume``),
        and the condition number and ``alpha`` are drawn so that this is rare.
    """

    min_size: int = 1
    max_size: int = 6
    min_depth: int = 2
    max_depth: int = 6
    spectrum_kinds: tuple[str, ...] = SPECTRUM_KINDS
    noise: str = "any"
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    noise_scale: tuple[Any, Any] = ("1e-4", "0.5")
    noise_relative_to_gap: bool = False
    step_size_range: tuple[Any, Any] = ("0.05", "1")
    above_one: bool = False
    step_reference: str = "target"
    alpha_ceiling: str = "below_all"
    min_alpha: Any = "1e-8"
    phase: str | None = None
    gap_ratios: tuple[Any, Any] = ("1.5", "30")
    thresholds: str | None = None
    max_steps: int = 30_000

    def __post_init__(self):
        choices = {
            "noise": ("any", "none", "required"),
            "step_reference": ("target", "truth_plus_noise"),
            "alpha_ceiling": ("below_all", "above_some", "phase"),
            "phase": (None, "plain", "spectral"),
            "thresholds": (None, "rising", "saturating", "both"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InvalidArgument(f"Steering.{name} = {getattr(self, name)!r} is invalid; use one of {allowed}.")
        if self.phase is not None and self.max_size < 2:
            raise InvalidArgument(f"Steering.max_size = {self.max_size} is too small for a low-rank phase; use max_size >= 2.")


def _target_eigenvalues(spectrum: list[Fraction], noise: Matrix | None) -> tuple[list[float], list[Fraction] | None]:
    """Return the target eigenvalues in descending order as floats, and exactly when the noise is diagonal."""
    n = len(spectrum)
    if noise is None:
        return [float(value) for value in spectrum], list(spectrum)
    if all(noise[a][b] == 0 for a in range(n) for b in range(n) if a != b):
        exact = sorted((spectrum[j] + noise[j][j] for j in range(n)), reverse=True)
        return [float(value) for value in exact], exact
    matrix = np.diag([float(value) for value in spectrum]) + np.array([[float(entry) for entry in row] for row in noise])
    return sorted(np.linalg.eigvalsh(matrix).tolist(), reverse=True), None


def _alpha_floor(smallest: float, eta: Fraction, depth: int, max_steps: int) -> float:
    """Return the ``alpha`` below which the rising time of ``smallest`` exceeds about half of ``max_steps``."""
    rate = float(eta) * smallest * max_steps / 2
    if depth == 2:
        return math.sqrt(smallest) * math.exp(-min(rate, 600.0))
    return (1.0 / ((depth - 2) * rate)) ** (1.0 / (depth - 2))


def _falling_limit(negative_part: float, eta: Fraction, depth: int) -> float:
    """Return the largest ``alpha`` (to 1%) with ``eta alpha^(N-2) ((N-1) negative_part + (2N-1) alpha^N) <= 1``.

    Above it the update is not monotone on ``[0, alpha]`` for eigenvalues that
    start above their limit, and no certified enclosure exists for them.
    """
    def excess(alpha: float) -> float:
        return float(eta) * alpha ** (depth - 2) * ((depth - 1) * negative_part + (2 * depth - 1) * alpha**depth) - 1

    low, high = 0.0, 1.0
    while excess(high) < 0:
        high *= 2
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) < 0 else (low, middle)
    return 0.99 * low


def _estimated_steps(eigenvalues: list[float], alpha: Fraction, eta: Fraction, depth: int) -> float:
    r"""Return a float over-estimate of the steps every positive eigenvalue needs to reach 99.9% of itself.

    Rising part: ``Phi_mu(v*) <= J(v*) (2N-1) / (N mu)`` with the elementary
    bracket ``J``; saturating part: ``ln((mu - v*) / (mu / 1000)) / (N v*^(2-2/N))``,
    both divided by ``eta``.  Cheap enough to run on every draw.
    """
    start = float(alpha) ** depth
    steps = 0.0
    for value in eigenvalues:
        if value <= 0 or start >= 0.999 * value:
            continue
        peak = (depth - 1) * value / (2 * depth - 1)
        if start < peak:
            if depth == 2:
                bracket = math.log(peak / start) / 2
            else:
                bracket = (start ** ((2 - depth) / depth) - peak ** ((2 - depth) / depth)) / (depth - 2)
            rising = bracket * (2 * depth - 1) / (depth * value)
        else:
            rising = 0.0
        saturating = math.log(1000 * depth / (2 * depth - 1)) / (depth * peak ** (2 - 2 / depth))
        steps = max(steps, (rising + saturating) / float(eta))
    return steps


def _levels(draw, mode: str, top: float, top_exact: Fraction | None, start: Fraction, depth: int) -> tuple[Fraction, ...]:
    """Draw one to three hitting-time levels relative to the top eigenvalue."""
    peak_fraction = Fraction(depth - 1, 2 * depth - 1)
    reference = top_exact if top_exact is not None else _as_fraction(top)
    lowest = start / reference * Fraction(3, 2)
    levels = []
    for _ in range(draw(st.integers(1, 3))):
        part = mode if mode != "both" else draw(st.sampled_from(("rising", "saturating")))
        if part == "rising" and lowest < peak_fraction:
            fraction = draw(st.one_of(st.just(peak_fraction), log_uniform_decimals(lowest, peak_fraction, digits=3, shrink_towards="max")))
        else:
            near_limit = st.integers(1, 12).map(lambda j: 1 - Fraction(1, 10**j))
            fraction = draw(st.one_of(st.just(peak_fraction), decimals(peak_fraction, "0.99", digits=3), near_limit))
        level = fraction * reference
        if top_exact is None:
            level = _round_significant(level, 15, ROUND_FLOOR)
        if level > start:
            levels.append(level)
    return tuple(sorted(set(levels)))


@st.composite
def _instances(draw, steering: Steering) -> Instance:
    depth = draw(depths(steering.min_depth, steering.max_depth))
    S = draw(step_size_numbers(*steering.step_size_range, above_one=steering.above_one))

    # Cap the condition number so that the slowest eigenvalue saturates within the step budget:
    # near its limit it needs about ln(1000) / S(lambda_n) steps, and S(lambda_n) = S kappa^-(2-2/N).
    condition = (max(float(S), 0.05) * steering.max_steps / 20) ** (depth / (2 * depth - 2))
    size = draw(st.integers(max(steering.min_size, 2 if steering.phase else 1), steering.max_size))
    rank = draw(ranks(size)) if steering.phase else None
    gap_ratios = None
    if steering.phase == "spectral":
        low, high = (_as_fraction(bound) for bound in steering.gap_ratios)
        if depth >= 3 and steering.min_depth >= 3:
            low = max(low, Fraction(2 * depth - 1, depth) * Fraction(13, 10))
        gap_ratios = (low, max(low, high))
    spectrum = draw(spectra(min_size=size, max_size=size, kinds=steering.spectrum_kinds, max_condition=_round_significant(condition, 2),
                            rank=rank, gap_ratios=gap_ratios, positive=steering.phase is not None))

    noise = None
    sigma = Fraction(0)
    wants_noise = steering.noise == "required" or (steering.noise == "any" and draw(st.booleans()))
    if wants_noise:
        if steering.noise_relative_to_gap and rank is not None and spectrum[rank - 1] > spectrum[rank]:
            unit = spectrum[rank - 1] - spectrum[rank]
        else:
            unit = spectrum[0]
        sigma = _round_significant(unit * draw(log_uniform_decimals(*steering.noise_scale, digits=2)), 3)
        signs = draw(st.sampled_from(("any", "negative")))
        noise = draw(noise_matrices(size, sigma, kinds=steering.noise_kinds, signs=signs))

    targets, targets_exact = _target_eigenvalues(spectrum, noise)
    if steering.step_reference == "truth_plus_noise":
        eta = step_size_for(S, spectrum[0] + sigma, depth)
    elif targets_exact is not None and targets_exact[0] > 0:
        eta = step_size_for(S, targets_exact[0], depth)
    else:
        assume(targets[0] > 0)
        # The float eigenvalue may sit a rounding error below the true one: keep S(mu_1) <= S with a margin.
        eta = step_size_for(S * (1 - Fraction(1, 10**12)) if S <= 1 else S, _as_fraction(targets[0]), depth)

    positive = [value for value in targets if value > 0]
    assume(positive)
    smallest = min(positive)
    if steering.alpha_ceiling == "phase" and rank is not None:
        ceiling = (float(spectrum[rank]) / 100) ** (1 / depth)
    elif steering.alpha_ceiling == "above_some":
        ceiling = float(spectrum[0]) ** (1 / depth)
    else:
        ceiling = (smallest / 2) ** (1 / depth)
    if steering.thresholds in ("rising", "both"):
        ceiling = min(ceiling, (targets[0] / 10) ** (1 / depth))
    ceiling = min(ceiling, _falling_limit(max(-min(targets), 0.0), eta, depth))
    floor = max(float(_as_fraction(steering.min_alpha)), _alpha_floor(smallest, eta, depth, steering.max_steps))
    ceiling_exact = _round_significant(ceiling, 3, ROUND_FLOOR)
    floor_exact = min(_round_significant(floor, 3, ROUND_CEILING), ceiling_exact)
    alpha = draw(alphas(floor_exact, ceiling_exact))
    start = alpha**depth

    eps = delta = None
    if steering.phase is not None:
        eps = draw(accuracies("0.01", "0.3"))
        ceiling_delta = Fraction(depth - 1, 2 * depth - 1) * spectrum[rank]
        if start < ceiling_delta:
            delta = draw(leakage_levels(start, ceiling_delta))

    thresholds: tuple[Fraction, ...] = ()
    if steering.thresholds is not None:
        top_exact = targets_exact[0] if targets_exact is not None else None
        thresholds = _levels(draw, steering.thresholds, targets[0], top_exact, start, depth)

    assume(_estimated_steps(targets, alpha, eta, depth) <= steering.max_steps)
    kind = "scalar_hitting_times" if size == 1 and noise is None else "instance"
    return Instance.create(spectrum=spectrum, depth=depth, alpha=alpha, eta=eta, noise=noise, rank=rank, eps=eps, delta=delta,
                           thresholds=thresholds, id="hunt", kind=kind)


def instances(steering: Steering | None = None, **fields: Any) -> st.SearchStrategy[Instance]:
    r"""Draw whole instances with exact parameters (aligned initialisation ``W_j(0) = alpha I``).

    Pass a :class:`Steering` or its fields as keywords (``instances(max_size=3,
    noise="none")``).  The draw order is: depth, step-size number ``S``, size,
    rank, spectrum (condition number capped from ``S`` and ``max_steps``),
    noise, ``eta`` from ``S``, ``alpha`` (log-uniform, floored so the slowest
    eigenvalue is learned within ``max_steps``), ``eps`` and ``delta``, levels.

    Shrinking
    ---------
    Towards depth 2, ``S = 1``, a small geometric spectrum, no noise, the
    largest allowed ``alpha``, rank 1 and the easiest ``eps``.
    """
    base = steering or Steering()
    if fields:
        base = replace(base, **fields)
    return _instances(base)


_PROFILES: dict[str, dict[str, Any]] = {
    "M": dict(alpha_ceiling="above_some"),
    "C": dict(min_size=2),
    "H1": dict(max_size=2, thresholds="rising"),
    "H2": dict(max_size=2, thresholds="saturating"),
    "H3": dict(max_size=2, thresholds="saturating", step_size_range=("0.3", "1")),
    "L1": dict(noise="none", phase="spectral", alpha_ceiling="phase"),
    "L2": dict(noise="none", phase="spectral", alpha_ceiling="phase", min_depth=3),
    "P1": dict(step_reference="truth_plus_noise", alpha_ceiling="above_some"),
    "P2": dict(noise="required", step_reference="truth_plus_noise", alpha_ceiling="above_some"),
    "P3": dict(noise="required", step_reference="truth_plus_noise", noise_scale=("1e-4", "0.3")),
    "Q1": dict(noise="required", phase="spectral", alpha_ceiling="phase", step_reference="truth_plus_noise",
               noise_relative_to_gap=True, noise_scale=("1e-4", "0.3")),
    "Q2": dict(noise="required", phase="plain", noise_relative_to_gap=True, noise_scale=("1e-3", "0.9")),
    "D": dict(),
    "E": dict(min_size=3, phase="spectral", alpha_ceiling="phase"),
    "ER": dict(min_size=2, alpha_ceiling="above_some"),
}


def _theorem_expressions(theorem: Theorem) -> list[sympy.Basic]:
    expressions = [hypothesis.condition for hypothesis in theorem.hypotheses]
    expressions += [derived.expr for derived in theorem.derived]
    for claim in theorem.claims:
        expressions += [hypothesis.condition for hypothesis in claim.hypotheses]
        for name in ("level", "bound", "start", "stop", "observed"):
            value = getattr(claim, name, None)
            if isinstance(value, sympy.Basic):
                expressions.append(value)
    return expressions


def _smallest_depth(theorem: Theorem) -> int:
    """Return the smallest depth at which every hypothesis that depends on ``N`` alone holds."""
    from dmfverify.symbolic import N

    depth_only = [hypothesis.condition for hypothesis in theorem.hypotheses
                  if isinstance(hypothesis.condition, sympy.Basic) and hypothesis.condition.free_symbols == {N}]
    for depth in range(2, 7):
        if all(bool(condition.subs(N, depth)) for condition in depth_only):
            return depth
    return 2


def steering_for(theorem: Theorem) -> Steering:
    r"""Return the :class:`Steering` that draws inside ``theorem``'s hypotheses.

    Catalog theorems (by id) have hand-made profiles.  Hitting-time theorems get
    levels on the part of the trajectory they speak about.  Phase theorems get a
    gap at the rank boundary, a small ``alpha`` and ``delta`` below
    ``v*(lambda_(r+1))``.  Perturbed ones get noise, with ``S`` measured at
    ``lambda_1 + sigma``.  For other theorems the steering is read from the
    statement: required fields, a ``sigma <= 0`` hypothesis (noiseless),
    hypotheses on ``N`` alone (smallest depth), hypotheses that name derived
    quantities such as ``T0 < T1`` (spectral condition), hitting-time claims
    (levels on both parts), and ``lambda`` together with ``sigma`` (perturbed).
    """
    if theorem.id in _PROFILES:
        return Steering(**_PROFILES[theorem.id])

    from dmfverify.symbolic import free_names, sigma

    expressions = _theorem_expressions(theorem)
    names = set().union(*(free_names(expr) for expr in expressions if isinstance(expr, sympy.Basic))) if expressions else set()
    fields: dict[str, Any] = {}

    noiseless = any(hypothesis.condition == sympy.Le(sigma, 0) or (isinstance(hypothesis.condition, sympy.And) and sympy.Le(sigma, 0) in hypothesis.condition.args)
                    for hypothesis in theorem.hypotheses)
    if noiseless:
        fields["noise"] = "none"
    elif "noise" in theorem.requires:
        fields["noise"] = "required"
    if "sigma" in names and "lambda" in names and not noiseless:
        fields["step_reference"] = "truth_plus_noise"

    derived_names = {derived.name for derived in theorem.derived}
    spectral = any(free_names(hypothesis.condition) & derived_names for hypothesis in theorem.hypotheses)
    if {"rank", "eps", "delta"} <= set(theorem.requires) or ("rank" in theorem.requires and spectral):
        fields.update(phase="spectral" if spectral else "plain", alpha_ceiling="phase")
        if fields.get("noise") == "required":
            fields.update(noise_relative_to_gap=True, noise_scale=("1e-4", "0.3"))
    elif "rank" in theorem.requires:
        fields["phase"] = "plain"

    fields["min_depth"] = _smallest_depth(theorem)
    if any(isinstance(claim, HittingTimeBound) and claim.levels == "thresholds" for claim in theorem.claims):
        fields.update(thresholds="both", max_size=2)
    return Steering(**fields)


def _instance_steps(instance: Instance) -> float:
    targets = np.linalg.eigvalsh(instance.target_array()).tolist()
    return _estimated_steps(targets, instance.alpha, instance.eta, instance.depth)


def _repair(theorem: Theorem, instance: Instance, max_steps: int) -> Instance:
    """Return the first of a few modified instances on which the theorem's hypotheses hold (else the instance itself).

    The candidates, tried in order, are the instance, ``alpha`` divided by 10
    and by 100, and the spectrum below the rank boundary (with ``delta``)
    divided by 2, 4 and 8.  A smaller initialisation separates the learning
    times of the eigenvalues and a wider gap separates the rates, which is
    what a spectral condition ``T0 < T1`` requires.  Candidates whose
    estimated horizon exceeds ``max_steps`` are skipped.
    """
    from dmfverify.checker import derived_values
    from dmfverify.errors import DmfverifyError

    candidates = [instance] + [instance.with_changes(alpha=instance.alpha / factor) for factor in (10, 100)]
    if instance.rank is not None and instance.spectrum is not None and instance.delta is not None:
        head, tail = list(instance.spectrum[:instance.rank]), list(instance.spectrum[instance.rank:])
        for factor in (2, 4, 8):
            candidates.append(instance.with_changes(spectrum=head + [value / factor for value in tail], delta=instance.delta / factor))

    for candidate in candidates:
        if candidate is not instance and _instance_steps(candidate) > max_steps:
            continue
        try:
            values = derived_values(theorem, candidate)
        except (DmfverifyError, ArithmeticError, ValueError, TypeError) as error:
            # A candidate whose derived quantities cannot be evaluated is skipped; the check itself reports such errors.
            logger.debug("repair candidate for %s skipped: %s: %s", theorem.id, type(error).__name__, error)
            continue
        if values is not None and values["hypotheses_hold"]:
            return candidate
    return instance


def instances_for(theorem: Theorem, **overrides: Any) -> st.SearchStrategy[Instance]:
    """Draw instances inside ``theorem``'s hypotheses (see :func:`steering_for`); keywords override steering fields.

    For a theorem whose hypotheses name derived quantities (a spectral
    condition such as ``T0 < T1``), each drawn instance is repaired towards the
    hypotheses by the deterministic modifications of :func:`_repair`, so that
    few draws end up ``VACUOUS``.  Shrinking is unchanged: it acts on the draw.
    """
    steering = replace(steering_for(theorem), **overrides) if overrides else steering_for(theorem)
    strategy = instances(steering)
    derived_names = {derived.name for derived in theorem.derived}
    from dmfverify.symbolic import free_names

    if any(free_names(hypothesis.condition) & derived_names for hypothesis in theorem.hypotheses):
        return strategy.map(lambda instance: _repair(theorem, instance, steering.max_steps))
    return strategy


def parse_steering(pairs: list[str]) -> dict[str, Any]:
    """Parse ``FIELD=VALUE`` strings into :class:`Steering` overrides (the command line's ``--steer``).

    Integer fields take integers, boolean fields ``true``/``false``, range fields
    two comma-separated numbers, and ``phase``/``thresholds`` take ``none`` for None.

    >>> parse_steering(["max_size=3", "noise=none", "step_size_range=0.9,1", "phase=none"])
    {'max_size': 3, 'noise': 'none', 'step_size_range': ('0.9', '1'), 'phase': None}
    """
    defaults = {name: spec.default for name, spec in Steering.__dataclass_fields__.items()}
    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not separator or name not in defaults:
            raise InvalidArgument(f"steering {pair!r} is invalid; write FIELD=VALUE with FIELD one of {', '.join(defaults)}.")
        default = defaults[name]
        if isinstance(default, bool):
            if text.lower() not in ("true", "false"):
                raise InvalidArgument(f"steering {name} = {text!r} is invalid; write true or false.")
            overrides[name] = text.lower() == "true"
        elif isinstance(default, int):
            try:
                overrides[name] = int(text)
            except ValueError:
                raise InvalidArgument(f"steering {name} = {text!r} is invalid; write an integer.") from None
        elif isinstance(default, tuple):
            overrides[name] = tuple(part.strip() for part in text.split(","))
        elif name in ("phase", "thresholds") and text.lower() == "none":
            overrides[name] = None
        else:
            overrides[name] = text
    replace(Steering(), **overrides)
    return overrides
