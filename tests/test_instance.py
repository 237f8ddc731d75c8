"""Instances: exact parsing, JSON round trips, and one clear error per kind of bad input."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance, generate_noise, load_instance
from dmfverify.rounding import to_fraction_exact
from dmfverify.validation import to_fraction

BASE = dict(spectrum=["1", "0.5", "0.1"], depth=3, alpha="0.05", eta="0.1")


def make(**changes):
    return Instance.create(**{**BASE, **changes})


def test_decimal_strings_are_exact():
    instance = make()
    assert instance.alpha == Fraction(1, 20)
    assert instance.eta == Fraction(1, 10)
    assert instance.spectrum == (Fraction(1), Fraction(1, 2), Fraction(1, 10))


def test_json_round_trip(tmp_path):
    instance = make(rank=1, eps="0.01", delta="0.001", thresholds=["0.3"], noise={"spectral_norm": "0.01", "seed": 3})
    path = tmp_path / "instance.json"
    instance.to_json(path)

    loaded = load_instance(path)

    assert loaded == instance
    assert loaded.fingerprint() == instance.fingerprint()


def test_generated_noise_has_requested_norm():
    noise = np.array([[float(x) for x in row] for row in generate_noise(5, "0.2", seed=1)])
    assert np.linalg.norm(noise, 2) == pytest.approx(0.2, rel=1e-12)
    assert np.allclose(noise, noise.T)


def test_negative_mpf_converts_with_sign():
    import mpmath

    assert to_fraction_exact(mpmath.mpf(-0.75)) == Fraction(-3, 4)
    assert to_fraction("x", mpmath.mpf("-0.5")) == Fraction(-1, 2)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        (dict(alpha="0"), "alpha = 0"),
        (dict(alpha="-0.1"), "alpha"),
        (dict(eta="-1"), "eta = -1"),
        (dict(eta="nan"), "eta = nan"),
        (dict(depth=1), "depth = 1"),
        (dict(depth="three"), "depth = 'three'"),
        (dict(rank=3), "rank = 3"),
        (dict(rank=0), "rank = 0"),
        (dict(eps="1.5"), "eps = 1.5"),
        (dict(spectrum=["1", "inf"]), "spectrum[1] = inf"),
        (dict(spectrum=["1", "-0.5"]), "negative eigenvalue -0.5"),
        (dict(noise=[["0", "0"], ["0", "0"]]), "noise is 2 x 2 but ground truth is 3 x 3"),
    ],
)
def test_bad_input_names_the_value(changes, fragment):
    with pytest.raises(InvalidArgument) as error:
        make(**changes)
    assert fragment in str(error.value)
    assert isinstance(error.value, ValueError)


def test_non_square_ground_truth():
    with pytest.raises(InvalidArgument, match="not square: row 1 has 1 entries"):
        Instance.create(ground_truth=[["1", "0"], ["0"]], depth=2, alpha="0.1", eta="0.1")


def test_non_symmetric_ground_truth():
    with pytest.raises(InvalidArgument, match=r"not symmetric: entry \(0, 1\) = 1 but entry \(1, 0\) = 0"):
        Instance.create(ground_truth=[["1", "1"], ["0", "1"]], depth=2, alpha="0.1", eta="0.1")


def test_non_psd_ground_truth():
    with pytest.raises(InvalidArgument, match="not positive semidefinite: its smallest eigenvalue is -1"):
        Instance.create(ground_truth=[["1", "0"], ["0", "-1"]], depth=2, alpha="0.1", eta="0.1")


def test_rounding_negativity_is_accepted():
    """A covariance with eigenvalues of order -1e-17 times its norm passes the PSD check."""
    instance = Instance.create(ground_truth=[[1.0, 0.0], [0.0, -1e-17]], depth=2, alpha="0.1", eta="0.1")
    assert instance.n == 2


def test_nan_in_matrix_names_entry():
    with pytest.raises(InvalidArgument, match=r"ground_truth\[1\]\[0\] = nan"):
        Instance.create(ground_truth=[[1.0, 0.0], [float("nan"), 1.0]], depth=2, alpha="0.1", eta="0.1")


def test_nonsymmetric_noise_rejected_by_scalar_engine():
    from dmfverify.scalar_engine import simulate_scalar

    instance = make(noise=[["0", "0.01", "0"], ["0", "0", "0"], ["0", "0", "0"]])
    with pytest.raises(InvalidArgument, match="non-symmetric noise"):
        simulate_scalar(instance, 10)


def test_missing_field_in_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"id": "x", "spectrum": ["1"], "alpha": "0.1"}))
    with pytest.raises(InvalidArgument, match="missing the field.*depth, eta"):
        load_instance(path)


def test_malformed_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        load_instance(path)


def test_missing_file():
    with pytest.raises(InvalidArgument, match="was not found"):
        load_instance("/nonexistent/instance.json")
