"""Input validation: every check of a user-supplied value lives here.

Each ``check_*`` function either returns the value in canonical form or raises
:class:`~dmfverify.errors.InvalidArgument` with one sentence that names the
argument, its value, the reason and the fix.

Exact numbers
-------------
Parameters are kept as :class:`fractions.Fraction` so that a decimal string such
as ``"0.1"`` means exactly one tenth.  A Python ``float`` is accepted too, but it
is taken at its exact binary value (``0.1`` as a float is
``3602879701896397/36028797018963968``); pass strings when the decimal value is
meant.

>>> check_positive("alpha", "0.05")
Fraction(1, 20)
>>> check_positive("eta", "-1")
Traceback (most recent call last):
...
dmfverify.errors.InvalidArgument: eta = -1 is invalid: it must be a finite number > 0; pass a positive value such as 0.1.
"""

from __future__ import annotations

import difflib
import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from numbers import Integral, Rational, Real
from typing import Any, Collection, Mapping, Sequence

import numpy as np

from dmfverify.errors import InvalidArgument

__all__ = [
    "to_fraction",
    "check_positive",
    "check_depth",
    "check_rank",
    "check_unit_interval",
    "check_square_matrix",
    "check_symmetric",
    "check_psd",
    "check_same_shape",
    "check_keys",
    "close_known_key",
    "exact_string",
    "KEY_MATCH_CUTOFF",
    "PSD_RELATIVE_TOLERANCE",
    "SYMMETRY_RELATIVE_TOLERANCE",
]

#: Eigenvalues above ``-PSD_RELATIVE_TOLERANCE * ||M||_2`` count as zero when
#: judging positive semidefiniteness.  A sample covariance computed in float64
#: has eigenvalues of order ``-1e-17 * ||M||`` that are rounding, not negativity.
PSD_RELATIVE_TOLERANCE = 1e-10

#: Entries may differ from their transposes by this much, relative to the
#: largest entry, before a matrix counts as non-symmetric.  The aligned engine
#: symmetrises such a matrix exactly, ``(A + A^T) / 2``.
SYMMETRY_RELATIVE_TOLERANCE = 1e-12


def to_fraction(name: str, value: Any) -> Fraction:
    """Convert a number or a numeric string to an exact :class:`~fractions.Fraction`.

    Parameters
    ----------
    name : str
        Argument name, used in the error message.
    value : str, int, float, Fraction, Decimal, mpmath.mpf or numpy scalar
        Strings are parsed as exact decimals (``"1e-3"``, ``"0.05"``, ``"3/4"``).

    Raises
    ------
    InvalidArgument
        If the value is not a finite real number.

    Examples
    --------
    >>> to_fraction("eta", "1e-3")
    Fraction(1, 1000)
    >>> to_fraction("alpha", float("nan"))
    Traceback (most recent call last):
    ...
    dmfverify.errors.InvalidArgument: alpha = nan is invalid: it must be a finite real number; replace the NaN or infinity by a finite value.
    """
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} = {value!r} is invalid: it must be a number, not a boolean; pass a numeric value.")

    if isinstance(value, Fraction):
        return value

    if isinstance(value, (Integral, np.integer)):
        return Fraction(int(value))

    if isinstance(value, str):
        text = value.strip()
        try:
            if "/" in text:
                return Fraction(text)
            decimal = Decimal(text)
        except (ValueError, InvalidOperation, ZeroDivisionError):
            raise InvalidArgument(
                f"{name} = {value!r} is invalid: it is not a number; write it as a decimal such as '0.05' or a fraction such as '1/20'."
            ) from None
        if not decimal.is_finite():
            raise InvalidArgument(
                f"{name} = {value} is invalid: it must be a finite real number; replace the NaN or infinity by a finite value."
            )
        return Fraction(decimal)

    if isinstance(value, Decimal):
        return to_fraction(name, str(value))

    if hasattr(value, "_mpf_"):
        import mpmath

        if not mpmath.isfinite(value):
            raise InvalidArgument(
                f"{name} = {value} is invalid: it must be a finite real number; replace the NaN or infinity by a finite value."
            )
        from dmfverify.rounding import to_fraction_exact

        # Convert the value itself: mpmath.mpf(value) would round it to the current precision.
        return to_fraction_exact(value if isinstance(value, mpmath.mpf) else mpmath.mpf(value))

    if isinstance(value, (Real, np.floating)):
        if not math.isfinite(float(value)):
            raise InvalidArgument(
                f"{name} = {value} is invalid: it must be a finite real number; replace the NaN or infinity by a finite value."
            )
        if isinstance(value, Rational):
            return Fraction(value.numerator, value.denominator)
        return Fraction(float(value))

    raise InvalidArgument(
        f"{name} = {value!r} is invalid: a number of type {type(value).__name__} is not supported; pass a decimal string, an int or a float."
    )


#: Parameters must lie within the float64 range, which the compiled kernels use.
MAGNITUDE_LIMIT = Fraction(10) ** 300


def check_positive(name: str, value: Any) -> Fraction:
    """Return ``value`` as a Fraction after checking that it is finite, > 0 and within the float64 range."""
    number = to_fraction(name, value)
    if number <= 0:
        raise InvalidArgument(
            f"{name} = {_show(number)} is invalid: it must be a finite number > 0; pass a positive value such as 0.1."
        )
    _check_magnitude(name, number)
    return number


def _check_magnitude(name: str, number: Fraction) -> None:
    if abs(number) > MAGNITUDE_LIMIT or (number != 0 and abs(number) < 1 / MAGNITUDE_LIMIT):
        raise InvalidArgument(
            f"{name} = {_show(number)} is outside the supported range 1e-300 <= |value| <= 1e300; rescale the problem "
            f"(the dynamics are invariant under lambda -> c lambda, alpha -> c^(1/N) alpha, eta -> c^(-(2N-2)/N) eta)."
        )


def check_depth(depth: Any) -> int:
    """Return the depth ``N`` as an int after checking ``N >= 2``.

    Depth 1 is plain gradient descent on the matrix itself, which has no implicit
    bias towards low rank; the theory starts at two factors.
    """
    if isinstance(depth, bool) or not isinstance(depth, (Integral, np.integer)):
        if isinstance(depth, str) and depth.strip().isdigit():
            depth = int(depth)
        else:
            raise InvalidArgument(f"depth = {depth!r} is invalid: it must be an integer >= 2; pass the number of factors N, e.g. 3.")
    if depth < 2:
        raise InvalidArgument(f"depth = {depth} is invalid: the factorization needs N >= 2 factors; pass depth 2 or more.")
    if depth > 1000:
        raise InvalidArgument(f"depth = {depth} is invalid: depths above 1000 overflow the float64 kernels; pass a depth of at most 1000.")
    return int(depth)


def check_rank(rank: Any, n: int) -> int:
    """Check ``1 <= rank < n``: a low-rank phase needs at least one learned and one inactive eigenvalue."""
    if isinstance(rank, bool) or not isinstance(rank, (Integral, np.integer)):
        raise InvalidArgument(f"rank = {rank!r} is invalid: it must be an integer; pass r with 1 <= r < n = {n}.")
    if not 1 <= rank < n:
        raise InvalidArgument(
            f"rank = {rank} is out of range for the {n} x {n} target: it must satisfy 1 <= rank < {n}; pick a rank between 1 and {n - 1}."
        )
    return int(rank)


def check_unit_interval(name: str, value: Any) -> Fraction:
    """Return ``value`` as a Fraction after checking ``0 < value < 1``."""
    number = to_fraction(name, value)
    if not 0 < number < 1:
        raise InvalidArgument(f"{name} = {_show(number)} is invalid: it must lie strictly between 0 and 1; pass e.g. 0.01.")
    return number


def check_square_matrix(name: str, rows: Any) -> tuple[tuple[Fraction, ...], ...]:
    """Convert a nested sequence or a 2-D array to a square tuple-of-tuples of Fractions.

    Raises
    ------
    InvalidArgument
        If the input is not two-dimensional and square, or holds a NaN, an
        infinity or a non-number (the message gives the row and column).
    """
    if isinstance(rows, np.ndarray):
        array = rows
        if array.ndim != 2:
            raise InvalidArgument(f"{name} has shape {array.shape}: it must be a square 2-D matrix; pass an n x n array.")
        rows = array.tolist()

    if not isinstance(rows, Sequence) or isinstance(rows, str) or len(rows) == 0:
        raise InvalidArgument(f"{name} = {rows!r} is invalid: it must be a non-empty list of rows; pass an n x n matrix.")

    n = len(rows)
    converted = []
    for i, row in enumerate(rows):
        if not isinstance(row, Sequence) or isinstance(row, str):
            raise InvalidArgument(f"{name} row {i} = {row!r} is not a list of numbers; pass an n x n matrix as a list of rows.")
        if len(row) != n:
            raise InvalidArgument(
                f"{name} is not square: row {i} has {len(row)} entries but there are {n} rows; pass an n x n matrix."
            )
        converted.append(tuple(to_fraction(f"{name}[{i}][{j}]", entry) for j, entry in enumerate(row)))
    return tuple(converted)


def check_symmetric(name: str, matrix: tuple[tuple[Fraction, ...], ...]) -> tuple[tuple[Fraction, ...], ...]:
    """Return the exactly symmetrised matrix after checking it is symmetric up to rounding.

    Entries that differ from their transposes by at most
    ``SYMMETRY_RELATIVE_TOLERANCE`` times the largest entry count as rounding of a
    symmetric matrix and are replaced by the average ``(a_ij + a_ji) / 2``.
    """
    n = len(matrix)
    scale = max((abs(entry) for row in matrix for entry in row), default=Fraction(0))
    tolerance = Fraction(SYMMETRY_RELATIVE_TOLERANCE) * scale

    worst = (Fraction(0), 0, 0)
    for i in range(n):
        for j in range(i + 1, n):
            gap = abs(matrix[i][j] - matrix[j][i])
            if gap > worst[0]:
                worst = (gap, i, j)

    gap, i, j = worst
    if gap > tolerance:
        raise InvalidArgument(
            f"{name} is not symmetric: entry ({i}, {j}) = {_show(matrix[i][j])} but entry ({j}, {i}) = {_show(matrix[j][i])}; "
            f"pass a symmetric matrix, or use the matrix engine, which accepts non-symmetric noise."
        )

    return tuple(tuple((matrix[i][j] + matrix[j][i]) / 2 for j in range(n)) for i in range(n))


def check_psd(name: str, matrix: tuple[tuple[Fraction, ...], ...]) -> None:
    """Check that a symmetric matrix is positive semidefinite up to a relative tolerance.

    Eigenvalues ``>= -PSD_RELATIVE_TOLERANCE * ||M||_2`` pass; they are rounding of
    exact zeros in data such as sample covariances.  Uses float64 eigenvalues,
    which is enough to judge this tolerance.
    """
    array = np.array([[float(entry) for entry in row] for row in matrix])
    eigenvalues = np.linalg.eigvalsh(array)
    norm = max(abs(eigenvalues[0]), abs(eigenvalues[-1]))
    if eigenvalues[0] < -PSD_RELATIVE_TOLERANCE * max(norm, np.finfo(float).tiny):
        raise InvalidArgument(
            f"{name} is not positive semidefinite: its smallest eigenvalue is {eigenvalues[0]:.6g} "
            f"(largest {eigenvalues[-1]:.6g}); the theorems need a PSD ground truth, so put indefinite parts into the noise instead."
        )


def check_same_shape(first_name: str, first: Sequence, second_name: str, second: Sequence) -> None:
    """Check that two square matrices have the same size."""
    if len(first) != len(second):
        raise InvalidArgument(
            f"{second_name} is {len(second)} x {len(second)} but {first_name} is {len(first)} x {len(first)}; "
            f"pass matrices of the same size."
        )


#: Least :class:`difflib.SequenceMatcher` ratio at which an unknown key counts as a
#: misspelling of a known one.  ``"detla"`` (0.8 to ``"delta"``) and ``"alhpa"`` match,
#: but ``"source"`` (at most 0.4) and ``"data"`` (0.67 to ``"delta"``) do not.
KEY_MATCH_CUTOFF = 0.75


def close_known_key(key: str, known: Collection[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """Return the known key that ``key`` most likely misspells, or None when it is close to none.

    ``key`` matches a known key in three cases.  ``aliases`` maps it there (looked
    up as written, then in lower case), or the two are equal up to letter case,
    underscores, hyphens, spaces and a trailing ``s``.  Failing both,
    :func:`difflib.get_close_matches` must rate their similarity at least
    :data:`KEY_MATCH_CUTOFF`.  Aliases whose target is not in ``known`` are ignored.

    Examples
    --------
    >>> close_known_key("detla", ["delta", "eps", "eta"])
    'delta'
    >>> close_known_key("Ground truth", ["ground_truth"])
    'ground_truth'
    >>> close_known_key("epsilon", ["eps"], aliases={"epsilon": "eps"})
    'eps'
    >>> close_known_key("source", ["delta", "eps", "eta"]) is None
    True
    """
    aliases = aliases or {}
    lowered = key.strip().lower()
    for candidate in (aliases.get(key), aliases.get(lowered)):
        if candidate in known:
            return candidate

    def squeezed(text: str) -> str:
        return "".join(character for character in text.lower() if character not in "_- ").rstrip("s")

    for name in sorted(known):
        if squeezed(name) == squeezed(key):
            return name

    matches = difflib.get_close_matches(lowered.replace(" ", "_").replace("-", "_"), sorted(known), n=1, cutoff=KEY_MATCH_CUTOFF)
    return matches[0] if matches else None


def check_keys(
    owner: str,
    data: Mapping[Any, Any],
    known: Collection[str],
    required: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
    allow_extra: bool = True,
) -> None:
    """Raise InvalidArgument when a required key is missing or an unknown key looks like a misspelling.

    An unknown key that :func:`close_known_key` matches to a known key is taken as
    a misspelling of it.  Both messages name the misspelt key and the known key to
    rename it to.  Other unknown keys are the caller's own, allowed unless
    ``allow_extra`` is false.

    Parameters
    ----------
    owner : str
        What the keys belong to, as the message should name it (``"instance 'x'"``).
    data : mapping
        The object read from the file.
    known : collection of str
        Every key of the format.
    required : sequence of str
        Keys that must be present.
    aliases : mapping, optional
        Other names of known keys (``{"epsilon": "eps"}``).
    allow_extra : bool
        Whether keys that are neither known nor close to a known key are allowed.

    Examples
    --------
    >>> check_keys("instance 'x'", {"alhpa": "0.1"}, ["alpha", "eta"], required=["alpha", "eta"])
    Traceback (most recent call last):
    ...
    dmfverify.errors.InvalidArgument: instance 'x' is missing the field(s) alpha, eta; rename 'alhpa' to 'alpha' and add eta.
    """
    misspelt: dict[str, str] = {}
    unknown: list[Any] = []
    for key in data:
        if key in known:
            continue
        if not isinstance(key, str):
            raise InvalidArgument(f"{owner} has the key {key!r}, which is invalid: keys must be strings; write the object as JSON.")
        close = close_known_key(key, known, aliases)
        if close is None:
            unknown.append(key)
        else:
            misspelt[key] = close

    missing = [key for key in required if key not in data]
    if missing:
        renames = [f"{key!r} to {close!r}" for key, close in misspelt.items() if close in missing]
        to_add = [key for key in missing if key not in misspelt.values()]
        fixes = []
        if renames:
            fixes.append(f"rename {', '.join(renames)}")
        if to_add:
            fixes.append(f"add {', '.join(to_add)}")
        raise InvalidArgument(f"{owner} is missing the field(s) {', '.join(missing)}; {' and '.join(fixes)}.")

    own_keys_note = " (a key of your own needs a name that is not this close to a key of the format)" if allow_extra else ""
    if len(misspelt) == 1:
        ((key, close),) = misspelt.items()
        raise InvalidArgument(
            f"{owner} has the key {key!r}, which is not part of the format but is close to {close!r}; "
            f"rename it to {close!r}{own_keys_note}."
        )
    if misspelt:
        renames_text = ", ".join(f"{key!r} to {close!r}" for key, close in misspelt.items())
        raise InvalidArgument(
            f"{owner} has keys that are not part of the format but are close to keys of it; rename {renames_text}{own_keys_note}."
        )

    if unknown and not allow_extra:
        raise InvalidArgument(
            f"{owner} has the unknown key(s) {', '.join(map(repr, unknown))}; the keys are {', '.join(known)}, so remove or rename it."
        )


def exact_string(value: Fraction) -> str:
    """Write a Fraction as a terminating decimal when it is one, else as ``p/q``.

    :func:`to_fraction` reads either form back to the same Fraction.

    Examples
    --------
    >>> exact_string(Fraction(1, 20)), exact_string(Fraction(-3, 2)), exact_string(Fraction(1, 3))
    ('0.05', '-1.5', '1/3')
    """
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"

    digits = max(twos, fives)
    scaled = value * 10**digits
    text = str(abs(scaled.numerator)).rjust(digits + 1, "0")
    sign = "-" if value < 0 else ""
    if digits == 0:
        return sign + text
    whole, decimals = text[:-digits], text[-digits:].rstrip("0")
    return sign + whole + ("." + decimals if decimals else "")


def _show(number: Fraction) -> str:
    """Format an exact number the way a user would have typed it."""
    if number.denominator == 1 and abs(number.numerator) < 10**15:
        return str(number.numerator)
    try:
        return f"{float(number):.12g}"
    except OverflowError:
        return f"{'-' if number < 0 else ''}1e{len(str(abs(number.numerator))) - len(str(number.denominator))} (about)"
