"""The scalar engine: exact per-eigenvalue recurrences for the aligned initialisation.

When every factor starts at ``alpha I`` and the target ``Mhat = V diag(mu) V^T``
is symmetric, every factor stays ``V diag(x(k)) V^T`` with, for each eigenvalue
independently,

    x_i(k+1) = x_i(k) + eta x_i(k)^(N-1) (mu_i - x_i(k)^N),    x_i(0) = alpha,

and the product's eigenvalues are ``p_i(k) = x_i(k)^N``.  This engine runs that
recurrence once per distinct eigenvalue, in one of three arithmetics:

``"float64"``
    A compiled loop in binary64.  Fast, not certified.
``"mpmath"``
    A plain loop at ``dps`` decimal digits inside ``mpmath.workdps``.  Accurate,
    not certified.
``"certified"``
    Lower and upper trajectories with outward rounding, valid because the update
    is increasing on the region holding the trajectory (see
    :mod:`dmfverify.regime`).  ``bits=53`` uses the compiled float64 kernel with
    one-ulp outward steps; larger ``bits`` use gmpy2's directed rounding.  The
    eigenvalues themselves enter as rigorous enclosures
    (:mod:`dmfverify.spectrum`).  Outside the monotone regimes it raises
    :class:`~dmfverify.errors.CertificationError` instead of guessing.

This module contains :func:`simulate_scalar`, which validates the instance, groups
equal eigenvalues and dispatches to the runners.  The level-crossing records a
run returns are in :mod:`dmfverify.scalar_records`, the binary64 runners in
:mod:`dmfverify.scalar_float64`, the mpmath and MPFR runners in
:mod:`dmfverify.scalar_high_precision`, and the divergence check and
certification helpers they share in :mod:`dmfverify.scalar_checks`.  The record
classes and the constants are re-exported here.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Iterable, Mapping

import numpy as np

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance
from dmfverify.scalar_checks import DIVERGENCE_LIMIT  # noqa: F401 - re-exported
from dmfverify.scalar_float64 import (  # noqa: F401 - MAX_EVENTS is re-exported
    MAX_EVENTS,
    _run_certified_float64,
    _run_float64,
    _run_python_float,
)
from dmfverify.scalar_high_precision import _run_certified_mpfr, _run_mpmath
from dmfverify.scalar_records import EigenvalueRecord, ScalarRun, SnapshotTable, geometric_steps  # noqa: F401 - re-exported
from dmfverify.spectrum import target_spectrum

__all__ = ["ScalarRun", "EigenvalueRecord", "simulate_scalar", "ARITHMETICS", "geometric_steps"]

logger = logging.getLogger(__name__)

ARITHMETICS = ("float64", "mpmath", "certified")


def simulate_scalar(
    instance: Instance,
    horizon: int,
    *,
    arithmetic: str = "float64",
    dps: int = 50,
    bits: int = 53,
    levels: Mapping[int, Iterable] | Iterable | None = None,
    snapshot_steps: Iterable[int] = (),
    snapshot_count: int = 200,
    indices: Iterable[int] | None = None,
) -> ScalarRun:
    """Run the per-eigenvalue recurrence of an aligned instance up to ``horizon`` steps.

    Parameters
    ----------
    instance : Instance
        Must have the aligned initialisation ``alpha I`` and a symmetric target
        (the reduction to scalar recurrences needs both).
    horizon : int
        Last step simulated.
    arithmetic : {"float64", "mpmath", "certified"}
    dps : int
        Decimal digits of the ``"mpmath"`` arithmetic.
    bits : int
        Binary precision of the ``"certified"`` arithmetic; 53 uses the compiled
        float64 kernel, more uses gmpy2.
    levels : mapping from eigenvalue index to levels, or one iterable for all
        Exact levels to track (strings, Fractions or numbers).  Default: the
        instance's ``thresholds``.
    snapshot_steps : iterable of int
        Steps whose values must be kept, besides a geometric schedule of
        ``snapshot_count`` steps.
    indices : iterable of int, optional
        Simulate only these eigenvalue indices (0-based); asking a run for
        another index raises.  Default: all.

    Raises
    ------
    InvalidArgument
        For a non-aligned initialisation, non-symmetric noise or a bad argument.
    CertificationError
        For ``"certified"`` when an eigenvalue is in no monotone regime.
    DivergenceError
        When an iterate overflows or becomes NaN.
    """
    if arithmetic not in ARITHMETICS:
        raise InvalidArgument(f"arithmetic = {arithmetic!r} is unknown; use one of {', '.join(ARITHMETICS)}.")
    if instance.initialisation.kind != "aligned":
        raise InvalidArgument(
            f"instance {instance.id!r} uses the {instance.initialisation.kind!r} initialisation, but the scalar engine "
            "needs the aligned initialisation alpha I; run it with 'dmfverify simulate --engine matrix --arithmetic float64' "
            "(or mpmath), or with run_matrix_gd from Python.  The checker judges aligned instances only."
        )
    if not instance.noise_is_symmetric:
        raise InvalidArgument(
            f"instance {instance.id!r} has non-symmetric noise, so the factors do not stay aligned with the target; "
            "use the matrix engine, which handles non-symmetric noise."
        )
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise InvalidArgument(f"horizon = {horizon!r} is invalid: it must be an integer >= 0.")
    horizon = int(horizon)

    # Certified runs carry the eigenvalue radius in their enclosures, so 50 digits serve every precision.
    spectrum_dps = max(30, dps) if arithmetic == "mpmath" else min(max(30, int(bits * 0.302) + 5), 50)
    spectrum = target_spectrum(instance, dps=spectrum_dps)
    n = instance.n
    per_index = _levels_per_index(levels, n, instance)
    snapshots = sorted(set(geometric_steps(horizon, snapshot_count)) | {int(k) for k in snapshot_steps if 0 <= k <= horizon})

    wanted = set(range(n)) if indices is None else {int(index) for index in indices}
    rows: list[tuple[Fraction, Fraction]] = []
    row_levels: list[set[Fraction]] = []
    row_of: list[int] = []
    for i in range(n):
        if i not in wanted:
            row_of.append(-1)
            continue
        interval = spectrum.interval(i)
        if interval in rows and spectrum.exact:
            row = rows.index(interval)
        else:
            rows.append(interval)
            row_levels.append(set())
            row = len(rows) - 1
        row_levels[row].update(per_index[i])
        row_of.append(row)

    level_lists = [tuple(sorted(found)) for found in row_levels]
    logger.info("scalar run %s: %d distinct eigenvalues, horizon %d, %s", instance.id, len(rows), horizon, arithmetic)

    compiled = _compiled_kernels()
    if arithmetic == "float64" and compiled is None:
        records = [_run_python_float(mu, lv, instance, horizon, snapshots) for mu, lv in zip(rows, level_lists)]
        precision, unit = 53, "bits"
    elif arithmetic == "certified" and bits <= 53 and compiled is None:
        records = [_run_certified_mpfr(mu, lv, instance, horizon, snapshots, 53) for mu, lv in zip(rows, level_lists)]
        precision, unit = 53, "bits"
    elif arithmetic == "float64":
        records = _run_float64(rows, level_lists, instance, horizon, snapshots)
        precision, unit = 53, "bits"
    elif arithmetic == "mpmath":
        records = [_run_mpmath(mu, lv, instance, horizon, snapshots, dps) for mu, lv in zip(rows, level_lists)]
        precision, unit = dps, "digits"
    elif bits <= 53:
        records = _run_certified_float64(rows, level_lists, instance, horizon, snapshots)
        precision, unit = 53, "bits"
    else:
        records = [_run_certified_mpfr(mu, lv, instance, horizon, snapshots, bits) for mu, lv in zip(rows, level_lists)]
        precision, unit = bits, "bits"

    return ScalarRun(
        instance_id=instance.id,
        depth=instance.depth,
        horizon=horizon,
        arithmetic=arithmetic,
        precision=precision,
        precision_unit=unit,
        records=tuple(records),
        row_of=tuple(row_of),
        eigenvalues=spectrum.values,
        eigenvalue_radius=spectrum.radius,
    )


def _compiled_kernels():
    """Return the compiled kernel module, or None when it is unavailable (the pure-Python paths are used)."""
    try:
        from dmfverify import kernels
    except ImportError:
        return None
    if not (hasattr(kernels, "run_float64") and hasattr(kernels, "run_certified")):
        return None
    return kernels


def _levels_per_index(levels, n: int, instance: Instance) -> list[set[Fraction]]:
    from dmfverify.validation import to_fraction

    if levels is None:
        common = {Fraction(u) for u in instance.thresholds}
        return [set(common) for _ in range(n)]
    if isinstance(levels, Mapping):
        result = [set() for _ in range(n)]
        for index, values in levels.items():
            if not 0 <= int(index) < n:
                raise InvalidArgument(f"levels name eigenvalue index {index}, out of range for n = {n}.")
            result[int(index)].update(to_fraction("level", value) for value in values)
        return result
    common = {to_fraction("level", value) for value in levels}
    return [set(common) for _ in range(n)]
