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
from dmfverify.noise import Matrix, generate_noise
from dmfverify.validation import (
    _check_magnitude,
    check_depth,
    check_keys,
    check_positive,
    check_psd,
    check_rank,
    check_same_shape,
    check_square_matrix,
    check_symmetric,
    check_unit_interval,
    close_known_key,
    exact_string,
    to_fraction,
)

__all__ = ["Instance", "Matrix", "load_instance", "generate_noise", "KINDS"]


#: Instance kinds understood by the loader.  The kind says which observables the
#: instance was built for; every kind can be simulated and checked.
KINDS = (
    "scalar_hitting_times",
    "noiseless_low_rank_phase",
    "perturbed_low_rank_phase",
    "perturbed_low_rank_phase_from_data",
    "instance",
)

#: Fields that each phase kind requires, because ``rank``, ``eps`` and ``delta``
#: define the low-rank phase.  The real-data kind leaves ``rank`` out on purpose:
#: its per-rank table scans every rank, but each row needs ``eps`` and ``delta``.
_KIND_FIELDS = {
    "noiseless_low_rank_phase": ("rank", "eps", "delta"),
    "perturbed_low_rank_phase": ("rank", "eps", "delta"),
    "perturbed_low_rank_phase_from_data": ("eps", "delta"),
}


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
            Reject an indefinite ground truth (the theorems assume PSD).  In an
            instance file this is the key ``"require_psd"`` (``true`` or ``false``).

        Raises
        ------
        InvalidArgument
            With one sentence naming the invalid value and the fix.  The kinds
            ``noiseless_low_rank_phase`` and ``perturbed_low_rank_phase`` need
            ``rank``, ``eps`` and ``delta``; ``perturbed_low_rank_phase_from_data``
            needs ``eps`` and ``delta``.
        """
        if kind not in KINDS:
            raise InvalidArgument(_unknown_kind_message(kind))
        missing = [name for name, value in (("rank", rank), ("eps", eps), ("delta", delta))
                   if name in _KIND_FIELDS.get(kind, ()) and value is None]
        if missing:
            raise InvalidArgument(
                f"instance {id!r} of kind {kind!r} is missing {', '.join(missing)}, which this kind needs to define "
                f"the low-rank phase; give them, or use kind 'instance' for an instance without a phase."
            )

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
                    f"move the negative part into the noise, or allow it with \"require_psd\": false in the instance "
                    f"file (require_psd=False in Python)."
                )
            n = len(spectrum)
        else:
            ground_truth = check_symmetric("ground_truth", check_square_matrix("ground_truth", ground_truth))
            if require_psd:
                check_psd("ground_truth", ground_truth)
            n = len(ground_truth)

        if isinstance(noise, Mapping):
            check_keys("noise", noise, _NOISE_KEYS, required=("spectral_norm",), aliases=_NOISE_ALIASES, allow_extra=False)
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
        comparison and never used by the engines), ``require_psd`` (``false``
        accepts an indefinite ground truth).  Numbers may be strings, which are
        read as exact decimals.  The phase kinds need ``rank``, ``eps`` and
        ``delta`` (the real-data kind only ``eps`` and ``delta``).

        Keys of your own, such as ``source``, are kept in :attr:`extra`, unless
        one is so close to a key of the format that it is probably a misspelling
        of it (``"detla"``, ``"epsilon"``, ``"step_size"``, ``"Alpha"``): those are
        rejected with the key to rename them to.

        The kind ``perturbed_low_rank_phase_from_data`` builds its ground truth
        and target from the UCI digits images; see
        :func:`dmfverify.datasets.digits_instance`.

        Examples
        --------
        >>> Instance.from_dict({"spectrum": ["1", "0.1"], "depth": 2, "alpha": "0.1", "eta": "0.1", "source": "me"}).extra
        {'source': 'me'}
        >>> Instance.from_dict({"spectrum": ["1", "0.1"], "depth": 2, "alpha": "0.1", "eta": "0.1", "detla": "0.01"})
        Traceback (most recent call last):
        ...
        dmfverify.errors.InvalidArgument: instance has the key 'detla', which is not part of the format but is close to 'delta'; rename it to 'delta' (a key of your own needs a name that is not this close to a key of the format).
        """
        if not isinstance(data, Mapping):
            raise InvalidArgument(f"an instance must be a JSON object, got {type(data).__name__}; check the file's top level.")

        kind = data.get("kind", "instance")
        if kind not in KINDS:
            raise InvalidArgument(_unknown_kind_message(kind))
        extra = _check_keys(data, kind)

        if kind == "perturbed_low_rank_phase_from_data":
            from dmfverify.datasets import digits_instance

            return digits_instance(data, data_dir=data_dir)

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
            extra=extra,
            require_psd=_require_psd_flag(data.get("require_psd", True)),
        )

    def to_dict(self, *, include_expected: bool = True) -> dict[str, Any]:
        """Serialise to the JSON instance format with exact decimal or fraction strings."""
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "depth": self.depth}
        if self.spectrum is not None:
            if self.kind == "scalar_hitting_times" and len(self.spectrum) == 1:
                data["eigenvalue"] = exact_string(self.spectrum[0])
            else:
                data["spectrum"] = [exact_string(value) for value in self.spectrum]
        else:
            data["ground_truth"] = _matrix_strings(self.ground_truth)
        if self.noise is not None:
            data["noise"] = _matrix_strings(self.noise)

        data["alpha"] = exact_string(self.alpha)
        data["eta"] = exact_string(self.eta)
        for key in ("rank",):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        for key in ("eps", "delta"):
            if getattr(self, key) is not None:
                data[key] = exact_string(getattr(self, key))
        if self.thresholds:
            data["thresholds"] = [exact_string(value) for value in self.thresholds]
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


_KNOWN_KEYS = frozenset({
    "id", "kind", "depth", "alpha", "eta", "spectrum", "eigenvalue", "ground_truth", "noise", "rank", "eps",
    "delta", "thresholds", "initialisation", "note", "expected", "require_psd",
})

#: Keys of the real-data kind on top of the format: the subsample, the scale, and
#: plain-text descriptions of the data file and of the observed target.
_DATA_KEYS = frozenset({"row_indices", "normalisation", "data", "observed_target"})

#: Other names for the format's keys, from the notation of the field and of other tools.
_KEY_ALIASES = {
    "epsilon": "eps",
    "lambda": "spectrum",
    "lambdas": "spectrum",
    "eigenvalues": "spectrum",
    "mu": "eigenvalue",
    "step_size": "eta",
    "stepsize": "eta",
    "learning_rate": "eta",
    "lr": "eta",
    "N": "depth",
    "r": "rank",
    "init": "initialisation",
}

_REQUIRED_KEYS = ("depth", "alpha", "eta")
_DATA_REQUIRED_KEYS = ("row_indices", "depth", "alpha", "eta")

_NOISE_KEYS = ("spectral_norm", "seed", "kind", "rank")
_NOISE_ALIASES = {"sigma": "spectral_norm", "norm": "spectral_norm"}


def _check_keys(data: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """Check the keys of an instance object and return the keys of the user's own (None when there are none)."""
    is_data_kind = kind == "perturbed_low_rank_phase_from_data"
    base = _DATA_REQUIRED_KEYS if is_data_kind else _REQUIRED_KEYS
    required = base + tuple(key for key in _KIND_FIELDS.get(kind, ()) if key not in base)

    owner = "instance"
    if "id" in data:
        owner += f" {data['id']!r}"
    if kind != "instance":
        owner += f" of kind {kind!r}"
    check_keys(
        owner,
        data,
        known=_KNOWN_KEYS | _DATA_KEYS if is_data_kind else _KNOWN_KEYS,
        required=required,
        aliases=_KEY_ALIASES,
    )

    extra = {key: data[key] for key in data if key not in _KNOWN_KEYS}
    return extra or None


def _unknown_kind_message(kind: Any) -> str:
    close = close_known_key(kind, KINDS) if isinstance(kind, str) else None
    fix = f"did you mean {close!r}? The kinds are" if close else "use one of"
    return f"kind = {kind!r} is unknown; {fix} {', '.join(KINDS)}."


def _require_psd_flag(value: Any) -> bool:
    """Return the ``require_psd`` key of an instance file, which must be a JSON boolean."""
    if not isinstance(value, bool):
        raise InvalidArgument(
            f"require_psd = {value!r} is invalid: it must be true or false (a JSON boolean, without quotes); "
            f"write \"require_psd\": false to accept an indefinite ground truth."
        )
    return value


def load_instance(path: str | Path, *, data_dir: str | Path | None = None) -> Instance:
    """Read one instance from a JSON file.

    Raises
    ------
    InvalidArgument
        If the file is missing, is not UTF-8 text, is not valid JSON, or
        contains an invalid instance.  The message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidArgument(f"instance file {str(path)!r} was not found; check the path.") from None
    except OSError as error:
        raise InvalidArgument(f"instance file {str(path)!r} could not be read ({error.strerror}); check its permissions.") from None

    try:
        # utf-8-sig also accepts the byte-order mark that some editors write at the start of UTF-8 files.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        utf16 = " (it starts with a UTF-16 byte-order mark)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise InvalidArgument(
            f"instance file {str(path)!r} is not UTF-8 text{utf16}: byte {error.start} is {raw[error.start:error.start + 1]!r}; "
            f"save it as UTF-8 JSON."
        ) from None

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


def _to_array(matrix: Matrix) -> np.ndarray:
    return np.array([[float(entry) for entry in row] for row in matrix], dtype=np.float64)


def _matrix_strings(matrix: Matrix) -> list[list[str]]:
    return [[exact_string(entry) for entry in row] for row in matrix]
