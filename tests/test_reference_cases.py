"""Every reference instance is reproduced by the scalar engine: integers exactly, reals to the stated digits."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest

from reference import read_case, reference_case_paths
from dmfverify.instance import load_instance
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.simulation import observe

SCALAR = [path for path in reference_case_paths() if read_case(path)["kind"] == "scalar_hitting_times"]
PHASE = [path for path in reference_case_paths() if read_case(path)["kind"] in ("noiseless_low_rank_phase", "perturbed_low_rank_phase")]

# The threshold 0.01 of scalar-depth2 equals alpha^2 = 0.1^2 exactly, so the exact hitting
# time is 0.  The reference loop rounded 0.1 and 0.01 to binary separately and found
# 0.1^2 < 0.01 in its arithmetic, hence 1.  The certified engine decides step 0 exactly.
EXACT_TIES = {("scalar-depth2", 0): 0}


def _ids(paths):
    return [path.stem for path in paths]


@pytest.mark.parametrize("path", SCALAR, ids=_ids(SCALAR))
def test_scalar_hitting_times_mpmath(path):
    case = read_case(path)
    instance = load_instance(path)
    expected = case["expected"]["hitting_times"]

    run = simulate_scalar(instance, max(expected) + 5, arithmetic="mpmath", dps=60)

    for level, value in zip(instance.thresholds, expected):
        earliest, latest = run.hitting_time(0, level)
        assert earliest == latest == value, f"threshold {level}"


@pytest.mark.parametrize("bits", [53, 200])
@pytest.mark.parametrize("path", SCALAR, ids=_ids(SCALAR))
def test_scalar_hitting_times_certified(path, bits):
    case = read_case(path)
    instance = load_instance(path)
    expected = case["expected"]["hitting_times"]

    run = simulate_scalar(instance, max(expected) + 5, arithmetic="certified", bits=bits)

    for position, (level, value) in enumerate(zip(instance.thresholds, expected)):
        earliest, latest = run.hitting_time(0, level)
        exact = EXACT_TIES.get((case["id"], position), value)
        assert earliest == latest == exact, f"threshold {level}: certified range [{earliest}, {latest}]"


@pytest.mark.parametrize("path", SCALAR, ids=_ids(SCALAR))
def test_scalar_products_certified_enclose_reference(path):
    case = read_case(path)
    instance = load_instance(path)
    steps = [int(step) for step in case["expected"]["product_at_step"]]

    run = simulate_scalar(instance, max(steps), arithmetic="certified", bits=200, snapshot_steps=steps)

    for step, text in case["expected"]["product_at_step"].items():
        low, high = run.value(0, int(step))
        with mpmath.workdps(60):
            reference = mpmath.mpf(text)
            tolerance = abs(reference) * mpmath.mpf(10) ** -38
            assert mpmath.mpf(low.numerator) / low.denominator <= reference + tolerance
            assert mpmath.mpf(high.numerator) / high.denominator >= reference - tolerance
            assert float(high - low) <= float(tolerance) * 10


@pytest.mark.parametrize("path", SCALAR, ids=_ids(SCALAR))
def test_scalar_products_mpmath_match_40_digits(path):
    case = read_case(path)
    instance = load_instance(path)
    steps = [int(step) for step in case["expected"]["product_at_step"]]

    run = simulate_scalar(instance, max(steps), arithmetic="mpmath", dps=60, snapshot_steps=steps)

    for step, text in case["expected"]["product_at_step"].items():
        value = run.value(0, int(step))[0]
        with mpmath.workdps(60):
            reference = mpmath.mpf(text)
            assert abs(mpmath.mpf(value.numerator) / value.denominator - reference) <= abs(reference) * mpmath.mpf(10) ** -38


@pytest.mark.parametrize("path", SCALAR, ids=_ids(SCALAR))
def test_float64_differences_are_flagged(path):
    """Where float64 disagrees with the reference, the certified run is exact and decides."""
    case = read_case(path)
    instance = load_instance(path)
    expected = case["expected"]["hitting_times"]
    horizon = max(expected) + 5

    plain = simulate_scalar(instance, horizon, arithmetic="float64")
    certified = simulate_scalar(instance, horizon, arithmetic="certified")

    for position, level in enumerate(instance.thresholds):
        float_time = plain.hitting_time(0, level)[0]
        earliest, latest = certified.hitting_time(0, level)
        exact = EXACT_TIES.get((case["id"], position), expected[position])
        assert earliest == latest == exact
        if float_time != exact:
            assert (case["id"], position) in EXACT_TIES


@pytest.mark.parametrize("arithmetic", ["mpmath", "certified"])
@pytest.mark.parametrize("path", PHASE, ids=_ids(PHASE))
def test_phase_observables(path, arithmetic):
    case = read_case(path)
    expected = case["expected"]
    instance = load_instance(path)

    result = observe(instance, arithmetic=arithmetic, dps=50)

    learn_key = "learn_times" if case["kind"] == "noiseless_low_rank_phase" else "learn_times_to_(1-eps)(lambda_i-sigma)"
    assert result[learn_key] == expected[learn_key]
    assert result["leak_times"] == expected["leak_times"]
    assert result["observed_T0"] == expected["observed_T0"]
    assert result["observed_T1"] == expected["observed_T1"]


@pytest.mark.parametrize("path", [p for p in PHASE if read_case(p)["kind"] == "perturbed_low_rank_phase"], ids=lambda p: p.stem)
def test_perturbed_spectrum_and_sigma(path):
    case = read_case(path)
    expected = case["expected"]
    instance = load_instance(path)

    result = observe(instance, arithmetic="certified")

    # The listed eigenvalues agree with the noise matrix as written (17 significant digits per
    # entry) only to about 1e-16: they were computed from the unrounded noise.  Our enclosures
    # are of the matrix as written, so the comparison is at 1e-14.
    with mpmath.workdps(40):
        for value, reference in zip(result["perturbed_eigenvalues"], expected["perturbed_eigenvalues"]):
            assert abs(mpmath.mpf(value) - mpmath.mpf(reference)) < mpmath.mpf(10) ** -14
        assert abs(mpmath.mpf(result["sigma"]) - mpmath.mpf(expected["sigma"])) < mpmath.mpf(10) ** -14


def test_real_data_spectra(digits_dir):
    path = [p for p in reference_case_paths() if read_case(p)["kind"] == "perturbed_low_rank_phase_from_data"][0]
    case = read_case(path)
    instance = load_instance(path, data_dir=digits_dir)

    from dmfverify.spectrum import ground_truth_spectrum, noise_norm, target_spectrum

    truth = ground_truth_spectrum(instance, dps=20).as_floats()
    target = target_spectrum(instance, dps=20).as_floats()
    low, high = noise_norm(instance, dps=20)

    assert truth[:10] == pytest.approx(case["expected"]["ground_truth_top_eigenvalues"], abs=1e-9)
    assert target[:10] == pytest.approx(case["expected"]["observed_target_top_eigenvalues"], abs=1e-9)
    assert float((low + high) / 2) == pytest.approx(case["expected"]["sigma_spectral"], abs=1e-9)
