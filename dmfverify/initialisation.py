"""Initial factors ``W_1(0), ..., W_N(0)`` for gradient descent on ``W_N ... W_1``.

The theorems assume the aligned initialisation ``W_j(0) = alpha I``.  The other
kinds leave that setting on purpose, so that a hypothesis can be stress-tested:

==============  ==============================================================
``aligned``     ``W_j = alpha I`` for every ``j`` (balanced, commutes with any target)
``gaussian``    independent entries ``N(0, scale^2 / n)``, so ``||W_j||_2 ~ 2 scale``
``orthogonal``  ``scale Q_j`` with ``Q_j`` drawn from the Haar measure on ``O(n)``
``per_factor``  ``W_j = scales[j] I``: a different scale per factor (unbalanced)
==============  ==============================================================

Random kinds draw their numbers in float64 from ``numpy.random.default_rng(seed)``
and convert them exactly, so the float64 and the mpmath engines start from the
same matrices.  When ``seed`` is omitted a fresh seed is drawn once and stored,
so :meth:`Initialisation.to_dict` always replays the same factors.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Rational
from typing import Any, Literal, Mapping, Sequence

import mpmath
import numpy as np

from dmfverify.errors import InvalidArgument
from dmfverify.validation import _check_magnitude, check_depth, check_positive, exact_string, to_fraction

__all__ = ["Initialisation", "INITIALISATION_KINDS", "Arithmetic"]

logger = logging.getLogger(__name__)

#: Names accepted for :attr:`Initialisation.kind`.
INITIALISATION_KINDS = ("aligned", "gaussian", "orthogonal", "per_factor")

#: Arithmetic of an engine run: IEEE float64 (numpy) or mpmath at a chosen precision.
Arithmetic = Literal["float64", "mpmath"]

_RANDOM_KINDS = ("gaussian", "orthogonal")
_DICT_KEYS = ("kind", "scale", "seed", "scales")


@dataclass(frozen=True)
class Initialisation:
    """Recipe for the initial factors of deep matrix factorization.

    Parameters
    ----------
    kind : {"aligned", "gaussian", "orthogonal", "per_factor"}
        Which family of initial factors to build (table in the module docstring).
    scale : number or str, optional
        Scale of the random kinds.  When omitted, ``alpha`` passed to
        :meth:`factors` is the scale.  Not accepted for the deterministic kinds.
        Stored as the nearest float64, the arithmetic in which the random
        factors are drawn.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the random kinds.  When omitted,
        a fresh seed is drawn and stored in the instance.  Ignored (and kept as
        ``None``) for the deterministic kinds.
    scales : sequence of numbers or str, optional
        One positive scale per factor, ``scales[j-1]`` for ``W_j``.  Required by
        ``"per_factor"`` and rejected by every other kind.  Stored exactly as
        Fractions, so ``"0.1"`` is one tenth in the mpmath arithmetic.

    Numbers may be decimal strings (``"0.05"``) or fractions (``"1/20"``), as
    everywhere in an instance file.

    Raises
    ------
    InvalidArgument
        If the kind is unknown, a scale is not a finite number > 0, the seed is
        not a non-negative integer, or an option does not belong to the kind.

    Examples
    --------
    >>> init = Initialisation("aligned")
    >>> [w.tolist() for w in init.factors(2, depth=2, alpha=0.5)]
    [[[0.5, 0.0], [0.0, 0.5]], [[0.5, 0.0], [0.0, 0.5]]]
    >>> Initialisation("gaussian", scale=0.1, seed=7).to_dict()
    {'kind': 'gaussian', 'scale': 0.1, 'seed': 7}
    >>> Initialisation("per_factor", scales=["0.05", "1/3"]).scales
    (Fraction(1, 20), Fraction(1, 3))
    >>> Initialisation("uniform")
    Traceback (most recent call last):
    ...
    dmfverify.errors.InvalidArgument: initialisation kind = 'uniform' is unknown; use one of 'aligned', 'gaussian', 'orthogonal', 'per_factor'.
    """

    kind: str
    scale: float | None = None
    seed: int | None = None
    scales: tuple[Fraction, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in INITIALISATION_KINDS:
            known = ", ".join(repr(name) for name in INITIALISATION_KINDS)
            raise InvalidArgument(f"initialisation kind = {self.kind!r} is unknown; use one of {known}.")

        if self.scale is not None:
            if self.kind not in _RANDOM_KINDS:
                raise InvalidArgument(
                    f"scale = {self.scale!r} is not accepted by the {self.kind!r} initialisation; "
                    f"{'alpha sets its scale' if self.kind == 'aligned' else 'give one scale per factor in scales'}."
                )
            object.__setattr__(self, "scale", float(_positive_number("scale", self.scale)))

        if self.scales is not None:
            if self.kind != "per_factor":
                raise InvalidArgument(
                    f"scales = {self.scales!r} is only accepted by the 'per_factor' initialisation, not by {self.kind!r}; "
                    f"drop scales or use kind='per_factor'."
                )
            object.__setattr__(self, "scales", _scale_tuple(self.scales))
        elif self.kind == "per_factor":
            raise InvalidArgument(
                "scales = None is invalid for the 'per_factor' initialisation; pass one positive scale per factor, e.g. scales=(0.5, 0.1, 0.2)."
            )

        if self.kind in _RANDOM_KINDS:
            seed = self.seed
            if seed is None:
                seed = int(np.random.SeedSequence().entropy)
                logger.debug("drew seed %d for the %s initialisation", seed, self.kind)
            object.__setattr__(self, "seed", _seed("seed", seed))
        elif self.seed is not None:
            raise InvalidArgument(
                f"seed = {self.seed!r} is not accepted by the deterministic {self.kind!r} initialisation; drop the seed."
            )

    @property
    def is_random(self) -> bool:
        """Whether the factors are drawn from a seeded random number generator."""
        return self.kind in _RANDOM_KINDS

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: the kind and every option that is set.

        A per-factor scale that is a float64 value is written as a float, any
        other as an exact decimal or fraction string, so the JSON form reads
        back to the same Fractions.

        Examples
        --------
        >>> Initialisation("per_factor", scales=[0.5, 0.25]).to_dict()
        {'kind': 'per_factor', 'scales': [0.5, 0.25]}
        >>> Initialisation("per_factor", scales=["0.1", "1/3"]).to_dict()
        {'kind': 'per_factor', 'scales': ['0.1', '1/3']}
        """
        data: dict[str, Any] = {"kind": self.kind}
        if self.scale is not None:
            data["scale"] = self.scale
        if self.seed is not None:
            data["seed"] = self.seed
        if self.scales is not None:
            data["scales"] = [_json_number(scale) for scale in self.scales]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Initialisation":
        """Build an initialisation from its JSON form (inverse of :meth:`to_dict`).

        Raises
        ------
        InvalidArgument
            If ``data`` is not a mapping, lacks ``kind`` or has an unknown key.
        """
        if not isinstance(data, Mapping):
            raise InvalidArgument(
                f"initialisation = {data!r} is invalid: it must be a JSON object such as {{'kind': 'aligned'}}; pass a mapping."
            )

        unknown = sorted(str(key) for key in data if key not in _DICT_KEYS)
        if unknown:
            raise InvalidArgument(
                f"initialisation has the unknown key(s) {', '.join(unknown)}; the known keys are {', '.join(_DICT_KEYS)}."
            )
        if "kind" not in data:
            raise InvalidArgument("initialisation is missing the key 'kind'; add e.g. \"kind\": \"aligned\".")

        scales = data.get("scales")
        return cls(
            kind=data["kind"],
            scale=data.get("scale"),
            seed=data.get("seed"),
            scales=tuple(scales) if isinstance(scales, Sequence) and not isinstance(scales, str) else scales,
        )

    def factors(
        self,
        n: int,
        depth: int,
        alpha: Any = None,
        *,
        arithmetic: Arithmetic = "float64",
    ) -> list[Any]:
        """Build the initial factors ``[W_1(0), ..., W_N(0)]``.

        Parameters
        ----------
        n : int
            Size of each square factor.
        depth : int
            Number of factors ``N >= 2``.
        alpha : number or str, optional
            Initial scale: ``W_j = alpha I`` for ``"aligned"`` and the default
            ``scale`` of the random kinds.  Strings and fractions are exact in the
            mpmath arithmetic.  Required by ``"aligned"`` and by random kinds
            without ``scale``.  It is validated but unused otherwise.
        arithmetic : {"float64", "mpmath"}
            ``"float64"`` returns C-contiguous numpy arrays.  ``"mpmath"`` returns
            ``mpmath.matrix`` objects built at the current mpmath precision, so
            call it inside ``mpmath.workdps(dps)``.

        Returns
        -------
        list
            ``depth`` freshly allocated ``n x n`` matrices.  Index ``j - 1`` is
            ``W_j``, the factor applied ``j``-th to a vector.

        Raises
        ------
        InvalidArgument
            If ``n < 1``, ``depth < 2``, ``alpha`` is missing or not > 0, the
            arithmetic is unknown, or ``scales`` does not have ``depth`` entries.
        """
        n = _matrix_size(n)
        depth = check_depth(depth)
        if arithmetic not in ("float64", "mpmath"):
            raise InvalidArgument(f"arithmetic = {arithmetic!r} is unknown; use 'float64' or 'mpmath'.")

        if self.kind == "per_factor":
            assert self.scales is not None
            if len(self.scales) != depth:
                raise InvalidArgument(
                    f"scales = {list(self.scales)} has {len(self.scales)} entries but depth = {depth}; give exactly one scale per factor."
                )
            return [_scaled_identity(n, scale, arithmetic) for scale in self.scales]

        alpha_exact = None if alpha is None else check_positive("alpha", alpha)
        if alpha_exact is None and self.scale is None:
            raise InvalidArgument(
                f"alpha = None is invalid for the {self.kind!r} initialisation without a scale; pass a positive initial scale such as 0.05."
            )

        if self.kind == "aligned":
            return [_scaled_identity(n, alpha_exact, arithmetic) for _ in range(depth)]

        scale = self.scale if self.scale is not None else float(alpha_exact)
        generator = np.random.default_rng(self.seed)
        drawn = [self._draw(generator, n, scale) for _ in range(depth)]
        if arithmetic == "float64":
            return drawn
        return [mpmath.matrix(matrix.tolist()) for matrix in drawn]

    def _draw(self, generator: np.random.Generator, n: int, scale: float) -> np.ndarray:
        """Draw one random factor in float64."""
        if self.kind == "gaussian":
            return generator.normal(0.0, scale / math.sqrt(n), size=(n, n))

        # Haar-distributed orthogonal matrix: QR of a Gaussian matrix with the signs
        # of R's diagonal moved into Q (Mezzadri, Notices AMS 54 (2007) 592-604).
        gaussian = generator.standard_normal((n, n))
        q, r = np.linalg.qr(gaussian)
        signs = np.sign(np.diag(r))
        signs[signs == 0] = 1.0
        return np.ascontiguousarray(scale * (q * signs))


def _scaled_identity(n: int, scale: Any, arithmetic: Arithmetic) -> Any:
    """Return ``scale * I`` in the requested arithmetic (exact for Fractions in mpmath)."""
    if arithmetic == "float64":
        return float(scale) * np.eye(n)

    if isinstance(scale, Rational):
        value = mpmath.mpf(scale.numerator) / scale.denominator
    else:
        value = mpmath.mpf(scale)
    return value * mpmath.eye(n)


def _positive_number(name: str, value: Any) -> Fraction:
    """Return a finite positive number (a number, a decimal string or a fraction) exactly, or raise InvalidArgument."""
    message = f"{name} = {value!r} is invalid: it must be a finite number > 0; pass a positive number such as 0.1 or \"0.1\"."
    try:
        number = to_fraction(name, value)
    except InvalidArgument:
        raise InvalidArgument(message) from None
    if number <= 0:
        raise InvalidArgument(message)
    _check_magnitude(name, number)
    return number


def _json_number(value: Fraction) -> float | str:
    """Write a float64 value as a float and any other value as an exact string."""
    as_float = float(value)
    return as_float if Fraction(as_float) == value else exact_string(value)


def _scale_tuple(values: Any) -> tuple[Fraction, ...]:
    """Validate the per-factor scales and return them as a tuple of Fractions."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InvalidArgument(f"scales = {values!r} is invalid: it must be a sequence of positive numbers, one per factor.")
    if len(values) < 2:
        raise InvalidArgument(
            f"scales = {list(values)!r} has {len(values)} entries; deep matrix factorization needs at least 2 factors, so give 2 or more scales."
        )
    return tuple(_positive_number(f"scales[{index}]", value) for index, value in enumerate(values))


def _seed(name: str, value: Any) -> int:
    """Return a seed accepted by ``numpy.random.default_rng`` or raise InvalidArgument."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)) or value < 0:
        raise InvalidArgument(f"{name} = {value!r} is invalid: it must be a non-negative integer; pass e.g. seed=0.")
    return int(value)


def _matrix_size(n: Any) -> int:
    """Return the factor size as an int >= 1 or raise InvalidArgument."""
    if isinstance(n, bool) or not isinstance(n, (Integral, np.integer)) or n < 1:
        raise InvalidArgument(f"n = {n!r} is invalid: the factor size must be an integer >= 1; pass the size of the target.")
    return int(n)
