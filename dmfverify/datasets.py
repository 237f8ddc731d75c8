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
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dmfverify.errors import InvalidArgument

__all__ = ["load_digits_images", "digits_covariance", "digits_instance"]


def load_digits_images(data_dir: str | Path | None = None) -> np.ndarray:
    """Return the 1797 x 64 array of digit images (pixel values 0-16, float64).

    Parameters
    ----------
    data_dir : path, optional
        A folder holding ``digits.csv.gz`` (64 pixel columns then the label, as
        shipped inside scikit-learn).  Without it, scikit-learn's
        ``load_digits`` is used; install it with ``pip install dmfverify[data]``.
    """
    if data_dir is not None:
        path = Path(data_dir) / "digits.csv.gz"
        if not path.exists():
            raise InvalidArgument(f"digits data file {str(path)!r} was not found; pass the folder that holds digits.csv.gz.")
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",")
        return table[:, :64].astype(np.float64)

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InvalidArgument(
            "the digits data set needs scikit-learn, which is not installed; run pip install 'dmfverify[data]' "
            "or pass data_dir= with a folder holding digits.csv.gz."
        ) from None
    return np.asarray(load_digits().data, dtype=np.float64)


def digits_covariance(rows: Any = None, data_dir: str | Path | None = None) -> np.ndarray:
    """Return the sample covariance (``ddof=1``) of all digit images, or of the listed rows."""
    images = load_digits_images(data_dir)
    if rows is not None:
        rows = np.asarray(rows, dtype=int)
        if rows.ndim != 1 or len(rows) < 2 or rows.min() < 0 or rows.max() >= len(images):
            raise InvalidArgument(
                f"row indices must be at least two distinct image numbers in [0, {len(images) - 1}]; check row_indices."
            )
        images = images[rows]
    return np.cov(images, rowvar=False, ddof=1)


def digits_instance(data: Mapping[str, Any], data_dir: str | Path | None = None):
    """Build the real-data instance: ground truth ``M`` from all images, target from a subsample.

    ``M`` is the covariance of all 1797 images divided by ``normalisation``
    (its largest eigenvalue, so ``lambda_1 = 1``); the observed target is the
    covariance of the images listed in ``row_indices`` divided by the same
    number, and the noise is ``E = Mhat - M``.  The data's three constant pixels
    give eigenvalues of order ``-1e-17`` in ``M``: rounding, accepted by the
    PSD check's relative tolerance.
    """
    from dmfverify.instance import Instance

    for key in ("row_indices", "depth", "alpha", "eta"):
        if key not in data:
            raise InvalidArgument(f"real-data instance {data.get('id', '?')!r} is missing the field {key!r}; add it.")

    full = digits_covariance(None, data_dir)
    normalisation = float(data.get("normalisation") or np.linalg.eigvalsh(full)[-1])
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
        id=data.get("id", "digits"),
        kind="perturbed_low_rank_phase_from_data",
        note=data.get("note", ""),
        expected=data.get("expected"),
        extra={"row_indices": list(data["row_indices"]), "normalisation": str(normalisation)},
    )
