"""Checks of bound formulas before any run: the scaling invariance and the noiseless limit.

Scaling.  For ``c > 0`` the map

    (lambda, mu, sigma, delta, u, alpha, eta) -> (c lambda, c mu, c sigma, c delta, c u, c^(1/N) alpha, c^(-(2N-2)/N) eta)

sends every gradient-descent trajectory to another one with ``p -> c p`` and the
same hitting times.  So a correct bound on an iteration count (a hitting time,
a window start or stop) is unchanged, a level scales by ``c``, and an error bound
scales by the power of ``c`` its observable carries.  A formula that breaks this
is wrong whatever the instances say.

The check is numerical on exact inputs: ``c = t^N`` with rational ``t`` makes the
scaled ``alpha`` and ``eta`` rational too, every claim of the theorem is expanded
on a family of random instances and on their scaled images, and the values are
compared at 40 digits, requiring agreement to 30.  The report says "invariant at K instances" (evidence,
not a proof) or names the first broken expression with both values.

Noiseless limit.  With ``sigma = 0`` the persistence theorem's interval must
equal the noiseless one, and the recovery bound must vanish.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath

from dmfverify.check_context import CheckOptions, _evaluate_derived, _Vacuous, build_context
from dmfverify.checker import _expand, _prepare, derived_values
from dmfverify.errors import DmfverifyError
from dmfverify.instance import Instance
from dmfverify.observable_registry import OBSERVABLES
from dmfverify.theorem import HittingTimeBound, ObservableBound, StepValueBound, Theorem, WindowBound

__all__ = ["InvarianceResult", "scaling_check", "noiseless_limit_check", "sample_instances", "scaled_instance"]

#: Relative agreement required between a value and its scaled image.
TOLERANCE = mpmath.mpf(10) ** -30


@dataclass(frozen=True)
class InvarianceResult:
    """Outcome of one invariance check of one theorem."""

    theorem: str
    check: str
    status: str
    detail: str

    def __str__(self) -> str:
        return f"{self.theorem:4s} {self.check:16s} {self.status:10s} {self.detail}"


def sample_instances(count: int = 6, seed: int = 0) -> list[Instance]:
    """Return small random instances inside the usual hypotheses (``S <= 1``, a clear gap, small alpha)."""
    generator = random.Random(seed)
    instances = []
    for index in range(count):
        depth = generator.choice([2, 3, 4])
        top = Fraction(generator.randint(60, 100), 100)
        spectrum = sorted({top, top * Fraction(generator.randint(40, 60), 100), Fraction(generator.randint(5, 9), 100),
                           Fraction(generator.randint(1, 4), 100)}, reverse=True)
        eta = Fraction(1, 10 * depth) if depth > 2 else Fraction(1, 5)
        alpha = Fraction(generator.randint(5, 15), 100) if depth > 2 else Fraction(1, 100)
        noise = {"spectral_norm": str(Fraction(generator.randint(1, 9), 1000)), "seed": index}
        instances.append(Instance.create(spectrum=spectrum, depth=depth, alpha=alpha, eta=eta, rank=2, eps="0.05",
                                         delta=str(float(spectrum[2]) / 4), noise=noise if index % 2 else None,
                                         thresholds=[str(spectrum[0] / 10), str(spectrum[0] / 2), str(spectrum[0] * Fraction(9, 10))],
                                         id=f"sample-{index}"))
    return instances


def scaled_instance(instance: Instance, t: Fraction) -> Instance:
    """Apply the scaling map with ``c = t^N`` exactly."""
    depth = instance.depth
    c = t**depth
    scale = lambda values: None if values is None else tuple(c * value for value in values)  # noqa: E731
    matrix = lambda rows: None if rows is None else tuple(tuple(c * value for value in row) for row in rows)  # noqa: E731
    return instance.with_changes(
        spectrum=scale(instance.spectrum),
        ground_truth=matrix(instance.ground_truth),
        noise=matrix(instance.noise),
        alpha=instance.alpha * t,
        eta=instance.eta / t ** (2 * depth - 2),
        delta=None if instance.delta is None else c * instance.delta,
        thresholds=scale(instance.thresholds) or (),
        id=instance.id + "-scaled",
    )


def _claim_values(theorem: Theorem, instance: Instance, options: CheckOptions) -> dict[str, Any] | None:
    """Return every evaluated level and bound of the theorem's expanded claims, keyed by a readable name."""
    context = build_context(instance, options)
    try:
        _evaluate_derived(theorem, context)
    except (_Vacuous, DmfverifyError, ValueError, ZeroDivisionError):
        return None

    # Derived quantities are not judged themselves (Lambda_r scales, T0 does not); the claims built on them are.
    values: dict[str, Any] = {}
    for claim in theorem.claims:
        try:
            checks = _expand(claim, context)
        except _Vacuous:
            continue
        for check in checks:
            if check.outcome is not None:
                continue
            try:
                _prepare(check, context)
            except (DmfverifyError, ValueError, ZeroDivisionError):
                continue
            where = f"{claim.name} [i={check.index}]"
            if isinstance(claim, HittingTimeBound):
                values[f"{where} level"] = ("level", check.level)
                values[f"{where} bound"] = ("iteration", check.bound)
            elif isinstance(claim, WindowBound):
                values[f"{where} level"] = ("level", check.level)
                values[f"{where} start"] = ("iteration", check.extra["start"][0])
                if "stop" in check.extra:
                    values[f"{where} stop"] = ("iteration", check.extra["stop"][0])
            elif isinstance(claim, StepValueBound) and check.level is not None:
                values[f"{where} anchor level"] = ("level", check.level)
            elif isinstance(claim, ObservableBound):
                exponent = OBSERVABLES[claim.observable].scaling
                if exponent is not None:
                    values[f"{where} bound"] = (f"power {exponent}", check.bound)
    return values


def _as_mpf(value) -> mpmath.mpf:
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return mpmath.mpf(value)


def scaling_check(theorem: Theorem, *, count: int = 6, seed: int = 0, t: Fraction = Fraction(3, 2)) -> InvarianceResult:
    """Check the scaling invariance of every expression of ``theorem`` on ``count`` sample instances."""
    options = CheckOptions(dps=40)
    compared = 0
    instances_used = 0
    for instance in sample_instances(count, seed):
        original = _claim_values(theorem, instance, options)
        scaled = _claim_values(theorem, scaled_instance(instance, t), options)
        if not original or not scaled:
            continue
        instances_used += 1
        c = _as_mpf(t**instance.depth)
        for name, (kind, value) in original.items():
            if name not in scaled:
                continue
            with mpmath.workdps(40):
                image = _as_mpf(scaled[name][1])
                value = _as_mpf(value)
                if kind == "iteration":
                    expected = value
                elif kind == "level":
                    expected = c * value
                else:
                    expected = c ** int(kind.split()[1]) * value
                if abs(image - expected) > TOLERANCE * max(abs(expected), 1):
                    return InvarianceResult(
                        theorem.id, "scaling", "BROKEN",
                        f"{name} on {instance.id}: {mpmath.nstr(value, 12)} maps to {mpmath.nstr(image, 12)}, "
                        f"expected {mpmath.nstr(expected, 12)} (c = {float(c):g}, kind {kind})",
                    )
            compared += 1
    if not compared:
        return InvarianceResult(theorem.id, "scaling", "VACUOUS", "no sample instance satisfies the theorem's hypotheses")
    return InvarianceResult(theorem.id, "scaling", "invariant", f"{compared} values on {instances_used} sample instances agree to 30 digits")


def noiseless_limit_check(noisy: Theorem, noiseless: Theorem, names: tuple[str, ...] = ("T0", "T1"), *, count: int = 6, seed: int = 0) -> InvarianceResult:
    """Check that ``noisy``'s derived quantities at ``sigma = 0`` equal ``noiseless``'s on noiseless samples."""
    compared = 0
    for instance in sample_instances(count, seed):
        if not instance.is_noiseless:
            continue
        limit = derived_values(noisy, instance, {"sigma": Fraction(0)})
        reference = derived_values(noiseless, instance)
        if limit is None or reference is None:
            continue
        for name in names:
            if limit[name] != reference[name] and abs(float(limit[name] - reference[name])) > 1e-25 * max(1.0, abs(float(reference[name]))):
                return InvarianceResult(noisy.id, "sigma -> 0", "BROKEN",
                                        f"{name} on {instance.id}: {float(limit[name])!r} at sigma = 0 but {noiseless.id} gives {float(reference[name])!r}")
            compared += 1
    if not compared:
        return InvarianceResult(noisy.id, "sigma -> 0", "VACUOUS", "no noiseless sample instance to compare on")
    return InvarianceResult(noisy.id, "sigma -> 0", "invariant", f"{', '.join(names)} equal those of {noiseless.id} on {compared // len(names)} instances")
