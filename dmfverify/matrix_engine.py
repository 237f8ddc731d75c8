"""Full factor-wise gradient descent on deep matrix factorization.

For factors ``W_1, ..., W_N`` (all ``n x n``), product ``W = W_N ... W_1`` and target
``Mhat``, one step of gradient descent on ``L = 1/2 ||W - Mhat||_F^2`` updates every
factor at once::

    W_j <- W_j - eta (W_N ... W_{j+1})^T (W - Mhat) (W_{j-1} ... W_1)^T.

Unlike the scalar engine, this engine assumes nothing about the initialisation or
the target: random, orthogonal and unbalanced starts and non-symmetric noise are
all simulated as they are.  On the aligned initialisation ``W_j(0) = alpha I`` it
must reproduce the scalar recurrence ``x <- x + eta x^(N-1) (mu - x^N)`` for every
eigenvalue ``mu`` of a symmetric target, which the test suite checks.

Cost per step: ``N - 1`` products for the prefixes ``P_j = W_j ... W_1``, ``N - 1``
for the backward chain ``C_j = (W_N ... W_{j+1})^T (eta G)`` with ``G = W - Mhat``,
and ``N - 1`` for the gradients ``C_j P_{j-1}^T``: ``3N - 3`` matrix products in
preallocated buffers.  Spectra are computed only at the recorded steps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import mpmath
import numpy as np

from dmfverify.errors import DivergenceError, InvalidArgument
from dmfverify.initialisation import Arithmetic, Initialisation
from dmfverify.observables import matrix_spectra
from dmfverify.validation import check_depth, check_positive, check_square_matrix

__all__ = [
    "MatrixRun",
    "StepRecord",
    "run_matrix_gd",
    "schedule_steps",
    "EVERY_STEP_LIMIT",
    "GEOMETRIC_POINTS",
    "DIVERGENCE_NORM",
]

logger = logging.getLogger(__name__)

#: ``schedule="auto"`` records every step up to this horizon and a geometric grid beyond.
EVERY_STEP_LIMIT = 2000

#: Number of geometrically spaced steps of ``schedule="geometric"`` (before duplicates merge).
GEOMETRIC_POINTS = 200

Schedule = Literal["every", "geometric", "auto"] | Sequence[int] | np.ndarray

#: A run diverges when ``||W - Mhat||_F`` or a factor's Frobenius norm exceeds this.
DIVERGENCE_NORM = 1e150

#: The float64 engine tests factor norms every this many steps (the loss at every step).
FACTOR_CHECK_PERIOD = 64


@dataclass(frozen=True)
class StepRecord:
    """Observables of one recorded step, passed to the ``stop`` callback.

    Attributes
    ----------
    step : int
        Number of gradient steps taken so far (0 is the initialisation).
    eigenvalues : numpy.ndarray or None
        Eigenvalues of the product in descending order, or ``None`` when the
        product is not symmetric up to rounding at this step.
    singular_values : numpy.ndarray
        Singular values of the product in descending order.
    loss : float or mpmath.mpf
        ``1/2 ||W - Mhat||_F^2``.
    symmetric : bool
        Whether the product is symmetric up to rounding at this step.
    """

    step: int
    eigenvalues: np.ndarray | None
    singular_values: np.ndarray
    loss: Any
    symmetric: bool


@dataclass(frozen=True, eq=False)
class MatrixRun:
    """Recorded trajectory of one matrix gradient-descent run.

    The arrays have one row per recorded step.  In float64 runs they hold
    float64 values; in mpmath runs they are object arrays of ``mpmath.mpf`` at
    the working precision.  The recorded arrays are read-only.

    Attributes
    ----------
    steps : numpy.ndarray of int64, shape (K,)
        Recorded step numbers, increasing; step 0 is the initialisation.
    eigenvalues : numpy.ndarray, shape (K, n)
        Eigenvalues of the symmetric part ``(W + W^T) / 2`` in descending order
        at the steps where the product is symmetric up to rounding, and NaN in
        the rows of the other steps.
    singular_values : numpy.ndarray, shape (K, n)
        Singular values of the product in descending order, at every recorded
        step.  At symmetric steps they are the sorted absolute eigenvalues.
    loss : numpy.ndarray, shape (K,)
        ``1/2 ||W - Mhat||_F^2`` at each recorded step.
    products : numpy.ndarray of shape (K, n, n), or None
        The product ``W`` at each recorded step, kept only when requested.
    factors : tuple
        Factors ``(W_1, ..., W_N)`` after ``final_step`` steps: numpy arrays or
        ``mpmath.matrix`` objects, owned by the caller.
    arithmetic : {"float64", "mpmath"}
        Arithmetic of the run.
    precision : int
        Working precision: ``dps`` for mpmath, 53 (the float64 significand) for float64.
    precision_unit : {"digits", "bits"}
        Unit of ``precision``: decimal digits for mpmath, bits for float64.
    symmetric : bool
        Whether the product was symmetric up to rounding at every recorded step
        (True when no step was recorded).
    symmetric_steps : numpy.ndarray of bool, shape (K,)
        The same test for each recorded step.
    final_step : int
        Step at which the run ended: the horizon, or the step at which ``stop``
        returned True.
    stopped_early : bool
        Whether the ``stop`` callback ended the run before the horizon.
    """

    steps: np.ndarray
    eigenvalues: np.ndarray
    singular_values: np.ndarray
    loss: np.ndarray
    products: np.ndarray | None
    factors: tuple[Any, ...]
    arithmetic: Arithmetic
    precision: int
    precision_unit: Literal["digits", "bits"]
    symmetric: bool
    symmetric_steps: np.ndarray
    final_step: int
    stopped_early: bool

    def __repr__(self) -> str:
        final_loss = "n/a" if self.loss.size == 0 else _short(self.loss[-1])
        return (
            f"MatrixRun(arithmetic={self.arithmetic!r}, precision={self.precision} {self.precision_unit}, "
            f"n={self.n}, depth={self.depth}, recorded_steps={self.steps.size}, final_step={self.final_step}, "
            f"stopped_early={self.stopped_early}, symmetric={self.symmetric}, final_loss={final_loss})"
        )

    @property
    def n(self) -> int:
        """Size of the square factors."""
        return int(self.eigenvalues.shape[1])

    @property
    def depth(self) -> int:
        """Number of factors ``N``."""
        return len(self.factors)

    def eigenvalue_trajectory(self, i: int) -> np.ndarray:
        """Return the ``i``-th largest eigenvalue (``i`` counted from 0) at every recorded step.

        The eigenvalues are sorted at each step, so this follows a rank in the
        spectrum, not an eigenvector: when two trajectories cross, their values
        swap rows.  Steps where the product is not symmetric give NaN.

        Raises
        ------
        InvalidArgument
            If ``i`` is not in ``0 .. n - 1``.
        """
        return self.eigenvalues[:, self._check_index(i)]

    def singular_value_trajectory(self, i: int) -> np.ndarray:
        """Return the ``i``-th largest singular value (``i`` counted from 0) at every recorded step."""
        return self.singular_values[:, self._check_index(i)]

    def final_product(self) -> Any:
        """Compute the product ``W_N ... W_1`` of the final factors in the run's arithmetic."""
        product = self.factors[0]
        for factor in self.factors[1:]:
            product = factor @ product if self.arithmetic == "float64" else factor * product
        return product

    def _check_index(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.n:
            raise InvalidArgument(f"i = {i!r} is out of range: the run has n = {self.n} eigenvalues; pass 0 <= i < {self.n}.")
        return int(i)


def schedule_steps(horizon: int, schedule: Schedule = "auto") -> np.ndarray:
    """Return the sorted steps at which a run of ``horizon`` steps records observables.

    Parameters
    ----------
    horizon : int
        Number of gradient steps; the steps run from 0 (initialisation) to ``horizon``.
    schedule : {"auto", "every", "geometric"} or sequence of int
        ``"every"`` records ``0, 1, ..., horizon``.  ``"geometric"`` records 0,
        the rounded values of ``geomspace(1, horizon, 200)`` and ``horizon``
        (duplicates merged, so fewer than 202 steps for short horizons).
        ``"auto"`` is ``"every"`` for ``horizon <= 2000`` and ``"geometric"``
        beyond.  A sequence gives the steps explicitly: strictly increasing
        integers in ``[0, horizon]``, possibly empty.

    Raises
    ------
    InvalidArgument
        If the schedule name is unknown or an explicit step is out of order or range.

    Examples
    --------
    >>> schedule_steps(5, "every").tolist()
    [0, 1, 2, 3, 4, 5]
    >>> steps = schedule_steps(10**6, "auto")
    >>> int(steps[0]), int(steps[-1]), len(steps) <= 202
    (0, 1000000, True)
    """
    horizon = _check_horizon(horizon)

    if isinstance(schedule, str):
        if schedule == "auto":
            schedule = "every" if horizon <= EVERY_STEP_LIMIT else "geometric"
        if schedule == "every":
            return np.arange(horizon + 1, dtype=np.int64)
        if schedule == "geometric":
            if horizon == 0:
                return np.zeros(1, dtype=np.int64)
            inner = np.rint(np.geomspace(1, horizon, GEOMETRIC_POINTS)).astype(np.int64)
            return np.unique(np.concatenate(([0], inner, [horizon])))
        raise InvalidArgument(
            f"schedule = {schedule!r} is unknown; use 'auto', 'every', 'geometric' or a sorted list of step numbers."
        )

    steps = np.asarray(schedule)
    if steps.ndim != 1 or (steps.size and not np.issubdtype(steps.dtype, np.integer)):
        raise InvalidArgument(f"schedule = {schedule!r} is invalid: an explicit schedule must be a flat list of integer step numbers.")
    steps = steps.astype(np.int64)
    if steps.size and (steps[0] < 0 or steps[-1] > horizon):
        raise InvalidArgument(
            f"schedule = {steps.tolist()} has steps outside [0, {horizon}]; keep every step between 0 and the horizon."
        )
    if np.any(np.diff(steps) <= 0):
        raise InvalidArgument(f"schedule = {steps.tolist()} is not strictly increasing; sort the steps and drop repeats.")
    return steps


def run_matrix_gd(
    target: Any,
    depth: int,
    eta: Any,
    init: Initialisation | Mapping[str, Any],
    alpha: Any,
    horizon: int,
    *,
    arithmetic: Arithmetic = "float64",
    dps: int = 50,
    schedule: Schedule = "auto",
    keep_products: bool = False,
    stop: Callable[[StepRecord], bool] | None = None,
) -> MatrixRun:
    """Run gradient descent on ``1/2 ||W_N ... W_1 - target||_F^2`` and record spectra.

    Parameters
    ----------
    target : array_like, shape (n, n)
        ``Mhat``, possibly non-symmetric and indefinite.  A float64 numpy array,
        or rows of numbers, decimal strings, ``Fraction`` or ``mpmath.mpf``
        (converted exactly, then rounded once to the working precision), or an
        ``mpmath.matrix``.
    depth : int
        Number of factors ``N >= 2``.
    eta : number or str
        Step size ``eta > 0``; strings are exact decimals.
    init : Initialisation or mapping
        Initial factors, or their JSON form (see :class:`Initialisation`).
    alpha : number or str
        Initial scale passed to :meth:`Initialisation.factors`.
    horizon : int
        Number of gradient steps to take.
    arithmetic : {"float64", "mpmath"}
        ``"mpmath"`` runs every operation inside ``mpmath.workdps(dps)``.
    dps : int
        Decimal digits of the mpmath arithmetic; ignored for float64.
    schedule : {"auto", "every", "geometric"} or sequence of int
        Steps at which observables are recorded; see :func:`schedule_steps`.
    keep_products : bool
        Keep the product ``W`` at every recorded step (``K n^2`` numbers).
    stop : callable, optional
        Called with a :class:`StepRecord` at every recorded step.  When it
        returns True the run ends there, and the result contains that step's factors.

    Returns
    -------
    MatrixRun
        Recorded steps, eigenvalues, singular values, loss and final factors.
        The product counts as symmetric at a step when
        ``||W - W^T||_F^2 <= u ||W||_F^2`` with ``u`` the machine epsilon of the
        arithmetic, that is, when the asymmetry is below ``sqrt(u)`` relative.

    Raises
    ------
    InvalidArgument
        If an argument is invalid (the message names it).
    DivergenceError
        If the loss is not finite or ``||W - Mhat||_F`` exceeds ``1e150`` at some
        step, or a factor's Frobenius norm exceeds ``1e150`` at a tested step.
        Factor norms are tested at every step in mpmath and every 64 steps in
        float64.  The message names the step and the loss.

    Examples
    --------
    Aligned start on ``diag(1, 0.25)``: every eigenvalue follows its own scalar
    recurrence and converges to its target.

    >>> run = run_matrix_gd([["1", "0"], ["0", "0.25"]], depth=3, eta="0.5",
    ...                     init=Initialisation("aligned"), alpha="0.5", horizon=400)
    >>> [round(float(value), 6) for value in run.eigenvalues[-1]]
    [1.0, 0.25]
    >>> run.symmetric, run.arithmetic, run.precision, run.precision_unit
    (True, 'float64', 53, 'bits')
    """
    depth_checked = check_depth(depth)
    eta_exact = check_positive("eta", eta)
    horizon = _check_horizon(horizon)
    steps = schedule_steps(horizon, schedule)
    if isinstance(init, Mapping):
        init = Initialisation.from_dict(init)
    if not isinstance(init, Initialisation):
        raise InvalidArgument(f"init = {init!r} is invalid: pass an Initialisation such as Initialisation('aligned').")
    if stop is not None and not callable(stop):
        raise InvalidArgument(f"stop = {stop!r} is not callable; pass a function of a StepRecord that returns a bool.")

    if arithmetic == "float64":
        target_array = _target_float64(target)
        factors = init.factors(target_array.shape[0], depth_checked, alpha, arithmetic="float64")
        return _run_float64(target_array, factors, float(eta_exact), steps, horizon, keep_products, stop)

    if arithmetic == "mpmath":
        if isinstance(dps, bool) or not isinstance(dps, (int, np.integer)) or dps < 1:
            raise InvalidArgument(f"dps = {dps!r} is invalid: it must be a positive integer number of decimal digits, e.g. 50.")
        with mpmath.workdps(int(dps)):
            target_matrix = _target_mpmath(target)
            factors = init.factors(target_matrix.rows, depth_checked, alpha, arithmetic="mpmath")
            eta_mp = mpmath.mpf(eta_exact.numerator) / eta_exact.denominator
            return _run_mpmath(target_matrix, factors, eta_mp, steps, horizon, keep_products, stop, int(dps))

    raise InvalidArgument(f"arithmetic = {arithmetic!r} is unknown; use 'float64' or 'mpmath'.")


def _run_float64(
    target: np.ndarray,
    initial_factors: list[np.ndarray],
    eta: float,
    steps: np.ndarray,
    horizon: int,
    keep_products: bool,
    stop: Callable[[StepRecord], bool] | None,
) -> MatrixRun:
    """Run gradient descent in float64 with preallocated buffers."""
    n = target.shape[0]
    depth = len(initial_factors)
    factors = [np.array(factor, dtype=np.float64, order="C") for factor in initial_factors]
    started = time.perf_counter()
    logger.debug("float64 matrix GD: n=%d, depth=%d, eta=%g, horizon=%d, %d recorded steps", n, depth, eta, horizon, len(steps))

    # prefixes[j] is W_{j+1} ... W_1 (0-based), so prefixes[0] aliases W_1 and
    # prefixes[-1] is the product.  chain is a pair of alternating buffers for the
    # backward chain.  residual becomes eta * G in place once the loss is taken.
    prefixes = [factors[0]] + [np.empty((n, n)) for _ in range(depth - 1)]
    chain = [np.empty((n, n)), np.empty((n, n))]
    residual = np.empty((n, n))
    gradient = np.empty((n, n))
    flat_residual = residual.ravel()
    flat_factors = [factor.ravel() for factor in factors]
    limit_squared = DIVERGENCE_NORM**2

    recorder = _Recorder(len(steps), n, keep_products, object_dtype=False)
    next_record = 0
    final_step = horizon
    stopped_early = False

    with np.errstate(all="ignore"):
        for step in range(horizon + 1):
            for j in range(1, depth):
                np.matmul(factors[j], prefixes[j - 1], out=prefixes[j])
            product = prefixes[-1]
            np.subtract(product, target, out=residual)
            residual_squared = float(np.dot(flat_residual, flat_residual))

            # A non-finite factor makes the product, and so the loss, non-finite, so
            # the loss is tested at every step.  Factor norms only matter for a
            # finite product of badly unbalanced factors, and GD keeps the imbalance
            # W_j^T W_j - W_{j+1} W_{j+1}^T nearly constant, so a periodic test suffices.
            if step % FACTOR_CHECK_PERIOD == 0 or not residual_squared <= limit_squared:
                factor_squared = max(float(np.dot(flat, flat)) for flat in flat_factors)
                if not (residual_squared <= limit_squared and factor_squared <= limit_squared):
                    _raise_divergence(step, 0.5 * residual_squared, factor_squared**0.5, eta)

            if next_record < len(steps) and steps[next_record] == step:
                eigenvalues, singular_values, symmetric = matrix_spectra(product)
                record = StepRecord(step, eigenvalues, singular_values, 0.5 * residual_squared, symmetric)
                recorder.add(record, product.copy() if keep_products else None)
                next_record += 1
                if stop is not None and stop(record):
                    final_step, stopped_early = step, step < horizon
                    break

            if step == horizon:
                break

            residual *= eta
            current = residual
            for j in range(depth - 1, 0, -1):
                np.matmul(current, prefixes[j - 1].T, out=gradient)
                following = chain[j % 2]
                np.matmul(factors[j].T, current, out=following)
                factors[j] -= gradient
                current = following
            factors[0] -= current

    elapsed = time.perf_counter() - started
    logger.debug("float64 matrix GD finished %d steps in %.3f s", final_step, elapsed)
    return recorder.finish(tuple(factors), "float64", 53, "bits", final_step, stopped_early)


def _run_mpmath(
    target: mpmath.matrix,
    factors: list[mpmath.matrix],
    eta: mpmath.mpf,
    steps: np.ndarray,
    horizon: int,
    keep_products: bool,
    stop: Callable[[StepRecord], bool] | None,
    dps: int,
) -> MatrixRun:
    """Run gradient descent in mpmath inside the caller's ``mpmath.workdps(dps)`` block."""
    n = target.rows
    depth = len(factors)
    started = time.perf_counter()
    logger.debug("mpmath matrix GD at %d digits: n=%d, depth=%d, horizon=%d", dps, n, depth, horizon)

    limit_squared = mpmath.mpf(DIVERGENCE_NORM) ** 2
    recorder = _Recorder(len(steps), n, keep_products, object_dtype=True)
    next_record = 0
    final_step = horizon
    stopped_early = False

    for step in range(horizon + 1):
        prefixes = [factors[0]]
        for j in range(1, depth):
            prefixes.append(factors[j] * prefixes[-1])
        product = prefixes[-1]
        residual = product - target
        residual_squared = _squared_norm_mp(residual)

        factor_squared = max(_squared_norm_mp(factor) for factor in factors)
        if not (residual_squared <= limit_squared and factor_squared <= limit_squared):
            _raise_divergence(step, residual_squared / 2, mpmath.sqrt(factor_squared), eta)

        if next_record < len(steps) and steps[next_record] == step:
            eigenvalues, singular_values, symmetric = matrix_spectra(product)
            record = StepRecord(step, eigenvalues, singular_values, residual_squared / 2, symmetric)
            kept = np.array(product.tolist(), dtype=object) if keep_products else None
            recorder.add(record, kept)
            next_record += 1
            if stop is not None and stop(record):
                final_step, stopped_early = step, step < horizon
                break

        if step == horizon:
            break

        current = residual * eta
        updated = list(factors)
        for j in range(depth - 1, 0, -1):
            gradient = current * prefixes[j - 1].T
            current = factors[j].T * current
            updated[j] = factors[j] - gradient
        updated[0] = factors[0] - current
        factors = updated

    elapsed = time.perf_counter() - started
    logger.debug("mpmath matrix GD finished %d steps in %.3f s", final_step, elapsed)
    return recorder.finish(tuple(factors), "mpmath", dps, "digits", final_step, stopped_early)


class _Recorder:
    """Preallocated storage for the observables of the recorded steps."""

    def __init__(self, count: int, n: int, keep_products: bool, *, object_dtype: bool):
        dtype = object if object_dtype else np.float64
        self.count = 0
        self.steps = np.zeros(count, dtype=np.int64)
        self.eigenvalues = np.empty((count, n), dtype=dtype)
        self.singular_values = np.empty((count, n), dtype=dtype)
        self.loss = np.empty(count, dtype=dtype)
        self.symmetric = np.zeros(count, dtype=bool)
        self.products = np.empty((count, n, n), dtype=dtype) if keep_products else None
        self.nan = mpmath.nan if object_dtype else np.nan

    def add(self, record: StepRecord, product: np.ndarray | None) -> None:
        index = self.count
        self.steps[index] = record.step
        if record.eigenvalues is None:
            self.eigenvalues[index] = self.nan
        else:
            self.eigenvalues[index] = record.eigenvalues
        self.singular_values[index] = record.singular_values
        self.loss[index] = record.loss
        self.symmetric[index] = record.symmetric
        if self.products is not None:
            self.products[index] = product
        self.count += 1

    def finish(
        self,
        factors: tuple[Any, ...],
        arithmetic: Arithmetic,
        precision: int,
        precision_unit: Literal["digits", "bits"],
        final_step: int,
        stopped_early: bool,
    ) -> MatrixRun:
        used = self.count
        arrays = [self.steps[:used], self.eigenvalues[:used], self.singular_values[:used], self.loss[:used], self.symmetric[:used]]
        products = None if self.products is None else self.products[:used]
        for array in arrays + ([products] if products is not None else []):
            array.setflags(write=False)
        steps, eigenvalues, singular_values, loss, symmetric = arrays
        return MatrixRun(
            steps=steps,
            eigenvalues=eigenvalues,
            singular_values=singular_values,
            loss=loss,
            products=products,
            factors=factors,
            arithmetic=arithmetic,
            precision=precision,
            precision_unit=precision_unit,
            symmetric=bool(np.all(symmetric)),
            symmetric_steps=symmetric,
            final_step=final_step,
            stopped_early=stopped_early,
        )


def _raise_divergence(step: int, loss: Any, largest_factor_norm: Any, eta: Any) -> None:
    raise DivergenceError(
        f"gradient descent diverged at step {step}: loss = {_short(loss)} and the largest factor norm is "
        f"{_short(largest_factor_norm)} (limit {DIVERGENCE_NORM:g}, or not finite); reduce eta = {_short(eta)} or the initial scale."
    )


def _short(value: Any) -> str:
    if isinstance(value, mpmath.mpf):
        return mpmath.nstr(value, 6)
    return f"{float(value):.6g}"


def _check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise InvalidArgument(f"horizon = {horizon!r} is invalid: it must be a non-negative integer number of steps, e.g. 1000.")
    return int(horizon)


def _squared_norm_mp(matrix: mpmath.matrix) -> mpmath.mpf:
    entries = list(matrix)
    return mpmath.fdot(entries, entries)


def _target_float64(target: Any) -> np.ndarray:
    """Return the target as a C-contiguous float64 array after checking shape and finiteness."""
    if isinstance(target, np.ndarray) and target.dtype != object:
        if target.ndim != 2 or target.shape[0] != target.shape[1] or target.shape[0] == 0:
            raise InvalidArgument(f"target has shape {target.shape}; pass a square n x n matrix with n >= 1.")
        if not np.issubdtype(target.dtype, np.number) or np.iscomplexobj(target):
            raise InvalidArgument(f"target has dtype {target.dtype}; pass a real float64 matrix.")
        array = np.array(target, dtype=np.float64, order="C")
        if not np.all(np.isfinite(array)):
            row, column = np.argwhere(~np.isfinite(array))[0]
            raise InvalidArgument(
                f"target[{row}][{column}] = {array[row, column]} is invalid: the target must be finite; replace the NaN or infinity."
            )
        return array

    rows = _exact_rows(target)
    return np.array([[float(entry) for entry in row] for row in rows], dtype=np.float64)


def _target_mpmath(target: Any) -> mpmath.matrix:
    """Return the target as an ``mpmath.matrix`` rounded once to the working precision."""
    if isinstance(target, np.ndarray) and target.dtype != object:
        # Every float64 value is exact in mpmath at 53 bits or more.
        return mpmath.matrix(_target_float64(target).tolist())

    rows = _exact_rows(target)
    return mpmath.matrix([[mpmath.mpf(entry.numerator) / entry.denominator for entry in row] for row in rows])


def _exact_rows(target: Any) -> tuple:
    if isinstance(target, mpmath.matrix):
        target = target.tolist()
    elif isinstance(target, np.ndarray):
        target = target.tolist()
    return check_square_matrix("target", target)
