"""Real-data targets: the covariance of the UCI handwritten digits images.

The UCI "Optical Recognition of Handwritten Digits" test set (1797 images of
8 x 8 pixels with values 0-16; Alpaydin and Kaynak, 1998; licence CC BY 4.0)
ships with scikit-learn as ``sklearn.datasets.load_digits``.  Its sample
covariance is a natural PSD ground truth with a decaying spectrum and three
exactly-zero-variance pixels; the covariance of a subsample of images is a real
noisy observation of it.
"""

from __future__ import annotations

import gzip
import io
import warnings
import zlib
from fractions import Fraction
from numbers import Integral
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dmfverify.errors import InvalidArgument
from dmfverify.validation import check_positive

__all__ = ["load_digits_images", "digits_covariance", "digits_instance", "DIGITS_SHAPE"]

#: Rows and columns of ``digits.csv.gz``: one image a row, 64 pixel values (0-16) then the label (0-9).
DIGITS_SHAPE = (1797, 65)

#: Keys of the general instance format that the real-data kind computes itself.
_COMPUTED_KEYS = ("spectrum", "eigenvalue", "noise", "require_psd")


def load_digits_images(data_dir: str | Path | None = None) -> np.ndarray:
    """Return the 1797 x 64 array of digit images (pixel values 0-16, float64).

    Parameters
    ----------
    data_dir : path, optional
        A folder holding ``digits.csv.gz`` (gzip-compressed CSV of
        :data:`DIGITS_SHAPE`: 64 pixel columns then the label, as shipped inside
        scikit-learn).  Without it, scikit-learn's ``load_digits`` is used;
        install it with ``pip install dmfverify[data]``.

    Raises
    ------
    InvalidArgument
        If the file is missing, is not gzip-compressed UTF-8 text, contains a
        non-number, or does not have 1797 rows of 64 pixel values in [0, 16] and
        a label in 0-9.  The message names the file.
    """
    if data_dir is not None:
        path = Path(data_dir) / "digits.csv.gz"
        if not path.exists():
            raise InvalidArgument(f"digits data file {str(path)!r} was not found; pass the folder that holds digits.csv.gz.")
        return _read_digits_file(path)[:, :64]

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InvalidArgument(
            "the digits data set needs scikit-learn, which is not installed; run pip install 'dmfverify[data]' "
            "or pass data_dir= with a folder holding digits.csv.gz."
        ) from None
    return np.asarray(load_digits().data, dtype=np.float64)


def _read_digits_file(path: Path) -> np.ndarray:
    """Read and check ``digits.csv.gz``: the whole table, labels in the last column."""
    fix = "replace it with the digits.csv.gz shipped inside scikit-learn (sklearn/datasets/data/digits.csv.gz)"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            text = handle.read()
    except gzip.BadGzipFile:
        raise InvalidArgument(f"digits data file {str(path)!r} is not gzip-compressed; {fix}.") from None
    except (EOFError, zlib.error) as error:
        raise InvalidArgument(f"digits data file {str(path)!r} is truncated or corrupt ({error}); {fix}.") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"digits data file {str(path)!r} does not contain UTF-8 text once decompressed; {fix}.") from None

    try:
        with warnings.catch_warnings():
            # An empty file only warns; the shape check below reports it.
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as error:
        raise InvalidArgument(
            f"digits data file {str(path)!r} is not a table of numbers ({error}); it must be comma-separated numbers, so {fix}."
        ) from None

    rows, columns = DIGITS_SHAPE
    if table.shape != DIGITS_SHAPE:
        raise InvalidArgument(
            f"digits data file {str(path)!r} has {table.shape[0]} rows of {table.shape[1]} values, but it must have {rows} rows "
            f"of {columns} (64 pixel values then the label); {fix}."
        )
    pixels, labels = table[:, :64], table[:, 64]
    bad = np.argwhere(~np.isfinite(pixels) | (pixels < 0) | (pixels > 16))
    if len(bad):
        row, column = bad[0]
        raise InvalidArgument(
            f"digits data file {str(path)!r} has the pixel value {pixels[row, column]:g} at row {row}, column {column}, "
            f"but pixel values lie in [0, 16]; {fix}."
        )
    bad_labels = np.flatnonzero(~np.isin(labels, np.arange(10)))
    if len(bad_labels):
        row = bad_labels[0]
        raise InvalidArgument(
            f"digits data file {str(path)!r} has the label {labels[row]:g} in row {row}, but labels are the digits 0-9; {fix}."
        )
    return table


def _check_row_indices(rows: Any, count: int) -> list[int]:
    """Return the subsample as a list of distinct image numbers in ``[0, count)``, at least two of them."""
    if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
        raise InvalidArgument(f"row_indices = {rows!r} is invalid: it must be a list of image numbers; pass e.g. [2, 5, 10].")
    rows = list(rows)
    for position, row in enumerate(rows):
        if isinstance(row, bool) or not isinstance(row, (Integral, np.integer)) or not 0 <= row < count:
            raise InvalidArgument(
                f"row_indices[{position}] = {row!r} is invalid: the images are numbered 0 to {count - 1}; pass integers in that range."
            )
    if len(set(rows)) < len(rows):
        repeated = next(row for row in rows if rows.count(row) > 1)
        raise InvalidArgument(f"row_indices lists image {repeated} more than once; list each image of the subsample once.")
    if len(rows) < 2:
        raise InvalidArgument(f"row_indices = {rows!r} has {len(rows)} image(s); a sample covariance needs at least 2, so list more.")
    return [int(row) for row in rows]


def digits_covariance(rows: Any = None, data_dir: str | Path | None = None) -> np.ndarray:
    """Return the sample covariance (``ddof=1``) of all digit images, or of the listed rows.

    Raises
    ------
    InvalidArgument
        If the data are unreadable (see :func:`load_digits_images`), or ``rows``
        is not a list of at least two distinct image numbers in ``[0, 1796]``.
    """
    images = load_digits_images(data_dir)
    if rows is not None:
        images = images[_check_row_indices(rows, len(images))]
    return np.cov(images, rowvar=False, ddof=1)


def digits_instance(data: Mapping[str, Any], data_dir: str | Path | None = None):
    """Build the real-data instance: ground truth ``M`` from all images, target from a subsample.

    ``M`` is the covariance of all 1797 images divided by ``normalisation``
    (its largest eigenvalue, so ``lambda_1 = 1``); the observed target is the
    covariance of the images listed in ``row_indices`` divided by the same
    number, and the noise is ``E = Mhat - M``.  The data's three constant pixels
    give eigenvalues of order ``-1e-17`` in ``M``: rounding, accepted by the
    PSD check's relative tolerance.

    ``thresholds`` and ``initialisation`` are used as in any instance.  The keys
    ``spectrum``, ``eigenvalue``, ``noise`` and ``require_psd`` are rejected,
    and ``ground_truth`` may only be a text that describes the data.
    """
    from dmfverify.instance import Instance

    name = data.get("id", "digits")
    missing = [key for key in ("row_indices", "depth", "alpha", "eta") if key not in data]
    if missing:
        raise InvalidArgument(f"real-data instance {name!r} is missing the field(s) {', '.join(missing)}; add them.")
    computed = [key for key in _COMPUTED_KEYS if key in data]
    if "ground_truth" in data and not isinstance(data["ground_truth"], str):
        computed.append("ground_truth")
    if computed:
        raise InvalidArgument(
            f"real-data instance {name!r} gives {', '.join(computed)}, but this kind computes its ground truth and noise "
            f"from the digits images; remove {'it' if len(computed) == 1 else 'them'}, or use another kind for a target of your own."
        )

    full = digits_covariance(None, data_dir)
    if data.get("normalisation") is None:
        normalisation = float(np.linalg.eigvalsh(full)[-1])
    else:
        normalisation = float(check_positive("normalisation", data["normalisation"]))
    truth = full / normalisation
    target = digits_covariance(data["row_indices"], data_dir) / normalisation
    noise = target - truth

    return Instance.create(
        ground_truth=[[Fraction(float(x)) for x in row] for row in truth],
        noise=[[Fraction(float(x)) for x in row] for row in noise],
        depth=data["depth"],
        alpha=data["alpha"],
        eta=data["eta"],
        rank=data.get("rank"),
        eps=data.get("eps"),
        delta=data.get("delta"),
        thresholds=data.get("thresholds", ()),
        initialisation=data.get("initialisation"),
        id=name,
        kind="perturbed_low_rank_phase_from_data",
        note=data.get("note", ""),
        expected=data.get("expected"),
        extra={"row_indices": list(data["row_indices"]), "normalisation": str(normalisation)},
    )
