"""Instances: exact parsing, JSON round trips, and one clear error per kind of bad input."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

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


# ------------------------------------------------------------ instance file keys

REPOSITORY = Path(__file__).resolve().parents[1]
CASE_FILES = sorted((REPOSITORY / "dmfverify" / "data" / "cases").glob("*.json"))
SHARED_CASE_FILES = sorted((REPOSITORY / ".." / "shared" / "cases").glob("*.json"))

FILE_BASE = {"id": "x", "spectrum": ["1", "0.5", "0.1"], "depth": 3, "alpha": "0.05", "eta": "0.1"}


def write_instance(tmp_path, data, name="instance.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_misspelt_phase_keys_rejected(tmp_path):
    data = {**FILE_BASE, "kind": "noiseless_low_rank_phase", "rnak": 1, "epsilon": "0.01", "detla": "0.01"}
    with pytest.raises(InvalidArgument) as error:
        load_instance(write_instance(tmp_path, data))

    message = str(error.value)
    assert message.startswith("instance.json: ")
    assert "missing the field(s) rank, eps, delta" in message
    assert "'rnak' to 'rank'" in message
    assert "'epsilon' to 'eps'" in message
    assert "'detla' to 'delta'" in message


def test_misspelt_keys_rejected_without_kind():
    data = {**FILE_BASE, "rnak": 1, "detla": "0.01"}
    with pytest.raises(InvalidArgument) as error:
        Instance.from_dict(data)

    message = str(error.value)
    assert "not part of the format" in message
    assert "rename 'rnak' to 'rank', 'detla' to 'delta'" in message


@pytest.mark.parametrize(
    "key, known",
    [
        ("detla", "delta"),
        ("rnak", "rank"),
        ("Alpha", "alpha"),
        ("epsilon", "eps"),
        ("eigenvalues", "spectrum"),
        ("lambda", "spectrum"),
        ("initialization", "initialisation"),
        ("threshold", "thresholds"),
        ("notes", "note"),
        ("ground truth", "ground_truth"),
    ],
)
def test_close_key_names_the_fix(key, known):
    with pytest.raises(InvalidArgument) as error:
        Instance.from_dict({**FILE_BASE, key: "0.01"})

    message = str(error.value)
    assert f"the key {key!r}" in message
    assert f"rename it to {known!r}" in message


@pytest.mark.parametrize(
    "key, known",
    [("alhpa", "alpha"), ("step_size", "eta"), ("learning_rate", "eta"), ("N", "depth"), ("dept", "depth")],
)
def test_missing_field_names_close_key(key, known):
    data = {name: value for name, value in FILE_BASE.items() if name != known}
    data[key] = FILE_BASE[known]
    with pytest.raises(InvalidArgument) as error:
        Instance.from_dict(data)

    message = str(error.value)
    assert f"missing the field(s) {known}" in message
    assert f"rename {key!r} to {known!r}" in message


def test_own_keys_are_kept():
    data = {**FILE_BASE, "source": "hand-made", "comment": "two gaps", "data": "none", "n": 3}
    instance = Instance.from_dict(data)
    assert instance.extra == {"source": "hand-made", "comment": "two gaps", "data": "none", "n": 3}


@pytest.mark.parametrize("path", CASE_FILES + SHARED_CASE_FILES, ids=lambda path: f"{path.parent.parent.name}-{path.stem}")
def test_reference_and_library_files_load(path, digits_dir):
    instance = load_instance(path, data_dir=digits_dir)
    case = json.loads(path.read_text())

    assert instance.id == case["id"]
    assert instance.kind == case["kind"]
    if "source" in case:
        assert instance.extra["source"] == case["source"]


def test_library_case_files_found():
    assert len(CASE_FILES) >= 11


@pytest.mark.parametrize("kind", ["noiseless_low_rank_phase", "perturbed_low_rank_phase"])
@pytest.mark.parametrize("absent", ["rank", "eps", "delta"])
def test_phase_kind_needs_rank_eps_delta(kind, absent):
    fields = {"rank": 1, "eps": "0.01", "delta": "0.01"}
    del fields[absent]

    with pytest.raises(InvalidArgument, match=f"missing the field\\(s\\) {absent}; add {absent}"):
        Instance.from_dict({**FILE_BASE, "kind": kind, **fields})
    with pytest.raises(InvalidArgument, match=f"of kind '{kind}' is missing {absent}"):
        make(kind=kind, **fields)


def test_generic_kinds_need_no_phase_fields():
    assert Instance.from_dict(FILE_BASE).rank is None
    assert make(kind="scalar_hitting_times").eps is None


def test_unknown_kind_suggests_close_kind():
    with pytest.raises(InvalidArgument, match="did you mean 'noiseless_low_rank_phase'"):
        Instance.from_dict({**FILE_BASE, "kind": "noiseless_low_rank"})


@pytest.mark.parametrize(
    "noise, fragment",
    [
        ({"spectral_norm": "0.01", "sed": 3}, "rename it to 'seed'"),
        ({"sigma": "0.01"}, "rename 'sigma' to 'spectral_norm'"),
        ({"seed": 3}, "missing the field(s) spectral_norm"),
        ({"spectral_norm": "0.01", "colour": "red"}, "unknown key(s) 'colour'"),
        ({"spectral_norm": "0.01", "seed": "3"}, "noise seed = '3' is invalid"),
        ({"spectral_norm": "0.01", "kind": "low_rank", "rank": 5}, "noise rank = 5 is invalid"),
    ],
)
def test_noise_mapping_checked(noise, fragment):
    with pytest.raises(InvalidArgument) as error:
        make(noise=noise)
    assert fragment in str(error.value)


def test_require_psd_must_be_boolean():
    data = {**FILE_BASE, "spectrum": ["1", "-0.5"]}
    with pytest.raises(InvalidArgument, match="require_psd = 'false' is invalid"):
        Instance.from_dict({**data, "require_psd": "false"})

    assert Instance.from_dict({**data, "require_psd": False}).spectrum[1] == Fraction(-1, 2)


# ------------------------------------------------------------ file encoding


def test_non_utf8_file_rejected(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(json.dumps({**FILE_BASE, "note": "caf\u00e9"}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(InvalidArgument) as error:
        load_instance(path)

    message = str(error.value)
    assert str(path) in message
    assert "is not UTF-8 text" in message
    assert "save it as UTF-8 JSON" in message


def test_utf16_file_named_as_such(tmp_path):
    path = tmp_path / "utf16.json"
    path.write_bytes(b"\xff\xfe" + json.dumps(FILE_BASE).encode("utf-16-le"))
    with pytest.raises(InvalidArgument, match="starts with a UTF-16 byte-order mark"):
        load_instance(path)


def test_utf8_byte_order_mark_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({**FILE_BASE, "note": "caf\u00e9"}, ensure_ascii=False).encode("utf-8"))
    assert load_instance(path).note == "caf\u00e9"


# ------------------------------------------------------------ initialisation numbers


def test_initialisation_scale_as_string():
    instance = Instance.from_dict({**FILE_BASE, "initialisation": {"kind": "gaussian", "scale": "0.01", "seed": 1}})
    assert instance.initialisation.scale == 0.01


def test_per_factor_scales_as_strings_are_exact():
    import mpmath

    data = {**FILE_BASE, "initialisation": {"kind": "per_factor", "scales": ["0.05", "1/3", 0.5]}}
    instance = Instance.from_dict(data)
    assert instance.initialisation.scales == (Fraction(1, 20), Fraction(1, 3), Fraction(1, 2))

    with mpmath.workdps(40):
        factors = instance.initialisation.factors(3, 3, arithmetic="mpmath")
        assert factors[1][0, 0] == mpmath.mpf(1) / 3
    assert Instance.from_dict(instance.to_dict()) == instance


@pytest.mark.parametrize("scale", ["0", "-0.1", "abc", "nan"])
def test_initialisation_bad_string_scale(scale):
    with pytest.raises(InvalidArgument, match=f"scale = '{scale}' is invalid: it must be a finite number > 0"):
        Instance.from_dict({**FILE_BASE, "initialisation": {"kind": "gaussian", "scale": scale}})


# ------------------------------------------------------------ message wording


def test_rank_message_article():
    with pytest.raises(InvalidArgument) as error:
        make(rank=3)
    assert "for the 3 x 3 target" in str(error.value)
    assert "an 3" not in str(error.value)


def test_negative_eigenvalue_names_both_switches():
    with pytest.raises(InvalidArgument) as error:
        make(spectrum=["1", "-0.5"])
    assert '"require_psd": false' in str(error.value)
    assert "require_psd=False" in str(error.value)
