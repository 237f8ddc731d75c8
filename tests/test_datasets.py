"""Digits data: every defect of ``digits.csv.gz`` is reported against the file, not the instance."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dmfverify.datasets import DIGITS_SHAPE, digits_covariance, load_digits_images
from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance

ROWS, COLUMNS = DIGITS_SHAPE


def synthetic_table(seed: int = 0) -> np.ndarray:
    """Return a table of the digits layout: random pixels 0-16, labels 0-9."""
    generator = np.random.default_rng(seed)
    pixels = generator.integers(0, 17, size=(ROWS, 64))
    labels = generator.integers(0, 10, size=(ROWS, 1))
    return np.hstack([pixels, labels])


def write_table(folder, table) -> None:
    lines = [",".join(str(value) for value in row) for row in table]
    with gzip.open(folder / "digits.csv.gz", "wt") as handle:
        handle.write("\n".join(lines) + "\n")


def write_text(folder, text: str) -> None:
    with gzip.open(folder / "digits.csv.gz", "wt") as handle:
        handle.write(text)


def error_of(folder) -> str:
    with pytest.raises(InvalidArgument) as error:
        load_digits_images(folder)
    message = str(error.value)
    assert str(folder / "digits.csv.gz") in message
    return message


def test_valid_file_loads(tmp_path):
    table = synthetic_table()
    write_table(tmp_path, table)

    images = load_digits_images(tmp_path)

    assert images.shape == (ROWS, 64)
    assert images.dtype == np.float64
    np.testing.assert_array_equal(images, table[:, :64])


def test_file_that_is_not_gzip(tmp_path):
    (tmp_path / "digits.csv.gz").write_text("no gzip here\n")
    assert "is not gzip-compressed" in error_of(tmp_path)


def test_truncated_gzip(tmp_path):
    write_table(tmp_path, synthetic_table())
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(path.read_bytes()[:200])
    assert "truncated or corrupt" in error_of(tmp_path)


def test_non_numeric_file(tmp_path):
    write_text(tmp_path, "pixel0,pixel1\n1,2\n")
    message = error_of(tmp_path)
    assert "is not a table of numbers" in message
    assert "'pixel0'" in message


def test_non_utf8_content(tmp_path):
    with gzip.open(tmp_path / "digits.csv.gz", "wb") as handle:
        handle.write(b"\xff\xfe1,2\n")
    assert "does not contain UTF-8 text" in error_of(tmp_path)


def test_two_row_file_blames_the_file(tmp_path):
    write_table(tmp_path, synthetic_table()[:2])
    message = error_of(tmp_path)
    assert f"has 2 rows of 65 values, but it must have {ROWS} rows of {COLUMNS}" in message
    assert "row_indices" not in message


def test_missing_label_column(tmp_path):
    write_table(tmp_path, synthetic_table()[:, :64])
    assert f"has {ROWS} rows of 64 values" in error_of(tmp_path)


def test_empty_file(tmp_path):
    write_text(tmp_path, "")
    assert "has 0 rows" in error_of(tmp_path)


def test_pixel_out_of_range(tmp_path):
    table = synthetic_table()
    table[5, 7] = 255
    write_table(tmp_path, table)
    assert "pixel value 255 at row 5, column 7" in error_of(tmp_path)


def test_bad_label(tmp_path):
    table = synthetic_table()
    table[3, 64] = 12
    write_table(tmp_path, table)
    assert "label 12 in row 3" in error_of(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidArgument, match="was not found"):
        load_digits_images(tmp_path)


# ------------------------------------------------------------ subsample and instance


@pytest.fixture
def data_dir(tmp_path):
    write_table(tmp_path, synthetic_table())
    return tmp_path


@pytest.mark.parametrize(
    "rows, fragment",
    [
        ([0, ROWS], f"row_indices[1] = {ROWS} is invalid: the images are numbered 0 to {ROWS - 1}"),
        ([0, -1], "row_indices[1] = -1 is invalid"),
        ([0, 2.5], "row_indices[1] = 2.5 is invalid"),
        ([0, True], "row_indices[1] = True is invalid"),
        ([4, 9, 4], "lists image 4 more than once"),
        ([4], "has 1 image(s)"),
        ("1,2", "it must be a list of image numbers"),
    ],
)
def test_bad_row_indices(data_dir, rows, fragment):
    with pytest.raises(InvalidArgument) as error:
        digits_covariance(rows, data_dir)
    assert fragment in str(error.value)


def test_subsample_covariance(data_dir):
    table = synthetic_table()
    expected = np.cov(table[[1, 5, 9], :64], rowvar=False, ddof=1)
    np.testing.assert_allclose(digits_covariance([1, 5, 9], data_dir), expected, rtol=0, atol=1e-12)


DATA_INSTANCE = {
    "id": "digits-test",
    "kind": "perturbed_low_rank_phase_from_data",
    "row_indices": list(range(0, 400, 3)),
    "depth": 3,
    "alpha": "0.05",
    "eta": "0.1",
    "eps": "0.05",
    "delta": "0.01",
}


def test_data_instance_builds(data_dir):
    instance = Instance.from_dict({**DATA_INSTANCE, "thresholds": ["0.5"], "normalisation": "100"}, data_dir=data_dir)

    assert instance.n == 64
    assert instance.thresholds == (0.5,)
    assert instance.extra["normalisation"] == "100.0"
    truth = np.cov(synthetic_table()[:, :64], rowvar=False, ddof=1) / 100
    np.testing.assert_allclose(instance.ground_truth_array(), truth, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "changes, removed, fragment",
    [
        ({"noise": [[0]]}, None, "gives noise, but this kind computes its ground truth and noise"),
        ({"ground_truth": [[1]]}, None, "gives ground_truth, but"),
        ({"normalisation": "abc"}, None, "normalisation = 'abc' is invalid"),
        ({"normalisation": "0"}, None, "normalisation = 0 is invalid"),
        ({"row_indice": [1, 2]}, "row_indices", "rename 'row_indice' to 'row_indices'"),
        ({"epsilon": "0.05"}, "eps", "rename 'epsilon' to 'eps'"),
        ({}, "delta", "missing the field(s) delta"),
    ],
)
def test_data_instance_rejects(data_dir, changes, removed, fragment):
    data = {**DATA_INSTANCE, **changes}
    data.pop(removed, None)
    with pytest.raises(InvalidArgument) as error:
        Instance.from_dict(data, data_dir=data_dir)
    assert fragment in str(error.value)


def test_data_instance_keeps_text_descriptions(data_dir):
    described = {**DATA_INSTANCE, "ground_truth": "covariance of all images", "data": "synthetic", "observed_target": "subsample"}
    assert Instance.from_dict(described, data_dir=data_dir).id == "digits-test"
