r"""Steering per theorem: instances drawn inside a theorem's hypotheses.

:func:`steering_for` maps a theorem to a :class:`~dmfverify.strategies.instances.Steering`
(a hand-made profile for catalog theorems, else one read from the statement),
:func:`instances_for` draws with it and repairs draws towards a spectral
condition such as ``T0 < T1``, and :func:`parse_steering` reads steering
overrides given as ``FIELD=VALUE`` strings on the command line.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import sympy
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance
from dmfverify.strategies.instances import Steering, _estimated_steps, instances
from dmfverify.theorem import HittingTimeBound, Theorem

logger = logging.getLogger(__name__)

__all__ = ["steering_for", "instances_for", "parse_steering"]


_PROFILES: dict[str, dict[str, Any]] = {
    "M": dict(alpha_ceiling="above_some"),
    "C": dict(min_size=2),
    "H1": dict(max_size=2, thresholds="rising"),
    "H2": dict(max_size=2, thresholds="saturating"),
    "H3": dict(max_size=2, thresholds="saturating", step_size_range=("0.3", "1")),
    "L1": dict(noise="none", phase="spectral", alpha_ceiling="phase"),
    "L2": dict(noise="none", phase="spectral", alpha_ceiling="phase", min_depth=3),
    "P1": dict(step_reference="truth_plus_noise", alpha_ceiling="above_some"),
    "P2": dict(noise="required", step_reference="truth_plus_noise", alpha_ceiling="above_some"),
    "P3": dict(noise="required", step_reference="truth_plus_noise", noise_scale=("1e-4", "0.3")),
    "Q1": dict(noise="required", phase="spectral", alpha_ceiling="phase", step_reference="truth_plus_noise",
               noise_relative_to_gap=True, noise_scale=("1e-4", "0.3")),
    "Q2": dict(noise="required", phase="plain", noise_relative_to_gap=True, noise_scale=("1e-3", "0.9")),
    "D": dict(),
    "E": dict(min_size=3, phase="spectral", alpha_ceiling="phase"),
    "ER": dict(min_size=2, alpha_ceiling="above_some"),
}


def _theorem_expressions(theorem: Theorem) -> list[sympy.Basic]:
    expressions = [hypothesis.condition for hypothesis in theorem.hypotheses]
    expressions += [derived.expr for derived in theorem.derived]
    for claim in theorem.claims:
        expressions += [hypothesis.condition for hypothesis in claim.hypotheses]
        for name in ("level", "bound", "start", "stop", "observed"):
            value = getattr(claim, name, None)
            if isinstance(value, sympy.Basic):
                expressions.append(value)
    return expressions


def _smallest_depth(theorem: Theorem) -> int:
    """Return the smallest depth at which every hypothesis that depends on ``N`` alone holds."""
    from dmfverify.symbolic import N

    depth_only = [hypothesis.condition for hypothesis in theorem.hypotheses
                  if isinstance(hypothesis.condition, sympy.Basic) and hypothesis.condition.free_symbols == {N}]
    for depth in range(2, 7):
        if all(bool(condition.subs(N, depth)) for condition in depth_only):
            return depth
    return 2


def steering_for(theorem: Theorem) -> Steering:
    r"""Return the :class:`Steering` that draws inside ``theorem``'s hypotheses.

    Catalog theorems (by id) have hand-made profiles.  Hitting-time theorems get
    levels on the part of the trajectory they speak about.  Phase theorems get a
    gap at the rank boundary, a small ``alpha`` and ``delta`` below
    ``v*(lambda_(r+1))``.  Perturbed ones get noise, with ``S`` measured at
    ``lambda_1 + sigma``.  For other theorems the steering is read from the
    statement: required fields, a ``sigma <= 0`` hypothesis (noiseless),
    hypotheses on ``N`` alone (smallest depth), hypotheses that name derived
    quantities such as ``T0 < T1`` (spectral condition), hitting-time claims
    (levels on both parts), and ``lambda`` together with ``sigma`` (perturbed).
    """
    if theorem.id in _PROFILES:
        return Steering(**_PROFILES[theorem.id])

    from dmfverify.symbolic import free_names, sigma

    expressions = _theorem_expressions(theorem)
    names = set().union(*(free_names(expr) for expr in expressions if isinstance(expr, sympy.Basic))) if expressions else set()
    fields: dict[str, Any] = {}

    noiseless = any(hypothesis.condition == sympy.Le(sigma, 0) or (isinstance(hypothesis.condition, sympy.And) and sympy.Le(sigma, 0) in hypothesis.condition.args)
                    for hypothesis in theorem.hypotheses)
    if noiseless:
        fields["noise"] = "none"
    elif "noise" in theorem.requires:
        fields["noise"] = "required"
    if "sigma" in names and "lambda" in names and not noiseless:
        fields["step_reference"] = "truth_plus_noise"

    derived_names = {derived.name for derived in theorem.derived}
    spectral = any(free_names(hypothesis.condition) & derived_names for hypothesis in theorem.hypotheses)
    if {"rank", "eps", "delta"} <= set(theorem.requires) or ("rank" in theorem.requires and spectral):
        fields.update(phase="spectral" if spectral else "plain", alpha_ceiling="phase")
        if fields.get("noise") == "required":
            fields.update(noise_relative_to_gap=True, noise_scale=("1e-4", "0.3"))
    elif "rank" in theorem.requires:
        fields["phase"] = "plain"

    fields["min_depth"] = _smallest_depth(theorem)
    if any(isinstance(claim, HittingTimeBound) and claim.levels == "thresholds" for claim in theorem.claims):
        fields.update(thresholds="both", max_size=2)
    return Steering(**fields)


def _instance_steps(instance: Instance) -> float:
    targets = np.linalg.eigvalsh(instance.target_array()).tolist()
    return _estimated_steps(targets, instance.alpha, instance.eta, instance.depth)


def _repair(theorem: Theorem, instance: Instance, max_steps: int) -> Instance:
    """Return the first of a few modified instances on which the theorem's hypotheses hold (else the instance itself).

    The candidates, tried in order, are the instance, ``alpha`` divided by 10
    and by 100, and the spectrum below the rank boundary (with ``delta``)
    divided by 2, 4 and 8.  A smaller initialisation separates the learning
    times of the eigenvalues and a wider gap separates the rates, which is
    what a spectral condition ``T0 < T1`` requires.  Candidates whose
    estimated horizon exceeds ``max_steps`` are skipped.
    """
    from dmfverify.checker import derived_values
    from dmfverify.errors import DmfverifyError

    candidates = [instance] + [instance.with_changes(alpha=instance.alpha / factor) for factor in (10, 100)]
    if instance.rank is not None and instance.spectrum is not None and instance.delta is not None:
        head, tail = list(instance.spectrum[:instance.rank]), list(instance.spectrum[instance.rank:])
        for factor in (2, 4, 8):
            candidates.append(instance.with_changes(spectrum=head + [value / factor for value in tail], delta=instance.delta / factor))

    for candidate in candidates:
        if candidate is not instance and _instance_steps(candidate) > max_steps:
            continue
        try:
            values = derived_values(theorem, candidate)
        except (DmfverifyError, ArithmeticError, ValueError, TypeError) as error:
            # A candidate whose derived quantities cannot be evaluated is skipped; the check itself reports such errors.
            logger.debug("repair candidate for %s skipped: %s: %s", theorem.id, type(error).__name__, error)
            continue
        if values is not None and values["hypotheses_hold"]:
            return candidate
    return instance


def instances_for(theorem: Theorem, **overrides: Any) -> st.SearchStrategy[Instance]:
    """Draw instances inside ``theorem``'s hypotheses (see :func:`steering_for`); keywords override steering fields.

    For a theorem whose hypotheses name derived quantities (a spectral
    condition such as ``T0 < T1``), each drawn instance is repaired towards the
    hypotheses by the deterministic modifications of :func:`_repair`, so that
    few draws end up ``VACUOUS``.  Shrinking is unchanged: it acts on the draw.
    """
    steering = replace(steering_for(theorem), **overrides) if overrides else steering_for(theorem)
    strategy = instances(steering)
    derived_names = {derived.name for derived in theorem.derived}
    from dmfverify.symbolic import free_names

    if any(free_names(hypothesis.condition) & derived_names for hypothesis in theorem.hypotheses):
        return strategy.map(lambda instance: _repair(theorem, instance, steering.max_steps))
    return strategy


def parse_steering(pairs: list[str]) -> dict[str, Any]:
    """Parse ``FIELD=VALUE`` strings into :class:`Steering` overrides (the command line's ``--steer``).

    Integer fields take integers, boolean fields ``true``/``false``, range fields
    two comma-separated numbers, and ``phase``/``thresholds`` take ``none`` for None.

    >>> parse_steering(["max_size=3", "noise=none", "step_size_range=0.9,1", "phase=none"])
    {'max_size': 3, 'noise': 'none', 'step_size_range': ('0.9', '1'), 'phase': None}
    """
    defaults = {name: spec.default for name, spec in Steering.__dataclass_fields__.items()}
    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not separator or name not in defaults:
            raise InvalidArgument(f"steering {pair!r} is invalid; write FIELD=VALUE with FIELD one of {', '.join(defaults)}.")
        default = defaults[name]
        if isinstance(default, bool):
            if text.lower() not in ("true", "false"):
                raise InvalidArgument(f"steering {name} = {text!r} is invalid; write true or false.")
            overrides[name] = text.lower() == "true"
        elif isinstance(default, int):
            try:
                overrides[name] = int(text)
            except ValueError:
                raise InvalidArgument(f"steering {name} = {text!r} is invalid; write an integer.") from None
        elif isinstance(default, tuple):
            overrides[name] = tuple(part.strip() for part in text.split(","))
            if name.endswith("_range"):
                _check_range(name, text, overrides[name])
        elif name in ("phase", "thresholds") and text.lower() == "none":
            overrides[name] = None
        else:
            overrides[name] = text
    replace(Steering(), **overrides)
    return overrides


def _check_range(name: str, text: str, parts: tuple[str, ...]) -> None:
    """Reject a range that is not two positive numbers in order, naming the ``--steer`` field."""
    try:
        low, high = (Fraction(part) for part in parts)
    except (ValueError, ZeroDivisionError):
        raise InvalidArgument(f"steering {name} = {text!r} is invalid; write two numbers LOW,HIGH, for example {name}=0.5,1.") from None
    if not 0 < low <= high:
        raise InvalidArgument(f"steering {name} = {text!r} is invalid; it needs 0 < LOW <= HIGH, for example {name}=0.5,1.")
