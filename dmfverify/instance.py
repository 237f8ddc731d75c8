"""Problem instances: ground truth, noise, depth, initialisation and claim parameters.

An :class:`Instance` holds exact numbers (:class:`fractions.Fraction`), so that the
decimal ``0.1`` in a file means one tenth in every arithmetic.  It is immutable and
serialises to the JSON instance format described in :func:`Instance.from_dict`.

Notation (as in the theory of deep matrix factorization):

==============  ======================================================================
``depth``       number of factors ``N >= 2``
``alpha``       initial scale: ``W_j(0) = alpha I``, the product starts at ``alpha^N I``
``eta``         step size of gradient descent
``spectrum``    eigenvalues ``lambda_1 >= ... >= lambda_n`` of a diagonal ground truth ``M``
``noise``       symmetric perturbation ``E``; the observed target is ``Mhat = M + E``
``rank``        ``r``: number of eigenvalues a low-rank phase learns
``eps``         accuracy: eigenvalue ``i`` is learned when ``p_i >= (1 - eps) lambda_i``
``delta``       leakage level: eigenvalue ``i`` is inactive while ``p_i < delta``
==============  ======================================================================
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dmfverify.errors import InvalidArgument
from dmfverify.initialisation import Initialisation
from dmfverify.validation import (
    _check_magnitude,
    check_depth,
    check_positive,
    check_psd,
    check_rank,
    check_same_shape,
    check_square_matrix,
    check_symmetric,
    check_unit_interval,
    to_fraction,
)

__all__ = ["Instance", "Matrix", "load_instance", "generate_noise", "KINDS"]

Matrix = tuple[tuple[Fraction, ...], ...]

#: Instance kinds understood by the loader.  The kind says which observables the
#: instance was built for; every kind can be simulated and checked.
KINDS = (
    "scalar_hitting_times",
    "noiseless_low_rank_phase",
    "perturbed_low_rank_phase",
    "perturbed_low_rank_phase_from_data",
    "instance",
)


@dataclass(frozen=True)
class Instance:
    """One gradient-descent problem with exact parameters.

    Exactly one of ``spectrum`` (a diagonal ground truth) and ``ground_truth``
    (a full symmetric PSD matrix) is set.  ``noise`` is optional; the observed
    target is ``M + E``.  Build instances with :meth:`create` (validates and
    converts) or load them with :func:`load_instance`.

    Examples
    --------
    >>> inst = Instance.create(spectrum=["1", "0.5", "0.1"], depth=3, alpha="0.05", eta="0.1", rank=1)
    >>> inst.n, inst.depth, inst.alpha
    (3, 3, Fraction(1, 20))
    >>> inst.is_aligned_diagonal
    True
    """

    depth: int
    alpha: Fraction
    eta: Fraction
    spectrum: tuple[Fraction, ...] | None = None
    ground_truth: Matrix | None = None
    noise: Matrix | None = None
    rank: int | None = None
    eps: Fraction | None = None
    delta: Fraction | None = None
    thresholds: tuple[Fraction, ...] = ()
    initialisation: Initialisation = field(default_factory=lambda: Initialisation("aligned"))
    id: str = "instance"
    kind: str = "instance"
    note: str = ""
    expected: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    extra: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    # ------------------------------------------------------------------ build

    @classmethod
    def create(
        cls,
        *,
        depth: Any,
        alpha: Any,
        eta: Any,
        spectrum: Any = None,
        ground_truth: Any = None,
        noise: Any = None,
        rank: Any = None,
        eps: Any = None,
        delta: Any = None,
        thresholds: Any = (),
        initialisation: Initialisation | Mapping[str, Any] | None = None,
        id: str = "instance",
        kind: str = "instance",
        note: str = "",
        expected: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        require_psd: bool = True,
    ) -> "Instance":
        """Validate every field and build an instance.

        Parameters
        ----------
        spectrum : sequence of numbers, optional
            Eigenvalues of a diagonal ground truth (any order; stored as given).
        ground_truth : n x n matrix, optional
            A full symmetric PSD ground truth.  Symmetry and PSD are judged with
            relative tolerances, so float64 data with rounding passes.
        noise : n x n matrix or mapping, optional
            An explicit matrix, or ``{"spectral_norm": s, "seed": k, "kind": ...}``
            to draw one with :func:`generate_noise`.
        require_psd : bool
            Reject an indefinite ground truth (the theorems assume PSD).

        Raises
        ------
        InvalidArgument
            With one sentence naming the invalid value and the fix.
        """
        depth = check_depth(depth)
        alpha = check_positive("alpha", alpha)
        eta = check_positive("eta", eta)

        if (spectrum is None) == (ground_truth is None):
            raise InvalidArgument(
                "exactly one of spectrum and ground_truth must be given; pass the eigenvalues as spectrum for a "
                "diagonal ground truth, or the full matrix as ground_truth."
            )

        if spectrum is not None:
            if isinstance(spectrum, (str, bytes)) or not hasattr(spectrum, "__len__") or len(spectrum) == 0:
                raise InvalidArgument(f"spectrum = {spectrum!r} is invalid: it must be a non-empty list of eigenvalues.")
            spectrum = tuple(to_fraction(f"spectrum[{i}]", value) for i, value in enumerate(spectrum))
            for i, value in enumerate(spectrum):
                _check_magnitude(f"spectrum[{i}]", value)
            negative = [value for value in spectrum if value < 0]
            if require_psd and negative:
                raise InvalidArgument(
                    f"spectrum has a negative eigenvalue {float(negative[0]):.6g}: the ground truth must be PSD; "
                    f"move the negative part into the noise or pass require_psd=False."
                )
            n = len(spectrum)
        else:
            ground_truth = check_symmetric("ground_truth", check_square_matrix("ground_truth", ground_truth))
            if require_psd:
                check_psd("ground_truth", ground_truth)
            n = len(ground_truth)

        if isinstance(noise, Mapping):
            noise = generate_noise(n, **noise)
        if noise is not None:
            noise = check_square_matrix("noise", noise)
            check_same_shape("ground truth", ground_truth or spectrum, "noise", noise)

        if rank is not None:
            rank = check_rank(rank, n)
        if eps is not None:
            eps = check_unit_interval("eps", eps)
        if delta is not None:
            delta = check_positive("delta", delta)

        if isinstance(thresholds, (str, bytes)) or not hasattr(thresholds, "__iter__"):
            raise InvalidArgument(f"thresholds = {thresholds!r} is invalid: it must be a list of levels such as [\"0.3\", \"0.9\"].")
        thresholds = tuple(check_positive(f"thresholds[{i}]", value) for i, value in enumerate(thresholds))

        if initialisation is None:
            initialisation = Initialisation("aligned")
        elif isinstance(initialisation, Mapping):
            initialisation = Initialisation.from_dict(dict(initialisation))

        if kind not in KINDS:
            raise InvalidArgument(f"kind = {kind!r} is unknown; use one of {', '.join(KINDS)}.")

        return cls(
            depth=depth,
            alpha=alpha,
            eta=eta,
            spectrum=spectrum,
            ground_truth=ground_truth,
            noise=noise,
            rank=rank,
            eps=eps,
            delta=delta,
            thresholds=thresholds,
            initialisation=initialisation,
            id=str(id),
            kind=kind,
            note=note,
            expected=expected,
            extra=extra,
        )

    # ------------------------------------------------------------ properties

    @property
    def n(self) -> int:
        """Size of the target matrix."""
        return len(self.spectrum) if self.spectrum is not None else len(self.ground_truth)

    @property
    def is_noiseless(self) -> bool:
        """True when there is no noise or the noise is exactly zero."""
        return self.noise is None or all(entry == 0 for row in self.noise for entry in row)

    @property
    def noise_is_symmetric(self) -> bool:
        """True when the noise matrix equals its transpose exactly (or is absent)."""
        if self.noise is None:
            return True
        n = self.n
        return all(self.noise[i][j] == self.noise[j][i] for i in range(n) for j in range(i + 1, n))

    @property
    def is_aligned_diagonal(self) -> bool:
        """True when the target is ``diag(spectrum)`` and the initialisation is ``alpha I``."""
        return self.spectrum is not None and self.is_noiseless and self.initialisation.kind == "aligned"

    def ground_truth_matrix(self) -> Matrix:
        """Return the ground truth ``M`` as an exact matrix."""
        if self.ground_truth is not None:
            return self.ground_truth
        n = len(self.spectrum)
        zero = Fraction(0)
        return tuple(tuple(self.spectrum[i] if i == j else zero for j in range(n)) for i in range(n))

    def target_matrix(self) -> Matrix:
        """Return the observed target ``Mhat = M + E`` as an exact matrix."""
        truth = self.ground_truth_matrix()
        if self.noise is None:
            return truth
        return tuple(tuple(a + b for a, b in zip(row_m, row_e)) for row_m, row_e in zip(truth, self.noise))

    def ground_truth_array(self) -> np.ndarray:
        """Return ``M`` as a float64 array (rounded to nearest)."""
        return _to_array(self.ground_truth_matrix())

    def target_array(self) -> np.ndarray:
        """Return ``Mhat`` as a float64 array (rounded to nearest)."""
        return _to_array(self.target_matrix())

    def noise_array(self) -> np.ndarray:
        """Return ``E`` as a float64 array (zeros when there is no noise)."""
        if self.noise is None:
            return np.zeros((self.n, self.n))
        return _to_array(self.noise)

    def fingerprint(self) -> str:
        """Return a short hash of every field that affects the dynamics (for caches and corpora)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            payload = json.dumps(self.to_dict(include_expected=False), sort_keys=True).encode()
            cached = hashlib.sha256(payload).hexdigest()[:16]
            # The instance is immutable, so the hash is computed once (written past the frozen __setattr__).
            self.__dict__["_fingerprint"] = cached
        return cached

    def matrix_fingerprint(self) -> str:
        """Return a short hash of the ground truth and the noise only (the key of eigenvalue caches)."""
        cached = self.__dict__.get("_matrix_fingerprint")
        if cached is None:
            digest = hashlib.sha256()
            for part in (self.spectrum, self.ground_truth, self.noise):
                digest.update(repr(part).encode())
                digest.update(b"|")
            cached = digest.hexdigest()[:16]
            self.__dict__["_matrix_fingerprint"] = cached
        return cached

    def with_changes(self, **changes: Any) -> "Instance":
        """Return a validated copy with some fields replaced (same arguments as :meth:`create`)."""
        fields = {
            name: getattr(self, name)
            for name in ("depth", "alpha", "eta", "spectrum", "ground_truth", "noise", "rank", "eps", "delta",
                         "thresholds", "initialisation", "id", "kind", "note", "expected", "extra")
        }
        fields.update(changes)
        return Instance.create(**fields)

    # ---------------------------------------------------------------- JSON

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, data_dir: str | Path | None = None) -> "Instance":
        """Build an instance from the JSON instance format.

        Keys: ``id``, ``kind``, ``depth``, ``alpha``, ``eta``; the ground truth as
        ``spectrum`` (diagonal), ``eigenvalue`` (a single eigenvalue: a 1 x 1
        target, used for hitting-time instances) or ``ground_truth`` (a full
        matrix); optional ``noise`` (a matrix, or a mapping with
        ``spectral_norm``, ``seed`` and ``kind`` to draw one), ``rank``, ``eps``,
        ``delta``, ``thresholds``, ``initialisation`` (``{"kind": "aligned"}``
        by default), ``note`` and ``expected`` (reference values, kept for
        comparison and never used by the engines).  Numbers may be strings,
        which are read as exact decimals.

        The kind ``perturbed_low_rank_phase_from_data`` builds its ground truth
        and target from the UCI digits images; see
        :func:`dmfverify.datasets.digits_instance`.
        """
        if not isinstance(data, Mapping):
            raise InvalidArgument(f"an instance must be a JSON object, got {type(data).__name__}; check the file's top level.")

        kind = data.get("kind", "instance")
        if kind == "perturbed_low_rank_phase_from_data":
            from dmfverify.datasets import digits_instance

            return digits_instance(data, data_dir=data_dir)

        missing = [key for key in ("depth", "alpha", "eta") if key not in data]
        if missing:
            raise InvalidArgument(
                f"instance {data.get('id', '?')!r} is missing the field(s) {', '.join(missing)}; add them to the JSON object."
            )

        spectrum = data.get("spectrum")
        if "eigenvalue" in data:
            if spectrum is not None:
                raise InvalidArgument("an instance gives both 'eigenvalue' and 'spectrum'; keep one of them.")
            spectrum = [data["eigenvalue"]]

        return cls.create(
            depth=data["depth"],
            alpha=data["alpha"],
            eta=data["eta"],
            spectrum=spectrum,
            ground_truth=data.get("ground_truth"),
            noise=data.get("noise"),
            rank=data.get("rank"),
            eps=data.get("eps"),
            delta=data.get("delta"),
            thresholds=data.get("thresholds", ()),
            initialisation=data.get("initialisation"),
            id=data.get("id", "instance"),
            kind=kind,
            note=data.get("note", ""),
            expected=data.get("expected"),
            extra=_extra_keys(data),
            require_psd=bool(data.get("require_psd", True)),
        )

    def to_dict(self, *, include_expected: bool = True) -> dict[str, Any]:
        """Serialise to the JSON instance format with exact decimal or fraction strings."""
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "depth": self.depth}
        if self.spectrum is not None:
            if self.kind == "scalar_hitting_times" and len(self.spectrum) == 1:
                data["eigenvalue"] = _exact_string(self.spectrum[0])
            else:
                data["spectrum"] = [_exact_string(value) for value in self.spectrum]
        else:
            data["ground_truth"] = _matrix_strings(self.ground_truth)
        if self.noise is not None:
            data["noise"] = _matrix_strings(self.noise)

        data["alpha"] = _exact_string(self.alpha)
        data["eta"] = _exact_string(self.eta)
        for key in ("rank",):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        for key in ("eps", "delta"):
            if getattr(self, key) is not None:
                data[key] = _exact_string(getattr(self, key))
        if self.thresholds:
            data["thresholds"] = [_exact_string(value) for value in self.thresholds]
        if self.initialisation.kind != "aligned":
            data["initialisation"] = self.initialisation.to_dict()
        if self.note:
            data["note"] = self.note
        if include_expected and self.expected is not None:
            data["expected"] = self.expected
        return data

    def to_json(self, path: str | Path | None = None, **kwargs: Any) -> str:
        """Return the JSON text; also write it atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(**kwargs), indent=1)
        if path is not None:
            from dmfverify.io import atomic_write_text

            atomic_write_text(Path(path), text + "\n")
        return text


_KNOWN_KEYS = {
    "id", "kind", "depth", "alpha", "eta", "spectrum", "eigenvalue", "ground_truth", "noise", "rank", "eps",
    "delta", "thresholds", "initialisation", "note", "expected", "require_psd",
}


def _extra_keys(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return keys outside the format, rejecting likely misspellings of known ones."""
    extra = {key: data[key] for key in data if key not in _KNOWN_KEYS}
    for key in extra:
        close = [known for known in _KNOWN_KEYS if known.rstrip("s") == key.rstrip("s") or known.replace("_", "") == key.replace("_", "")]
        if close:
            raise InvalidArgument(f"instance key {key!r} is not part of the format; did you mean {close[0]!r}?")
    return extra or None


def load_instance(path: str | Path, *, data_dir: str | Path | None = None) -> Instance:
    """Read one instance from a JSON file.

    Raises
    ------
    InvalidArgument
        If the file is missing, is not valid JSON, or holds an invalid instance;
        the message names the file.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidArgument(f"instance file {str(path)!r} was not found; check the path.") from None
    except OSError as error:
        raise InvalidArgument(f"instance file {str(path)!r} could not be read ({error.strerror}); check its permissions.") from None

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgument(
            f"instance file {str(path)!r} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); fix the file."
        ) from None

    if isinstance(data, Mapping) and "instance" in data and isinstance(data["instance"], Mapping):
        # Counterexample files wrap the instance together with the verdict that was found.
        data = data["instance"]

    try:
        return Instance.from_dict(data, data_dir=data_dir)
    except InvalidArgument as error:
        raise InvalidArgument(f"{path.name}: {error}") from None


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


def _to_array(matrix: Matrix) -> np.ndarray:
    return np.array([[float(entry) for entry in row] for row in matrix], dtype=np.float64)


def _exact_string(value: Fraction) -> str:
    """Write a Fraction as a terminating decimal when it is one, else as ``p/q``."""
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


def _matrix_strings(matrix: Matrix) -> list[list[str]]:
    return [[_exact_string(entry) for entry in row] for row in matrix]
