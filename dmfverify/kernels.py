r"""Compiled float64 kernels for the scalar recurrence of aligned deep matrix factorization.

For one eigenvalue ``mu`` of the target, depth ``N >= 2``, step size ``eta > 0`` and
initialisation ``alpha > 0``, gradient descent on the aligned factorization reduces to

.. math::

    x_{k+1} = f(x_k) = x_k + \eta\, x_k^{N-1} (\mu - x_k^N), \qquad x_0 = \alpha,

and the product's eigenvalue is ``p_k = x_k^N``.  Two kernels run many such rows at once:

* :func:`run_float64` iterates ``f`` in plain float64 (round to nearest).
* :func:`run_certified` propagates a lower and an upper trajectory with outward rounding.
  In the three monotone regimes below ``f`` is increasing on the interval that contains
  the true trajectory, so ``lo_k <= x_k <= hi_k`` for every ``k``.  Interval evaluation of
  the update (an interval for ``x`` in every term) is not used, because its width grows
  geometrically even while the iteration contracts.

Regime codes of :func:`run_certified`, decided by the caller with exact arithmetic:

1. rising: ``0 < alpha^N <= mu`` and ``S = eta N mu^(2-2/N) <= 1``; ``x`` increases to ``mu^(1/N)``.
2. falling: ``alpha^N > mu > 0`` and ``eta (2N-1) alpha^(2N-2) <= 1``; ``x`` decreases to ``mu^(1/N)``.
3. decaying: ``mu <= 0`` and ``eta alpha^(N-2) ((N-1)|mu| + (2N-1) alpha^N) <= 1``; ``x`` decreases to 0.

Neither kernel stores the trajectory.  Each returns a level-crossing record (the steps at
which the number of levels at or below ``p_k`` changes) and snapshots at chosen steps.

The kernels are compiled with numba on first use and cached on disk: in the folder named
by ``NUMBA_CACHE_DIR`` when it is set, else in ``__pycache__`` next to the source, else
(when that is not writable, as in some installed packages) in numba's user-wide cache
directory.  That is the lookup order of numba 0.68.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from fractions import Fraction

from decimal import Decimal

import numba
import numpy as np

from dmfverify import _kernels_jit as _jit
from dmfverify.errors import CertificationError, InvalidArgument

__all__ = [
    "Status",
    "Regime",
    "Float64Record",
    "CertifiedRecord",
    "NOT_REACHED",
    "UNKNOWN",
    "DIVERGENCE_LIMIT",
    "enclose_float",
    "enclose_root",
    "run_float64",
    "run_certified",
]

logger = logging.getLogger(__name__)

DIVERGENCE_LIMIT: float = _jit.DIVERGENCE_LIMIT
"""A row diverges when an iterate is NaN, infinite or larger than this in absolute value."""

NOT_REACHED = -1
"""Hitting step of a level that no recorded step reached."""

UNKNOWN = -2
"""Hitting step of a level whose crossing may be among the events lost to a full buffer."""

_PARALLEL_MIN_ROWS = 4 * _jit.BLOCK_ROWS  # below this, thread start-up outweighs the gain
_MAX_LOG_MAGNITUDE = math.log(1e300)


class Status(enum.IntEnum):
    """Outcome of one row, stored as int32 in the ``status`` array of a record.

    ``COMPLETED``: ran to the horizon.  ``DIVERGED``: an iterate (or a bound) became NaN,
    infinite or larger than ``DIVERGENCE_LIMIT`` at step ``last_step``.  ``EVENT_OVERFLOW``:
    the event buffer filled, and the events after it were lost; snapshots are still
    complete.  ``STATIONARY``: the state stopped changing exactly at ``last_step``, so
    every later step equals it; snapshots past it repeat the last value.
    ``INCONSISTENT`` (certified kernel only): the lower bound passed the upper bound, which
    happens only when the regime code is wrong or an enclosure misses its exact value.
    :func:`run_certified` raises ``CertificationError`` instead of returning such a row.
    When several apply, ``DIVERGED`` and ``INCONSISTENT`` win over ``EVENT_OVERFLOW``,
    which wins over ``STATIONARY``.
    """

    COMPLETED = _jit.COMPLETED
    DIVERGED = _jit.DIVERGED
    EVENT_OVERFLOW = _jit.EVENT_OVERFLOW
    STATIONARY = _jit.STATIONARY
    INCONSISTENT = _jit.INCONSISTENT


class Regime(enum.IntEnum):
    """Monotone regime of a certified row, with the conditions listed in the module docstring."""

    RISING = _jit.RISING
    FALLING = _jit.FALLING
    DECAYING = _jit.DECAYING


def _first_event_step(event_step: np.ndarray, event_j: np.ndarray, n_events: np.ndarray,
                      status: np.ndarray, level: int) -> np.ndarray:
    """Return per row the first recorded step with ``j > level``, or a sentinel."""
    recorded = np.arange(event_step.shape[1]) < n_events[:, None]
    past = recorded & (event_j > level)
    found = past.any(axis=1)
    first = event_step[np.arange(event_step.shape[0]), past.argmax(axis=1)]
    missing = np.where(status == Status.EVENT_OVERFLOW, UNKNOWN, NOT_REACHED)
    return np.where(found, first, missing).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Float64Record:
    """Level crossings and snapshots of float64 runs, one row per eigenvalue.

    Attributes
    ----------
    event_step, event_j : ndarray of int64, shape (m, max_events)
        Event ``e`` of row ``i`` means that from step ``event_step[i, e]`` on, ``event_j[i, e]``
        levels are ``<= p_k``.  Entries past ``n_events[i]`` are -1.  Event 0 is step 0.
    n_events : ndarray of int64, shape (m,)
        Number of events stored.
    snaps : ndarray of float64, shape (m, S)
        ``p_k`` at ``k = snap_steps[s]``; NaN from the step where the row diverged.
    snap_steps : ndarray of int64, shape (S,)
        The snapshot steps requested.
    status : ndarray of int32, shape (m,)
        A :class:`Status` code.
    last_step : ndarray of int64, shape (m,)
        The horizon, or the step at which the row diverged or became stationary.
    horizon : int
        Number of steps requested.
    """

    event_step: np.ndarray
    event_j: np.ndarray
    n_events: np.ndarray
    snaps: np.ndarray
    snap_steps: np.ndarray
    status: np.ndarray
    last_step: np.ndarray
    horizon: int

    def first_step_reaching(self, level: int) -> np.ndarray:
        """Return per row the first step with ``p_k >= levels[level]``.

        Rows where no recorded step reaches it get ``NOT_REACHED``, or ``UNKNOWN`` when
        the event buffer overflowed.  For a row that diverged, ``NOT_REACHED`` covers only
        the steps before ``last_step``.
        """
        return _first_event_step(self.event_step, self.event_j, self.n_events, self.status, level)


@dataclass(frozen=True, eq=False)
class CertifiedRecord:
    """Level crossings and snapshots of certified enclosures, one row per eigenvalue.

    For every step ``k``, the exact ``p_k`` lies in ``[p_lo_k, p_hi_k]``, where
    ``p_lo_k`` rounds ``lo_k^N`` down and ``p_hi_k`` rounds ``hi_k^N`` up.

    Attributes
    ----------
    event_step, event_j_lo, event_j_hi : ndarray of int64, shape (m, max_events)
        From step ``event_step[i, e]`` on, ``event_j_lo[i, e]`` levels are certainly reached
        (``levels_hi <= p_lo_k``) and ``event_j_hi[i, e]`` possibly reached
        (``levels_lo <= p_hi_k``).  Entries past ``n_events[i]`` are -1.
    n_events : ndarray of int64, shape (m,)
        Number of events stored.
    snaps_lo, snaps_hi : ndarray of float64, shape (m, S)
        ``p_lo_k`` and ``p_hi_k`` at ``k = snap_steps[s]``; NaN after a failure.
    snap_steps : ndarray of int64, shape (S,)
        The snapshot steps requested.
    status : ndarray of int32, shape (m,)
        A :class:`Status` code.
    last_step : ndarray of int64, shape (m,)
        The horizon, or the step at which the row failed or became stationary.
    horizon : int
        Number of steps requested.
    """

    event_step: np.ndarray
    event_j_lo: np.ndarray
    event_j_hi: np.ndarray
    n_events: np.ndarray
    snaps_lo: np.ndarray
    snaps_hi: np.ndarray
    snap_steps: np.ndarray
    status: np.ndarray
    last_step: np.ndarray
    horizon: int

    def hitting_step_bounds(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Return per row ``(earliest, latest)`` with ``earliest <= T <= latest``.

        ``T`` is the exact hitting time ``min{k : p_k >= u}`` of the exact level ``u`` that
        ``[levels_lo[level], levels_hi[level]]`` encloses.  ``earliest`` is the first step
        where the level is possibly reached, ``latest`` the first where it is certainly
        reached.  Missing values are ``NOT_REACHED`` or ``UNKNOWN`` as in
        :meth:`Float64Record.first_step_reaching`.
        """
        earliest = _first_event_step(self.event_step, self.event_j_hi, self.n_events,
                                     self.status, level)
        latest = _first_event_step(self.event_step, self.event_j_lo, self.n_events,
                                   self.status, level)
        return earliest, latest


# ---------------------------------------------------------------------------
# Enclosures of exact values


def _to_fraction(value: Fraction | Decimal | str | int | float, name: str) -> Fraction:
    if isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} is a bool; pass a number or a decimal string.")
    try:
        return Fraction(value)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as error:
        raise InvalidArgument(
            f"{name}={value!r} is not a finite rational number ({error}); pass a Fraction, "
            f"an int, or a decimal string such as '0.1'."
        ) from None


def enclose_float(value: Fraction | Decimal | str | int | float) -> tuple[float, float]:
    """Return the tightest float64 pair ``(lo, hi)`` with ``lo <= value <= hi``.

    ``lo == hi`` exactly when ``value`` is a float64; otherwise ``hi`` is the float after
    ``lo``.  A ``str`` is read exactly as a decimal or ``"p/q"`` fraction, so pass
    ``"0.1"`` rather than ``0.1``: a Python float is taken at its exact binary value.
    Values beyond the largest float64 get ``inf`` as the upper bound.

    Raises
    ------
    InvalidArgument
        If ``value`` is not a finite rational number or rounds to infinity.

    Examples
    --------
    >>> enclose_float("0.1")
    (0.09999999999999999, 0.1)
    >>> enclose_float("0.5")
    (0.5, 0.5)
    >>> enclose_float(0.1)    # the float 0.1 is exact, and slightly above one tenth
    (0.1, 0.1)
    """
    exact = _to_fraction(value, "value")
    try:
        nearest = float(exact)
    except OverflowError:
        raise InvalidArgument(
            f"value={value!r} is beyond the float64 range; rescale the problem."
        ) from None

    nearest_exact = Fraction(nearest)
    if nearest_exact == exact:
        return nearest, nearest
    if nearest_exact < exact:
        return nearest, math.nextafter(nearest, math.inf)
    return math.nextafter(nearest, -math.inf), nearest


def enclose_root(value: Fraction | Decimal | str | int | float, depth: int) -> tuple[float, float]:
    """Return the tightest float64 pair ``(lo, hi)`` with ``lo <= value**(1/depth) <= hi``.

    This encloses the fixed point ``mu^(1/N)`` for :func:`run_certified`.  The bounds are
    checked with exact rational powers, so they are rigorous.

    Raises
    ------
    InvalidArgument
        If ``value`` is negative or not a finite rational number, or ``depth < 1``.

    Examples
    --------
    >>> enclose_root("2", 2)
    (1.414213562373095, 1.4142135623730951)
    >>> enclose_root("0.25", 2)
    (0.5, 0.5)
    """
    exact = _to_fraction(value, "value")
    if exact < 0:
        raise InvalidArgument(f"value={value!r} is negative; its real root is not enclosed here.")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InvalidArgument(f"depth={depth!r} is invalid; pass an integer >= 1.")
    if exact == 0:
        return 0.0, 0.0

    depth = int(depth)
    # The first guess uses logarithms of the numerator and denominator, so it works even
    # where value itself is outside the float64 range.  Exact checks then fix the last ulps.
    log_value = math.log(exact.numerator) - math.log(exact.denominator)
    low = math.exp(log_value / depth)
    if not 0.0 < low < math.inf:
        raise InvalidArgument(f"value={value!r} has its root {depth} outside the float64 range; "
                              f"rescale the problem.")
    while low > 0.0 and Fraction(low) ** depth > exact:
        low = math.nextafter(low, -math.inf)
    high = low
    while Fraction(high) ** depth < exact:
        high = math.nextafter(high, math.inf)
    return low, high


# ---------------------------------------------------------------------------
# Argument validation


def _rows(name: str, value: object, m: int) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array of shape ``(m,)``, exactly converted."""
    array = np.asarray(value)
    if array.ndim == 0:
        array = np.broadcast_to(array, (m,))
    if array.shape != (m,):
        raise InvalidArgument(
            f"{name} has shape {array.shape}, but the other per-row arguments have {m} rows; "
            f"pass one value per row."
        )
    if array.dtype.kind not in "fiu":
        raise InvalidArgument(f"{name} has dtype {array.dtype}; pass real numbers (float64).")

    converted = _exact_float64(name, array)
    if not np.all(np.isfinite(converted)):
        raise InvalidArgument(f"{name} contains NaN or infinity at rows "
                              f"{np.flatnonzero(~np.isfinite(converted))[:5].tolist()}; "
                              f"pass finite values.")
    return converted


def _exact_float64(name: str, array: np.ndarray) -> np.ndarray:
    """Convert to C-contiguous float64, rejecting values that the conversion would round.

    Rounding would silently break an enclosure, as with integers above 2**53 or
    ``np.longdouble`` values.
    """
    converted = np.ascontiguousarray(array, dtype=np.float64)
    if array.dtype != np.float64:
        with np.errstate(invalid="ignore", over="ignore"):
            same = (converted.astype(array.dtype) == array) | np.isnan(converted)
        if not np.all(same):
            raise InvalidArgument(f"{name} holds values that float64 cannot represent exactly; "
                                  f"pass float64 bounds.")
    return converted


def _integer_rows(name: str, value: object, m: int, low: int, high: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 0:
        array = np.broadcast_to(array, (m,))
    if array.shape != (m,):
        raise InvalidArgument(f"{name} has shape {array.shape}, but the other per-row arguments "
                              f"have {m} rows; pass one value per row.")
    if array.dtype.kind not in "iu":
        raise InvalidArgument(f"{name} has dtype {array.dtype}; pass integers.")
    bad = (array < low) | (array > high)
    if np.any(bad):
        raise InvalidArgument(f"{name}={array[bad][0]} at row {np.flatnonzero(bad)[0]} is "
                              f"outside [{low}, {high}]; pass values in that range.")
    return np.ascontiguousarray(array, dtype=np.int64)


def _require(condition: np.ndarray, message: str) -> None:
    """Raise ``InvalidArgument`` naming the first row where ``condition`` fails."""
    bad = np.flatnonzero(~np.asarray(condition))
    if bad.size:
        raise InvalidArgument(f"{message} (first failing row: {bad[0]}).")


def _integer(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} is invalid; pass an integer >= {minimum}.")
    return int(value)


def _levels(name: str, value: object, m: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[0] != m:
        raise InvalidArgument(f"{name} has shape {array.shape}; pass shape ({m}, L), one row "
                              f"of levels per eigenvalue, padded with +inf.")
    if array.dtype.kind != "f":
        raise InvalidArgument(f"{name} has dtype {array.dtype}; pass float64 levels.")
    levels = _exact_float64(name, array)
    _require(~np.isnan(levels).any(axis=1), f"{name} contains NaN; pad with +inf instead")
    _require(np.all(levels[:, 1:] >= levels[:, :-1], axis=1),
             f"{name} is not ascending along each row; sort every row")
    return levels


def _snap_steps(value: object, horizon: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise InvalidArgument(f"snap_steps has shape {array.shape} and dtype {array.dtype}; "
                              f"pass a 1-D integer array.")
    steps = np.ascontiguousarray(array, dtype=np.int64)
    if steps.size and (steps[0] < 0 or steps[-1] > horizon or np.any(np.diff(steps) < 0)):
        raise InvalidArgument(f"snap_steps must be ascending within [0, horizon={horizon}]; "
                              f"got values from {steps.min()} to {steps.max()}.")
    return steps


def _use_parallel(parallel: bool | None, m: int) -> bool:
    if parallel is None:
        return m >= _PARALLEL_MIN_ROWS and numba.get_num_threads() > 1
    return bool(parallel)


def _event_buffers(m: int, max_events: int, count: int) -> list[np.ndarray]:
    return [np.full((m, max_events), -1, dtype=np.int64) for _ in range(count)]


# ---------------------------------------------------------------------------
# Public kernels


def run_float64(mu: np.ndarray, depth: np.ndarray, alpha: np.ndarray, eta: np.ndarray,
                horizon: int, levels: np.ndarray, snap_steps: np.ndarray,
                max_events: int = 256, *, parallel: bool | None = None) -> Float64Record:
    """Iterate ``x <- x + eta x^(N-1) (mu - x^N)`` in float64 and record level crossings.

    Each row ``i`` starts from ``x_0 = alpha[i]`` and runs steps ``k = 0..horizon`` with
    ``N = depth[i]``.  ``x^(N-1)`` is a product of ``N-2`` multiplications and ``x^N`` one
    more, evaluated as ``x + (eta * x^(N-1)) * (mu - x^N)``, so the bits equal those of
    the same loop in Python floats.  At every step the position ``j = #{levels <= p_k}``
    is tracked, and an event ``(k, j)`` is stored at ``k = 0`` and whenever ``j`` changes.

    Parameters
    ----------
    mu, alpha, eta : array_like of float, shape (m,)
        Eigenvalue, initialisation (``> 0``) and step size (``> 0``) of each row.
        Scalars are broadcast to all rows.
    depth : array_like of int, shape (m,)
        Depth ``N >= 2`` of each row.
    horizon : int
        Last step ``k`` (``>= 0``).
    levels : array_like of float, shape (m, L)
        Ascending levels of ``p`` per row, padded with ``+inf``.
    snap_steps : array_like of int, shape (S,)
        Ascending steps in ``[0, horizon]`` at which ``p_k`` is stored.
    max_events : int
        Capacity of each row's event buffer.  A row that needs more gets
        ``Status.EVENT_OVERFLOW`` and the events after the buffer filled are lost.
    parallel : bool or None
        Spread blocks of rows over numba's threads.  ``None`` does so from 32 rows on,
        when more than one thread is configured.  The default threading layer does not
        support concurrent calls from several Python threads, so pass ``False`` there.

    Returns
    -------
    Float64Record

    Raises
    ------
    InvalidArgument
        If a shape, dtype or value is invalid.

    Examples
    --------
    Depth 2, ``mu = 1``, ``alpha = 0.1``, ``eta = 0.1``: ``p = x^2`` passes 0.3 at step 20.

    >>> record = run_float64([1.0], [2], [0.1], [0.1], horizon=100,
    ...                      levels=[[0.3, 0.9]], snap_steps=[0, 100])
    >>> record.first_step_reaching(0).tolist(), record.first_step_reaching(1).tolist()
    ([20], [34])
    >>> Status(record.status[0]).name, float(record.snaps[0, 1])
    ('COMPLETED', 0.9999999550894666)
    """
    mu_array = np.asarray(mu)
    m = 1 if mu_array.ndim == 0 else mu_array.shape[0]
    mu = _rows("mu", mu, m)
    alpha = _rows("alpha", alpha, m)
    eta = _rows("eta", eta, m)
    depth = _integer_rows("depth", depth, m, 2, 10_000)
    horizon = _integer("horizon", horizon, 0)
    max_events = _integer("max_events", max_events, 1)
    levels = _levels("levels", levels, m)
    snap_steps = _snap_steps(snap_steps, horizon)
    _require(alpha > 0, "alpha must be positive")
    _require(eta > 0, "eta must be positive")

    event_step, event_j = _event_buffers(m, max_events, 2)
    n_events = np.zeros(m, dtype=np.int64)
    snaps = np.full((m, snap_steps.size), np.nan)
    status = np.zeros(m, dtype=np.int32)
    last_step = np.zeros(m, dtype=np.int64)

    use_parallel = _use_parallel(parallel, m)
    logger.debug("run_float64: %d rows, horizon %d, parallel=%s", m, horizon, use_parallel)
    kernel = _jit.float64_rows_parallel if use_parallel else _jit.float64_rows
    kernel(mu, depth, alpha, eta, horizon, levels, snap_steps, event_step, event_j, n_events,
           snaps, status, last_step)
    return Float64Record(event_step, event_j, n_events, snaps, snap_steps, status, last_step,
                         horizon)


def _check_regimes(regime, mu_lo, mu_hi, depth, alpha_lo, alpha_hi, fp_lo, fp_hi) -> None:
    """Reject rows whose enclosures contradict their regime code (a necessary check only)."""
    rising = regime == Regime.RISING
    falling = regime == Regime.FALLING
    decaying = regime == Regime.DECAYING
    _require(~(rising | falling) | (mu_hi > 0),
             "regimes 1 and 2 need a positive eigenvalue, but mu_hi <= 0")
    _require(~rising | (alpha_lo <= fp_hi),
             "regime 1 needs alpha <= mu^(1/N), but alpha_lo > fp_hi")
    _require(~falling | (alpha_hi >= fp_lo),
             "regime 2 needs alpha > mu^(1/N), but alpha_hi < fp_lo")
    _require(~decaying | ((mu_lo <= 0) & (fp_lo == 0)),
             "regime 3 needs mu <= 0 and the fixed point 0, but mu_lo > 0 or fp_lo > 0")

    # Powers up to x^(2N-1) of the largest bound must stay far inside the float64 range.
    largest = np.maximum(alpha_hi, fp_hi)
    with np.errstate(divide="ignore"):
        log_power = (2 * depth - 1) * np.log(largest)
    _require(log_power < _MAX_LOG_MAGNITUDE,
             "max(alpha_hi, fp_hi)^(2N-1) exceeds 1e300, outside the float64 range; "
             "rescale the problem")


def run_certified(mu_lo: np.ndarray, mu_hi: np.ndarray, depth: np.ndarray,
                  alpha_lo: np.ndarray, alpha_hi: np.ndarray, eta_lo: np.ndarray,
                  eta_hi: np.ndarray, fp_lo: np.ndarray, fp_hi: np.ndarray,
                  regime: np.ndarray, horizon: int, levels_lo: np.ndarray,
                  levels_hi: np.ndarray, snap_steps: np.ndarray, max_events: int = 256, *,
                  parallel: bool | None = None) -> CertifiedRecord:
    """Enclose the exact trajectories of monotone rows with outward-rounded float64 bounds.

    For each row, the exact ``mu``, ``alpha`` and ``eta`` lie in ``[*_lo, *_hi]`` and the
    exact fixed point (``mu^(1/N)`` in regimes 1 and 2, ``0`` in regime 3) lies in
    ``[fp_lo, fp_hi]``.  The caller certifies the regime's condition for the exact values.
    The kernel then propagates ``lo_{k+1} = down(f_lower(lo_k))`` and
    ``hi_{k+1} = up(f_upper(hi_k))``, where ``f_lower`` and ``f_upper`` take the parameter
    endpoints that make ``f`` smallest and largest (sign-aware for ``eta``), and every
    operation is rounded outward.  Because ``f`` is increasing where the exact trajectory
    lies, ``lo_k <= x_k <= hi_k`` for all ``k``.  The bounds are clamped with facts that
    hold in each regime: the trajectory is monotone and never crosses its fixed point.
    In regimes 2 and 3, an upper bound above ``alpha_lo`` may lie outside the increasing
    region.  There a mean-value bound on ``-f'`` widens the step instead.

    An event ``(k, j_lo, j_hi)`` is stored at ``k = 0`` and whenever either index changes,
    with ``j_lo = #{levels_hi <= p_lo_k}`` and ``j_hi = #{levels_lo <= p_hi_k}``.

    Parameters
    ----------
    mu_lo, mu_hi, alpha_lo, alpha_hi, eta_lo, eta_hi, fp_lo, fp_hi : array_like of float, shape (m,)
        Outward-rounded enclosures, for instance from :func:`enclose_float` and
        :func:`enclose_root`.  ``alpha_lo``, ``eta_lo > 0`` and ``fp_lo >= 0``.
    depth : array_like of int, shape (m,)
        Depth ``N >= 2``.
    regime : array_like of int, shape (m,)
        A :class:`Regime` code (1, 2 or 3) per row.
    horizon, snap_steps, max_events, parallel
        As in :func:`run_float64`.
    levels_lo, levels_hi : array_like of float, shape (m, L)
        Ascending enclosures ``levels_lo <= u <= levels_hi`` of exact levels ``u``.

    Returns
    -------
    CertifiedRecord

    Raises
    ------
    InvalidArgument
        If a shape, dtype or value is invalid, a lower bound exceeds its upper bound, or
        an enclosure contradicts the row's regime.
    CertificationError
        If the bounds cross during the run, which proves that a regime code or an
        enclosure is wrong.

    Examples
    --------
    The hitting time of ``p = x^2 >= 0.3`` for ``mu = 1``, ``alpha = eta = 0.1`` (all exact
    decimals) is certified to be step 20.

    >>> lo, hi = enclose_float("0.1")
    >>> u_lo, u_hi = enclose_float("0.3")
    >>> record = run_certified([1.0], [1.0], [2], [lo], [hi], [lo], [hi], [1.0], [1.0],
    ...                        [Regime.RISING], 100, [[u_lo]], [[u_hi]], [100])
    >>> [bound.tolist() for bound in record.hitting_step_bounds(0)]
    [[20], [20]]
    >>> float(record.snaps_hi[0, 0] - record.snaps_lo[0, 0]) < 1e-14    # width of p_100
    True
    """
    mu_lo_array = np.asarray(mu_lo)
    m = 1 if mu_lo_array.ndim == 0 else mu_lo_array.shape[0]
    bounds = {name: _rows(name, value, m) for name, value in [
        ("mu_lo", mu_lo), ("mu_hi", mu_hi), ("alpha_lo", alpha_lo), ("alpha_hi", alpha_hi),
        ("eta_lo", eta_lo), ("eta_hi", eta_hi), ("fp_lo", fp_lo), ("fp_hi", fp_hi)]}
    depth = _integer_rows("depth", depth, m, 2, 10_000)
    regime = _integer_rows("regime", regime, m, 1, 3).astype(np.int32)
    horizon = _integer("horizon", horizon, 0)
    max_events = _integer("max_events", max_events, 1)
    levels_lo = _levels("levels_lo", levels_lo, m)
    levels_hi = _levels("levels_hi", levels_hi, m)
    snap_steps = _snap_steps(snap_steps, horizon)

    for name in ("mu", "alpha", "eta", "fp"):
        _require(bounds[f"{name}_lo"] <= bounds[f"{name}_hi"],
                 f"{name}_lo exceeds {name}_hi; pass an enclosure with lo <= hi")
    if levels_lo.shape != levels_hi.shape:
        raise InvalidArgument(f"levels_lo has shape {levels_lo.shape} but levels_hi has "
                              f"{levels_hi.shape}; pass enclosures of the same levels.")
    _require(np.all(levels_lo <= levels_hi, axis=1),
             "levels_lo exceeds levels_hi; pass enclosures with lo <= hi")
    _require(bounds["alpha_lo"] > 0, "alpha_lo must be positive")
    _require(bounds["eta_lo"] > 0, "eta_lo must be positive")
    _require(bounds["fp_lo"] >= 0, "fp_lo must be nonnegative")
    _check_regimes(regime, bounds["mu_lo"], bounds["mu_hi"], depth, bounds["alpha_lo"],
                   bounds["alpha_hi"], bounds["fp_lo"], bounds["fp_hi"])

    event_step, event_j_lo, event_j_hi = _event_buffers(m, max_events, 3)
    n_events = np.zeros(m, dtype=np.int64)
    snaps_lo = np.full((m, snap_steps.size), np.nan)
    snaps_hi = np.full((m, snap_steps.size), np.nan)
    status = np.zeros(m, dtype=np.int32)
    last_step = np.zeros(m, dtype=np.int64)

    use_parallel = _use_parallel(parallel, m)
    logger.debug("run_certified: %d rows, horizon %d, parallel=%s", m, horizon, use_parallel)
    kernel = _jit.certified_rows_parallel if use_parallel else _jit.certified_rows
    kernel(bounds["mu_lo"], bounds["mu_hi"], depth, bounds["alpha_lo"], bounds["alpha_hi"],
           bounds["eta_lo"], bounds["eta_hi"], bounds["fp_lo"], bounds["fp_hi"], regime, horizon,
           levels_lo, levels_hi, snap_steps, event_step, event_j_lo, event_j_hi, n_events,
           snaps_lo, snaps_hi, status, last_step)
    failed = np.flatnonzero(status == Status.INCONSISTENT)
    if failed.size:
        raise CertificationError(
            f"the lower bound passed the upper bound at step {last_step[failed[0]]} of rows "
            f"{failed[:10].tolist()}, so the inputs are inconsistent: check each row's regime "
            f"code against its exact parameters, and that every enclosure contains its value."
        )
    return CertifiedRecord(event_step, event_j_lo, event_j_hi, n_events, snaps_lo, snaps_hi,
                           snap_steps, status, last_step, horizon)
