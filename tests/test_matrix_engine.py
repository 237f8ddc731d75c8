"""Tests of the matrix engine and the initialisations.

The aligned runs are checked against the scalar recurrence
``x <- x + eta x^(N-1) (mu - x^N)``, ``p = x^N``, computed by a plain mpmath loop
in this file.  Random runs are checked against a direct implementation of the
gradient ``(W_N..W_{j+1})^T (W - Mhat) (W_{j-1}..W_1)^T`` that recomputes every
partial product from scratch.
"""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from dmfverify.errors import DivergenceError, InvalidArgument
from dmfverify.initialisation import Initialisation
from dmfverify.matrix_engine import MatrixRun, StepRecord, run_matrix_gd, schedule_steps

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
CASES = SHARED / "cases"

SPECTRUM = ["1", "0.5", "0.1", "0.05"]
ALIGNED = Initialisation("aligned")


def scalar_reference(spectrum, depth, alpha, eta, horizon, dps=60):
    """Return ``p_i(k) = x_i(k)^N`` for k = 0..horizon, sorted descending, as mpf rows."""
    with mpmath.workdps(dps):
        mus = [mpmath.mpf(value) for value in spectrum]
        eta_mp = mpmath.mpf(eta)
        xs = [mpmath.mpf(alpha)] * len(mus)
        rows = []
        for _ in range(horizon + 1):
            rows.append(sorted((x**depth for x in xs), reverse=True))
            xs = [x + eta_mp * x ** (depth - 1) * (mu - x**depth) for x, mu in zip(xs, mus)]
        return rows


def diagonal(values):
    n = len(values)
    return [[values[i] if i == j else "0" for j in range(n)] for i in range(n)]


def random_orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def rational_householder(v):
    """Exact orthogonal matrix ``I - 2 v v^T / (v^T v)`` with rational entries."""
    v = [Fraction(value) for value in v]
    norm_squared = sum(value * value for value in v)
    n = len(v)
    return [[Fraction(int(i == j)) - 2 * v[i] * v[j] / norm_squared for j in range(n)] for i in range(n)]


def exact_rotated_target(spectrum, q):
    n = len(spectrum)
    values = [Fraction(value) for value in spectrum]
    return [[sum(q[i][k] * values[k] * q[j][k] for k in range(n)) for j in range(n)] for i in range(n)]


def direct_gd(factors, target, eta, steps):
    """Gradient descent with every partial product recomputed from scratch."""
    factors = [factor.copy() for factor in factors]
    n = target.shape[0]

    def chain(matrices):
        result = np.eye(n)
        for matrix in matrices:
            result = matrix @ result
        return result

    for _ in range(steps):
        residual = chain(factors) - target
        gradients = []
        for j in range(len(factors)):
            after = chain(factors[j + 1 :])
            before = chain(factors[:j])
            gradients.append(after.T @ residual @ before.T)
        factors = [factor - eta * gradient for factor, gradient in zip(factors, gradients)]
    return factors


def relative_error(value, reference):
    return abs(value - reference) / abs(reference)


# ---------------------------------------------------------------- agreement with the scalar recurrence


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_aligned_mpmath_matches_scalar_recurrence(depth):
    horizon = 200
    run = run_matrix_gd(diagonal(SPECTRUM), depth, "0.1", ALIGNED, "0.05", horizon, arithmetic="mpmath", dps=50)
    reference = scalar_reference(SPECTRUM, depth, "0.05", "0.1", horizon)

    assert run.precision == 50
    assert run.precision_unit == "digits"
    assert run.steps.tolist() == list(range(horizon + 1))
    assert run.symmetric
    with mpmath.workdps(50):
        worst = max(
            relative_error(run.eigenvalues[k, i], reference[k][i]) for k in range(horizon + 1) for i in range(len(SPECTRUM))
        )
    assert worst < mpmath.mpf("1e-30")


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_aligned_float64_matches_scalar_recurrence(depth):
    horizon = 200
    run = run_matrix_gd(np.diag([float(value) for value in SPECTRUM]), depth, 0.1, ALIGNED, 0.05, horizon)
    reference = np.array([[float(value) for value in row] for row in scalar_reference(SPECTRUM, depth, "0.05", "0.1", horizon)])

    assert run.eigenvalues.dtype == np.float64
    np.testing.assert_allclose(run.eigenvalues, reference, rtol=1e-12, atol=0)


def test_rotated_exact_target_mpmath_matches_scalar():
    q = rational_householder([1, 2, -1, 3])
    target = exact_rotated_target(SPECTRUM, q)
    horizon = 120
    run = run_matrix_gd(target, 3, "0.1", ALIGNED, "0.05", horizon, arithmetic="mpmath", dps=50, schedule="geometric")
    reference = scalar_reference(SPECTRUM, 3, "0.05", "0.1", horizon)

    assert run.symmetric
    with mpmath.workdps(50):
        for row, step in enumerate(run.steps):
            for i in range(len(SPECTRUM)):
                assert relative_error(run.eigenvalues[row, i], reference[step][i]) < mpmath.mpf("1e-30")


@pytest.mark.parametrize("name", ["scalar-depth2", "scalar-depth3", "scalar-depth3-edge-step", "scalar-depth4-small-init", "scalar-depth5"])
def test_one_by_one_reference_products(name):
    path = CASES / f"{name}.json"
    if not path.exists():
        pytest.skip("reference cases are not available")
    case = json.loads(path.read_text())
    expected = case["expected"]["product_at_step"]
    steps = sorted(int(step) for step in expected)

    run = run_matrix_gd(
        [[case["eigenvalue"]]], case["depth"], case["eta"], ALIGNED, case["alpha"], steps[-1], arithmetic="mpmath", dps=50, schedule=steps
    )

    with mpmath.workdps(50):
        for row, step in enumerate(steps):
            reference = mpmath.mpf(expected[str(step)])
            assert abs(run.eigenvalues[row, 0] - reference) <= mpmath.mpf("1e-35") * abs(reference), step


# ---------------------------------------------------------------- reference low-rank phases


def _phase_cases():
    if not CASES.exists():
        return []
    names = []
    for path in sorted(CASES.glob("*.json")):
        kind = json.loads(path.read_text())["kind"]
        if kind in ("noiseless_low_rank_phase", "perturbed_low_rank_phase"):
            names.append(path.stem)
    return names


@pytest.mark.parametrize("name", _phase_cases() or ["missing"])
def test_reference_phase_times_rotated(name):
    if name == "missing":
        pytest.skip("reference cases are not available")
    case = json.loads((CASES / f"{name}.json").read_text())
    expected = case["expected"]
    spectrum = [Fraction(value) for value in case["spectrum"]]
    n = len(spectrum)
    target = np.diag([float(value) for value in spectrum])
    if "noise" in case:
        target = target + np.array([[float(Fraction(value)) for value in row] for row in case["noise"]])

    # Rotate the target so the engine works with full matrices even for the diagonal cases.
    q = random_orthogonal(n, seed=3)
    rotated = q @ target @ q.T
    rotated = (rotated + rotated.T) / 2

    rank = case["rank"]
    eps, delta = float(Fraction(case["eps"])), float(Fraction(case["delta"]))
    if "learn_times" in expected:
        learn_levels = [(1 - eps) * float(value) for value in spectrum[:rank]]
        learn_expected = expected["learn_times"]
    else:
        sigma = float(Fraction(expected["sigma"]))
        learn_levels = [(1 - eps) * (float(value) - sigma) for value in spectrum[:rank]]
        learn_expected = expected["learn_times_to_(1-eps)(lambda_i-sigma)"]
    leak_expected = expected["leak_times"]
    horizon = max([time for time in leak_expected if time is not None] + learn_expected) + 1

    run = run_matrix_gd(rotated, case["depth"], case["eta"], ALIGNED, case["alpha"], horizon, schedule="every")

    assert run.symmetric
    learn = [int(np.argmax(run.eigenvalue_trajectory(i) >= level)) for i, level in enumerate(learn_levels)]
    assert learn == learn_expected
    for offset, expected_time in enumerate(leak_expected):
        trajectory = run.eigenvalue_trajectory(rank + offset)
        if expected_time is None:
            assert np.all(trajectory < delta)
        else:
            assert int(np.argmax(trajectory >= delta)) == expected_time


# ---------------------------------------------------------------- metamorphic checks


def test_rotation_invariance_float64():
    values = np.array([1.0, 0.6, 0.3, 0.1, 0.05])
    horizon = 300
    plain = run_matrix_gd(np.diag(values), 3, 0.2, ALIGNED, 0.2, horizon)

    q = random_orthogonal(len(values), seed=11)
    rotated_target = (q * values) @ q.T
    rotated_target = (rotated_target + rotated_target.T) / 2
    rotated = run_matrix_gd(rotated_target, 3, 0.2, ALIGNED, 0.2, horizon)

    assert rotated.symmetric
    np.testing.assert_allclose(rotated.eigenvalues, plain.eigenvalues, rtol=1e-10, atol=0)
    np.testing.assert_allclose(rotated.loss, plain.loss, rtol=1e-10, atol=0)


def test_scaling_invariance_float64():
    depth, c = 3, 4.0
    values = np.array([1.0, 0.4, 0.05])
    base = run_matrix_gd(np.diag(values), depth, 0.3, ALIGNED, 0.1, 150)
    scaled = run_matrix_gd(
        np.diag(c * values), depth, 0.3 * c ** (-(2 * depth - 2) / depth), ALIGNED, 0.1 * c ** (1 / depth), 150
    )

    np.testing.assert_allclose(scaled.eigenvalues, c * base.eigenvalues, rtol=1e-11, atol=0)
    np.testing.assert_allclose(scaled.loss, c**2 * base.loss, rtol=1e-10, atol=0)


@pytest.mark.parametrize("arithmetic", ["float64", "mpmath"])
@pytest.mark.parametrize("depth", [2, 3, 5])
def test_random_init_matches_direct_gradient(depth, arithmetic):
    n = 4
    generator = np.random.default_rng(5)
    target = generator.standard_normal((n, n))
    init = Initialisation("gaussian", scale=0.8, seed=2)
    steps = 7

    run = run_matrix_gd(target, depth, 0.05, init, None, steps, arithmetic=arithmetic, dps=30, schedule=[steps])
    reference = direct_gd(init.factors(n, depth), target, 0.05, steps)

    assert len(run.factors) == depth
    for factor, expected in zip(run.factors, reference):
        values = np.array(factor.tolist(), dtype=float)
        np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-14)


def test_float64_and_mpmath_agree_on_random_init():
    generator = np.random.default_rng(8)
    target = generator.standard_normal((3, 3)) * 0.5
    init = Initialisation("orthogonal", scale=0.7, seed=4)

    fast = run_matrix_gd(target, 3, 0.05, init, None, 60, schedule="geometric")
    precise = run_matrix_gd(target, 3, 0.05, init, None, 60, arithmetic="mpmath", dps=40, schedule="geometric")

    assert precise.arithmetic == "mpmath"
    assert not precise.symmetric
    np.testing.assert_array_equal(fast.steps, precise.steps)
    np.testing.assert_allclose(fast.singular_values, precise.singular_values.astype(float), rtol=1e-10)
    np.testing.assert_allclose(fast.loss, precise.loss.astype(float), rtol=1e-10)


# ---------------------------------------------------------------- non-symmetric targets and recording


def test_nonsymmetric_noise_records_singular_values():
    generator = np.random.default_rng(1)
    target = np.diag([1.0, 0.5, 0.2, 0.1]) + 0.05 * generator.standard_normal((4, 4))
    run = run_matrix_gd(target, 3, 0.1, Initialisation("gaussian", seed=3), 0.3, 50, schedule="every", keep_products=True)

    assert not run.symmetric
    assert not run.symmetric_steps.any()
    assert np.isnan(run.eigenvalues).all()
    assert run.products.shape == (51, 4, 4)
    for row in range(len(run.steps)):
        product = run.products[row]
        np.testing.assert_allclose(run.singular_values[row], np.linalg.svd(product, compute_uv=False), rtol=1e-12)
        assert run.loss[row] == pytest.approx(0.5 * np.sum((product - target) ** 2), rel=1e-12)
    np.testing.assert_allclose(run.final_product(), run.products[-1], rtol=1e-12)
    assert run.loss[-1] < run.loss[0]


def test_symmetric_steps_store_sorted_absolute_eigenvalues():
    target = np.diag([1.0, -0.3, 0.2])
    run = run_matrix_gd(target, 2, 0.1, ALIGNED, 0.5, 40)

    assert run.symmetric
    np.testing.assert_allclose(run.singular_values, np.sort(np.abs(run.eigenvalues), axis=1)[:, ::-1])
    assert np.all(np.diff(run.eigenvalues, axis=1) <= 0)


def test_recorded_arrays_are_read_only():
    run = run_matrix_gd(np.eye(2), 2, 0.1, ALIGNED, 0.5, 3)
    with pytest.raises(ValueError):
        run.eigenvalues[0, 0] = 1.0
    with pytest.raises(ValueError):
        run.loss[0] = 1.0


def test_trajectory_index_out_of_range():
    run = run_matrix_gd(np.eye(2), 2, 0.1, ALIGNED, 0.5, 3)
    assert run.eigenvalue_trajectory(1).shape == (4,)
    assert run.singular_value_trajectory(0).shape == (4,)
    with pytest.raises(InvalidArgument, match="i = 2"):
        run.eigenvalue_trajectory(2)


def test_stop_callback_ends_run():
    target = np.diag([1.0, 0.1])
    seen = []

    def reached(record: StepRecord) -> bool:
        seen.append(record.step)
        return record.eigenvalues[0] >= 0.5

    run = run_matrix_gd(target, 3, 0.2, ALIGNED, 0.3, 5000, stop=reached)
    full = run_matrix_gd(target, 3, 0.2, ALIGNED, 0.3, run.final_step, schedule=[run.final_step])

    assert run.stopped_early
    assert run.steps[-1] == run.final_step == seen[-1]
    assert run.eigenvalues[-1, 0] >= 0.5
    assert run.eigenvalues[-2, 0] < 0.5
    for factor, expected in zip(run.factors, full.factors):
        np.testing.assert_array_equal(factor, expected)


def test_keep_products_mpmath_object_arrays():
    run = run_matrix_gd([["0.5", "0"], ["0", "0.25"]], 2, "0.5", ALIGNED, "0.5", 3, arithmetic="mpmath", dps=30, keep_products=True)
    assert run.products.dtype == object
    assert run.products.shape == (4, 2, 2)
    assert isinstance(run.products[-1, 0, 0], mpmath.mpf)
    assert isinstance(run.factors[0], mpmath.matrix)


# ---------------------------------------------------------------- schedules


def test_schedule_every_and_geometric():
    assert schedule_steps(3, "every").tolist() == [0, 1, 2, 3]
    assert schedule_steps(0, "geometric").tolist() == [0]
    geometric = schedule_steps(100_000, "geometric")
    assert geometric[0] == 0
    assert geometric[-1] == 100_000
    assert 150 <= len(geometric) <= 202
    assert np.all(np.diff(geometric) > 0)


def test_schedule_auto_switches_at_limit():
    assert len(schedule_steps(2000, "auto")) == 2001
    assert len(schedule_steps(2001, "auto")) <= 202


def test_schedule_explicit_list():
    run = run_matrix_gd(np.eye(2), 2, 0.1, ALIGNED, 0.5, 10, schedule=[0, 4, 10])
    assert run.steps.tolist() == [0, 4, 10]
    empty = run_matrix_gd(np.eye(2), 2, 0.1, ALIGNED, 0.5, 10, schedule=[])
    assert empty.steps.size == 0
    assert empty.eigenvalues.shape == (0, 2)


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [([3, 1], "strictly increasing"), ([0, 11], "outside"), ([1.5], "integer"), ("sometimes", "sometimes")],
)
def test_schedule_rejects_bad_steps(schedule, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        schedule_steps(10, schedule)


# ---------------------------------------------------------------- divergence


def test_divergence_raises_without_runtime_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError, match=r"diverged at step \d+: loss = "):
            run_matrix_gd(np.diag([1.0, 0.5]), 3, 50.0, ALIGNED, 1.0, 1000)


def test_divergence_mpmath():
    with pytest.raises(DivergenceError, match="step"):
        run_matrix_gd([["1"]], 2, "50", ALIGNED, "2", 1000, arithmetic="mpmath", dps=20)


def test_unbalanced_factor_norm_divergence():
    init = Initialisation("per_factor", scales=[1e160, 1e-160])
    with pytest.raises(DivergenceError, match="step 0"):
        run_matrix_gd(np.eye(2), 2, 0.1, init, None, 5)


# ---------------------------------------------------------------- initialisations


@pytest.mark.parametrize("kind", ["gaussian", "orthogonal"])
def test_random_init_reproducible_from_seed(kind):
    first = Initialisation(kind, scale=0.3, seed=42).factors(5, 3)
    second = Initialisation.from_dict(Initialisation(kind, scale=0.3, seed=42).to_dict()).factors(5, 3)
    other = Initialisation(kind, scale=0.3, seed=43).factors(5, 3)

    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[1])


def test_omitted_seed_is_drawn_and_stored():
    init = Initialisation("gaussian")
    assert isinstance(init.seed, int)
    replay = Initialisation.from_dict(init.to_dict())
    np.testing.assert_array_equal(init.factors(3, 2, 0.1)[0], replay.factors(3, 2, 0.1)[0])


def test_mpmath_factors_equal_float64_factors():
    init = Initialisation("orthogonal", seed=9)
    with mpmath.workdps(40):
        precise = init.factors(4, 3, "0.5", arithmetic="mpmath")
    fast = init.factors(4, 3, "0.5")
    for matrix, array in zip(precise, fast):
        assert isinstance(matrix, mpmath.matrix)
        assert [[float(value) for value in row] for row in matrix.tolist()] == array.tolist()


def test_orthogonal_init_is_scaled_orthogonal():
    factors = Initialisation("orthogonal", scale=0.5, seed=1).factors(6, 3)
    for factor in factors:
        np.testing.assert_allclose(factor.T @ factor, 0.25 * np.eye(6), atol=1e-14)


def test_gaussian_init_entry_variance():
    n, scale = 200, 0.7
    (factor, _) = Initialisation("gaussian", scale=scale, seed=0).factors(n, 2)
    # 40000 entries: the sample variance is within 3% of scale^2 / n with overwhelming probability.
    assert np.var(factor) == pytest.approx(scale**2 / n, rel=0.03)
    assert abs(np.mean(factor)) < 5 * scale / n


def test_per_factor_and_aligned_exact_in_mpmath():
    with mpmath.workdps(50):
        (first, second) = Initialisation("per_factor", scales=[0.5, 0.25]).factors(2, 2)
        (aligned, _) = Initialisation("aligned").factors(2, 2, "0.1", arithmetic="mpmath")
        assert aligned[0, 0] == mpmath.mpf("0.1")
    assert first[0, 0] == 0.5
    assert second[1, 1] == 0.25


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"kind": "uniform"}, "'uniform' is unknown"),
        ({"kind": "gaussian", "scale": -1.0}, "scale = -1.0"),
        ({"kind": "gaussian", "scale": 0.0}, "scale = 0.0"),
        ({"kind": "orthogonal", "scale": float("nan")}, "scale = nan"),
        ({"kind": "gaussian", "seed": -3}, "seed = -3"),
        ({"kind": "aligned", "scale": 0.5}, "alpha sets its scale"),
        ({"kind": "aligned", "seed": 1}, "seed = 1"),
        ({"kind": "per_factor"}, "scales = None"),
        ({"kind": "per_factor", "scales": [0.5, 0.0]}, r"scales\[1\] = 0.0"),
        ({"kind": "gaussian", "scales": [0.5, 0.5]}, "only accepted by the 'per_factor'"),
    ],
)
def test_initialisation_rejects_invalid(arguments, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        Initialisation(**arguments)


def test_initialisation_factor_errors():
    with pytest.raises(InvalidArgument, match="has 2 entries but depth = 3"):
        Initialisation("per_factor", scales=[0.5, 0.5]).factors(2, 3)
    with pytest.raises(InvalidArgument, match="alpha = None"):
        Initialisation("aligned").factors(2, 2)
    with pytest.raises(InvalidArgument, match="alpha = -1"):
        Initialisation("aligned").factors(2, 2, -1)
    with pytest.raises(InvalidArgument, match="depth = 1"):
        Initialisation("aligned").factors(2, 1, 0.5)
    with pytest.raises(InvalidArgument, match="n = 0"):
        Initialisation("aligned").factors(0, 2, 0.5)


def test_from_dict_rejects_unknown_key():
    with pytest.raises(InvalidArgument, match="unknown key"):
        Initialisation.from_dict({"kind": "aligned", "alpha": 0.1})
    with pytest.raises(InvalidArgument, match="missing the key 'kind'"):
        Initialisation.from_dict({"scale": 0.1})


# ---------------------------------------------------------------- argument validation


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"depth": 1}, "depth = 1"),
        ({"eta": 0}, "eta = 0"),
        ({"eta": "nan"}, "eta = nan"),
        ({"horizon": -1}, "horizon = -1"),
        ({"horizon": 2.5}, "horizon = 2.5"),
        ({"target": np.ones((2, 3))}, r"shape \(2, 3\)"),
        ({"target": np.array([[1.0, np.nan], [0.0, 1.0]])}, r"target\[0\]\[1\] = nan"),
        ({"target": [["1", "x"], ["0", "1"]]}, "'x'"),
        ({"arithmetic": "float32"}, "float32"),
        ({"arithmetic": "mpmath", "dps": 0}, "dps = 0"),
        ({"init": "aligned"}, "init = 'aligned'"),
        ({"stop": 3}, "stop = 3"),
    ],
)
def test_run_rejects_invalid_arguments(changes, fragment):
    arguments = {"target": np.eye(2), "depth": 2, "eta": 0.1, "init": ALIGNED, "alpha": 0.5, "horizon": 5}
    arguments.update(changes)
    with pytest.raises(InvalidArgument, match=fragment):
        run_matrix_gd(**arguments)


def test_init_accepts_json_form():
    run = run_matrix_gd(np.eye(3), 3, 0.1, {"kind": "orthogonal", "seed": 1}, 0.5, 0)
    expected = Initialisation("orthogonal", seed=1).factors(3, 3, 0.5)

    assert isinstance(run, MatrixRun)
    for factor, reference in zip(run.factors, expected):
        np.testing.assert_array_equal(factor, reference)
