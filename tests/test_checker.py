"""The checker on the catalog: proved claims hold on the reference cases, planted false bounds are caught."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import mpmath
import pytest
import sympy

from dmfverify.checker import CheckOptions, check, derived_values
from dmfverify.instance import Instance, load_instance
from dmfverify.symbolic import Phi, alpha, evaluate, eta, mu, sigma, u, N
from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem, WindowBound
from dmfverify.theorem_loader import builtin_theorems, load_theorems, select
from dmfverify.verdict import Outcome
from reference import read_case, reference_case_paths

SYNTHETIC = [path for path in reference_case_paths() if read_case(path)["kind"] != "perturbed_low_rank_phase_from_data"]
PROVED = [theorem for theorem in builtin_theorems() if theorem.status == "proved"]


def _by_id(theorem_id: str) -> Theorem:
    return select(builtin_theorems(), [theorem_id])[0]


@pytest.mark.parametrize("path", SYNTHETIC, ids=lambda p: p.stem)
def test_proved_claims_hold_or_are_vacuous(path):
    instance = load_instance(path)
    for theorem in PROVED:
        for verdict in check(theorem, instance):
            assert verdict.verdict in (Outcome.HOLDS, Outcome.VACUOUS), str(verdict)


def test_proved_claims_on_real_data(digits_dir):
    path = [p for p in reference_case_paths() if read_case(p)["kind"] == "perturbed_low_rank_phase_from_data"][0]
    instance = load_instance(path, data_dir=digits_dir)
    for theorem in PROVED:
        for verdict in check(theorem, instance):
            if theorem.id == "C":
                # Nearly equal tiny eigenvalues have overlapping enclosures, so their order cannot be compared.
                assert verdict.verdict is Outcome.INCONCLUSIVE, str(verdict)
                assert "overlapping eigenvalue enclosures" in verdict.reason
            else:
                assert verdict.verdict in (Outcome.HOLDS, Outcome.VACUOUS), str(verdict)


@pytest.mark.parametrize("path", [p for p in SYNTHETIC if "phase" in read_case(p)["kind"]], ids=lambda p: p.stem)
def test_guaranteed_intervals_match_reference(path):
    case = read_case(path)
    instance = load_instance(path)
    for key, theorem_id in (("guaranteed_L1", "L1"), ("guaranteed_L2", "L2"), ("guaranteed_Q1", "Q1")):
        reference = case["expected"].get(key)
        if reference is None:
            continue
        values = derived_values(_by_id(theorem_id), instance)
        assert values is not None
        # The reference noise matrices were rounded to 17 digits when written, so sigma and
        # everything built on it agree with the reference only to about 1e-16.
        tolerance = 1e-18 if instance.is_noiseless else 1e-10
        with mpmath.workdps(30):
            assert abs(mpmath.mpf(values["T0"].numerator) / values["T0"].denominator - mpmath.mpf(reference["T0"])) < tolerance
            assert abs(mpmath.mpf(values["T1"].numerator) / values["T1"].denominator - mpmath.mpf(reference["T1"])) < tolerance
        assert (values["T0"] < values["T1"]) == reference["condition_holds"]


def _planted(theorem: Theorem, claim_name: str, **changes) -> Theorem:
    claims = tuple(dataclasses.replace(claim, **changes) if claim.name == claim_name else claim for claim in theorem.claims)
    return dataclasses.replace(theorem, id=theorem.id + "planted", claims=claims)


def _violated_somewhere(theorem: Theorem, tmp_path) -> list:
    found = []
    for path in SYNTHETIC:
        instance = load_instance(path)
        for verdict in check(theorem, instance):
            if verdict.verdict is Outcome.VIOLATED:
                replay = tmp_path / f"{instance.id}.json"
                instance.to_json(replay)
                found.append((replay, verdict))
    return found


def test_planted_h1_lower_times_1_2_is_violated(tmp_path):
    h1 = _by_id("H1")
    lower = h1.claim("lower")
    planted = _planted(h1, "lower", bound=lower.bound * sympy.Rational(6, 5))

    found = _violated_somewhere(planted, tmp_path)

    assert found
    replay, verdict = found[0]
    again = [v for v in check(planted, load_instance(replay)) if v.claim == "lower"][0]
    assert again.verdict is Outcome.VIOLATED
    assert again.margin < 0


def test_planted_l1_with_doubled_t1_is_violated(tmp_path):
    l1 = _by_id("L1")
    T1 = sympy.Symbol("T1")
    claims = tuple(dataclasses.replace(claim, stop=2 * T1) for claim in l1.claims)
    planted = dataclasses.replace(l1, id="L1planted", claims=claims)

    found = _violated_somewhere(planted, tmp_path)

    assert any(verdict.claim == "inactive" for _, verdict in found)


def test_planted_p2_with_half_sigma_is_violated(tmp_path):
    p2 = _by_id("P2")
    planted = _planted(p2, "limit eigenvalues", bound=sigma / 2)

    found = _violated_somewhere(planted, tmp_path)

    assert any(verdict.claim == "limit eigenvalues" for _, verdict in found)


def test_true_bounds_are_not_violated_where_planted_ones_are(tmp_path):
    for theorem_id in ("H1", "L1", "P2"):
        assert not _violated_somewhere(_by_id(theorem_id), tmp_path)


def test_vacuous_names_failed_hypothesis():
    instance = Instance.create(spectrum=["1", "0.5"], depth=2, alpha="0.05", eta="0.1", rank=1, eps="0.01", delta="0.01")
    verdicts = check(_by_id("L2"), instance)
    assert all(v.verdict is Outcome.VACUOUS for v in verdicts)
    assert "N >= 3" in verdicts[0].reason


def test_missing_rank_is_vacuous():
    instance = Instance.create(spectrum=["1", "0.5"], depth=3, alpha="0.1", eta="0.1")
    verdict = check(_by_id("L1"), instance)[0]
    assert verdict.verdict is Outcome.VACUOUS
    assert "rank" in verdict.reason


def test_bound_with_rational_agrees_with_evalf():
    expr = sympy.Rational(1, 3) * Phi(u, mu[1], alpha, N) / eta + sympy.sqrt(2) * sympy.Rational(7, 11)
    values = {"u": Fraction(3, 10), "alpha": Fraction(1, 10), "eta": Fraction(1, 20), "N": 3}

    lambdified = evaluate(expr, values, dps=50, arrays={"mu": [Fraction(1)]})
    reference = expr.subs({u: sympy.Rational(3, 10), alpha: sympy.Rational(1, 10), eta: sympy.Rational(1, 20), N: 3, mu[1]: 1}).evalf(50)

    with mpmath.workdps(50):
        assert abs(lambdified - mpmath.mpf(str(reference))) < mpmath.mpf(10) ** -45


def test_budget_exceeded_is_an_error_with_estimate():
    instance = Instance.create(spectrum=["1"], depth=4, alpha="0.001", eta="0.01", thresholds=["0.5"])
    verdicts = check(_by_id("H2"), instance, CheckOptions(budget=1000))
    errors = [v for v in verdicts if v.verdict is Outcome.ERROR]
    assert errors
    assert "budget of 1000" in errors[0].reason


def test_user_theorem_module_from_path(tmp_path):
    module = tmp_path / "my_theorems.py"
    module.write_text(
        "from dmfverify.symbolic import N, Phi, S, alpha, eta, i, mu, u, vstar\n"
        "from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem\n"
        "HALF = Theorem(id='HALF', title='half potential', status='conjecture', source='test',\n"
        "    statement='T >= Phi/(2 eta)',\n"
        "    claims=(HittingTimeBound('lower', level=u, relation='>=', bound=Phi(u, mu[i], alpha, N) / (2 * eta),\n"
        "        over='positive', levels='thresholds',\n"
        "        hypotheses=(Hypothesis('S <= 1', S(mu[i]) <= 1), Hypothesis('range', (alpha**N < u) & (u <= vstar(mu[i]))))),))\n"
    )
    theorems = load_theorems(module)
    assert [t.id for t in theorems] == ["HALF"]

    instance = load_instance([p for p in SYNTHETIC if p.stem == "scalar-depth3"][0])
    verdict = check(theorems[0], instance)[0]
    assert verdict.verdict is Outcome.HOLDS
    # A lower bound holds as soon as the level is not reached by the bound, so the run stops there:
    # the hitting time is censored and no tightness is claimed.
    assert verdict.tightness is None


def test_broken_user_module_is_reported(tmp_path):
    from dmfverify.errors import InvalidTheorem

    module = tmp_path / "broken.py"
    module.write_text("from dmfverify.theorem import Theorem\nX = Theorem(id='X', title='t', status='maybe', source='s', statement='', claims=(1,))\n")
    with pytest.raises(InvalidTheorem, match="status = 'maybe'"):
        load_theorems(module)


def test_unknown_symbol_in_bound_is_an_error():
    weird = Theorem(
        id="WEIRD", title="unknown symbol", status="conjecture", source="test", statement="",
        claims=(HittingTimeBound("lower", level=u, relation=">=", bound=sympy.Symbol("zeta"), over="positive", levels="thresholds"),),
    )
    instance = Instance.create(spectrum=["1"], depth=3, alpha="0.1", eta="0.05", thresholds=["0.3"])
    verdict = check(weird, instance)[0]
    assert verdict.verdict is Outcome.ERROR
    assert "zeta" in verdict.reason


def test_exact_start_does_not_leak_into_later_steps():
    """Step 0 is decided exactly (p(0) = alpha^N equals the level here); later steps keep their own enclosure.

    A hunt once reported this instance as violating P2 because the exact state of step 0 was
    read as the state of every following step.
    """
    from pathlib import Path

    instance = load_instance(Path(__file__).parent / "data" / "p2-exact-start-regression.json")
    verdicts = {verdict.claim: verdict for verdict in check(_by_id("P2"), instance)}
    assert verdicts["falling run stays below"].verdict is Outcome.HOLDS


def test_exact_equality_is_not_a_violation():
    """Aligned noise makes |mu_i - lambda_i| = sigma exactly; rounding must not turn the tie into a violation."""
    from pathlib import Path

    instance = load_instance(Path(__file__).parent / "data" / "p2-equality-rounding.json")
    verdicts = {verdict.claim: verdict for verdict in check(_by_id("P2"), instance)}
    assert verdicts["limit eigenvalues"].verdict is not Outcome.VIOLATED


def test_rounded_unit_step_size_judged():
    """S(mu_1) = 2 * 25/67 * 1.34 = 1 exactly; the bound gets mu_1 rounded to binary and must read it as S = 1.

    A hunt once stored this instance as ERROR: rounding put S(mu_1) at 1 + 3.8e-67 and the
    hitting-time bracket rejected it.
    """
    from pathlib import Path

    instance = load_instance(Path(__file__).parent / "data" / "h2-unit-step-size-rounding.json")
    verdicts = check(_by_id("H2"), instance)
    assert {verdict.verdict for verdict in verdicts} == {Outcome.HOLDS}


def test_rising_run_starting_near_limit():
    """alpha^N = 1 lies between 0.999 mu_1 and mu_1, so the rising horizon uses the midpoint level instead."""
    from pathlib import Path

    instance = load_instance(Path(__file__).parent / "data" / "p2-start-near-limit.json")
    verdicts = {verdict.claim: verdict for verdict in check(_by_id("P2"), instance)}
    assert verdicts["rising run stays below"].verdict is Outcome.HOLDS


def test_complex_value_rejected():
    from dmfverify.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="not real here"):
        evaluate(sympy.log(sympy.Symbol("x")), {"x": -1})


def test_negative_top_eigenvalue_vacuous():
    """Noise pushes mu_2 = 0.0011 - 0.15 below 0, so erank_r takes a logarithm of a negative ratio.

    The hypothesis alpha^N < delta < mu_(r+1) fails first; the complex derived value must not turn
    that into an ERROR.
    """
    noise = [["0.15", "0", "0", "0"], ["0", "-0.15", "0", "0"], ["0", "0", "0.15", "0"], ["0", "0", "0", "-0.15"]]
    instance = Instance.create(spectrum=["1", "0.0011", "0.0011", "0.0007051"], noise=noise, depth=2, alpha="0.00225",
                               eta="999999999/2300000000", rank=3, eps="0.014", delta="0.000123")
    verdicts = check(_by_id("E"), instance)
    assert [verdict.verdict for verdict in verdicts] == [Outcome.VACUOUS]
    assert "alpha^N < delta < mu_(r+1)" in verdicts[0].reason


def test_exact_observable_equality_holds():
    """Diagonal noise keeps every input rational: the error max |mu_i - lambda_i| = 0.1 equals sigma exactly."""
    instance = Instance.create(spectrum=["1", "0.5"], noise=[["0.1", "0"], ["0", "-0.05"]], depth=2, alpha="0.01", eta="0.1")
    verdicts = {verdict.claim: verdict for verdict in check(_by_id("P2"), instance)}

    assert verdicts["limit eigenvalues"].verdict is Outcome.HOLDS
    assert verdicts["limit eigenvalues"].margin == 0
    assert "compared exactly" in verdicts["limit eigenvalues"].reason


def test_exact_observable_excess_violates():
    """The same instance against sigma (1 - 10^-30): an excess far below any rounding is still decided."""
    from dmfverify.symbolic import sigma as sigma_symbol
    from dmfverify.theorem import ObservableBound

    tight = Theorem(id="TIGHT", title="eigenvalue error below sigma (false)", status="conjecture", source="test",
                    statement="max_i |max(mu_i, 0) - lambda_i| <= sigma (1 - 10^-30)",
                    claims=(ObservableBound("limit eigenvalues", observable="limit_eigenvalue_error", relation="<=",
                                            bound=sigma_symbol * (1 - sympy.Rational(1, 10**30)), over=None),))
    instance = Instance.create(spectrum=["1", "0.5"], noise=[["0.1", "0"], ["0", "-0.05"]], depth=2, alpha="0.01", eta="0.1")

    assert check(tight, instance)[0].verdict is Outcome.VIOLATED


@pytest.mark.parametrize("offset, outcome", [(1, Outcome.HOLDS), (-1, Outcome.VIOLATED)])
def test_exact_hitting_bound_decided(offset, outcome):
    """The certified hitting time is 68; a rational bound 68 +- 10^-60 is decided exactly, beyond any rounding."""
    bound = 68 + offset * sympy.Rational(1, 10**60)
    theorem = Theorem(id="EXACT", title="t", status="conjecture", source="test", statement="T <= 68 +- 10^-60",
                      claims=(HittingTimeBound("upper", level=u, relation="<=", bound=bound, over="first", levels="thresholds"),))
    instance = Instance.create(spectrum=["1"], depth=2, alpha="0.1", eta="0.05", thresholds=["0.9"])
    verdict = check(theorem, instance)[0]

    assert verdict.verdict is outcome
    assert verdict.margin == pytest.approx(offset * 1e-60)
    assert "compared exactly" in verdict.reason
