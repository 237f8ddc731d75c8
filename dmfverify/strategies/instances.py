r"""Whole instances drawn from a :class:`Steering`, the ranges of every parameter.

:func:`instances` draws depth, step-size number, size, rank, spectrum, noise,
``eta``, ``alpha``, ``eps``, ``delta`` and hitting-time levels in that order,
and rejects draws whose estimated horizon exceeds ``Steering.max_steps``.  The
estimate uses, per positive eigenvalue ``mu``, the rising time up to
``v* = (N-1) mu / (2N-1)`` plus the saturating time to 99.9% of ``mu``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance, Matrix
from dmfverify.strategies.noise import NOISE_KINDS, noise_matrices
from dmfverify.strategies.decimal_draws import _as_fraction, _round_significant, decimals, log_uniform_decimals
from dmfverify.strategies.parameters import accuracies, alphas, depths, leakage_levels, ranks, step_size_for, step_size_numbers
from dmfverify.strategies.spectra import SPECTRUM_KINDS, spectra

__all__ = ["Steering", "instances"]


@dataclass(frozen=True)
class Steering:
    r"""Ranges from which :func:`instances` draws one instance.

    Attributes
    ----------
    min_size, max_size : int
        Range of the matrix size ``n``.
    min_depth, max_depth : int
        Range of the depth ``N``.
    spectrum_kinds : tuple of str
        Spectrum shapes (see :func:`spectra`).
    noise : {"any", "none", "required"}
        Whether the target carries noise (``"any"`` shrinks towards none).
    noise_kinds : tuple of str
        Noise kinds (see :func:`noise_matrices`).
    noise_scale : (low, high)
        Range of ``sigma / lambda_1``, or of ``sigma / (lambda_r - lambda_(r+1))``
        when ``noise_relative_to_gap`` is set.
    noise_relative_to_gap : bool
        Measure the noise against the gap at the rank boundary (persistence and
        subspace statements need ``sigma`` below that gap).
    step_size_range : (low, high)
        Range of the step-size number ``S`` of the reference eigenvalue.
    above_one : bool
        Also draw ``S`` just above 1.
    step_reference : {"target", "truth_plus_noise"}
        Reference eigenvalue of ``S``: the top target eigenvalue ``mu_1`` or
        ``lambda_1 + sigma`` (the perturbed statements' condition).
    alpha_ceiling : {"below_all", "above_some", "phase"}
        ``alpha^N`` at most half the smallest positive target eigenvalue (every
        eigenvalue rises), up to ``lambda_1`` (some fall towards their limit),
        or below ``lambda_(r+1) / 100`` (small initialisation, for a phase).
    min_alpha : number
        Smallest ``alpha`` drawn.
    phase : {None, "plain", "spectral"}
        Draw ``rank``, ``eps`` and ``delta``.  ``"spectral"`` also enforces a
        gap ``lambda_r / lambda_(r+1)`` from ``gap_ratios``, so that the spectral
        condition ``T0 < T1`` is likely; when ``min_depth >= 3`` the gap is at
        least ``1.3 (2N-1)/N``, the small-``alpha`` limit of the closed-form condition.
    gap_ratios : (low, high)
        Range of ``lambda_r / lambda_(r+1)`` for ``phase="spectral"``.
    thresholds : {None, "rising", "saturating", "both"}
        Hitting-time levels ``u`` relative to ``mu_1``: below ``v*`` (rising
        part), from ``v*`` up to ``mu_1 (1 - 10^-12)`` (saturating part), or both.
    max_steps : int
        Estimated horizon cap: instances whose slowest positive eigenvalue needs
        more steps to reach 99.9% of itself are rejected (``hypothesis.assume``),
        and the condition number and ``alpha`` are drawn so that this is rare.
    """

    min_size: int = 1
    max_size: int = 6
    min_depth: int = 2
    max_depth: int = 6
    spectrum_kinds: tuple[str, ...] = SPECTRUM_KINDS
    noise: str = "any"
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    noise_scale: tuple[Any, Any] = ("1e-4", "0.5")
    noise_relative_to_gap: bool = False
    step_size_range: tuple[Any, Any] = ("0.05", "1")
    above_one: bool = False
    step_reference: str = "target"
    alpha_ceiling: str = "below_all"
    min_alpha: Any = "1e-8"
    phase: str | None = None
    gap_ratios: tuple[Any, Any] = ("1.5", "30")
    thresholds: str | None = None
    max_steps: int = 30_000

    def __post_init__(self):
        choices = {
            "noise": ("any", "none", "required"),
            "step_reference": ("target", "truth_plus_noise"),
            "alpha_ceiling": ("below_all", "above_some", "phase"),
            "phase": (None, "plain", "spectral"),
            "thresholds": (None, "rising", "saturating", "both"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InvalidArgument(f"Steering.{name} = {getattr(self, name)!r} is invalid; use one of {allowed}.")
        if self.phase is not None and self.max_size < 2:
            raise InvalidArgument(f"Steering.max_size = {self.max_size} is too small for a low-rank phase; use max_size >= 2.")


def _target_eigenvalues(spectrum: list[Fraction], noise: Matrix | None) -> tuple[list[float], list[Fraction] | None]:
    """Return the target eigenvalues in descending order as floats, and exactly when the noise is diagonal."""
    n = len(spectrum)
    if noise is None:
        return [float(value) for value in spectrum], list(spectrum)
    if all(noise[a][b] == 0 for a in range(n) for b in range(n) if a != b):
        exact = sorted((spectrum[j] + noise[j][j] for j in range(n)), reverse=True)
        return [float(value) for value in exact], exact
    matrix = np.diag([float(value) for value in spectrum]) + np.array([[float(entry) for entry in row] for row in noise])
    return sorted(np.linalg.eigvalsh(matrix).tolist(), reverse=True), None


def _alpha_floor(smallest: float, eta: Fraction, depth: int, max_steps: int) -> float:
    """Return the ``alpha`` below which the rising time of ``smallest`` exceeds about half of ``max_steps``."""
    rate = float(eta) * smallest * max_steps / 2
    if depth == 2:
        return math.sqrt(smallest) * math.exp(-min(rate, 600.0))
    return (1.0 / ((depth - 2) * rate)) ** (1.0 / (depth - 2))


def _falling_limit(negative_part: float, eta: Fraction, depth: int) -> float:
    """Return the largest ``alpha`` (to 1%) with ``eta alpha^(N-2) ((N-1) negative_part + (2N-1) alpha^N) <= 1``.

    Above it the update is not monotone on ``[0, alpha]`` for eigenvalues that
    start above their limit, and no certified enclosure exists for them.
    """
    def excess(alpha: float) -> float:
        return float(eta) * alpha ** (depth - 2) * ((depth - 1) * negative_part + (2 * depth - 1) * alpha**depth) - 1

    low, high = 0.0, 1.0
    while excess(high) < 0:
        high *= 2
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) < 0 else (low, middle)
    return 0.99 * low


def _estimated_steps(eigenvalues: list[float], alpha: Fraction, eta: Fraction, depth: int) -> float:
    r"""Return a float over-estimate of the steps every positive eigenvalue needs to reach 99.9% of itself.

    Rising part: ``Phi_mu(v*) <= J(v*) (2N-1) / (N mu)`` with the elementary
    bracket ``J``; saturating part: ``ln((mu - v*) / (mu / 1000)) / (N v*^(2-2/N))``,
    both divided by ``eta``.  Cheap enough to run on every draw.
    """
    start = float(alpha) ** depth
    steps = 0.0
    for value in eigenvalues:
        if value <= 0 or start >= 0.999 * value:
            continue
        peak = (depth - 1) * value / (2 * depth - 1)
        if start < peak:
            if depth == 2:
                bracket = math.log(peak / start) / 2
            else:
                bracket = (start ** ((2 - depth) / depth) - peak ** ((2 - depth) / depth)) / (depth - 2)
            rising = bracket * (2 * depth - 1) / (depth * value)
        else:
            rising = 0.0
        saturating = math.log(1000 * depth / (2 * depth - 1)) / (depth * peak ** (2 - 2 / depth))
        steps = max(steps, (rising + saturating) / float(eta))
    return steps


def _levels(draw, mode: str, top: float, top_exact: Fraction | None, start: Fraction, depth: int) -> tuple[Fraction, ...]:
    """Draw one to three hitting-time levels relative to the top eigenvalue."""
    peak_fraction = Fraction(depth - 1, 2 * depth - 1)
    reference = top_exact if top_exact is not None else _as_fraction(top)
    lowest = start / reference * Fraction(3, 2)
    levels = []
    for _ in range(draw(st.integers(1, 3))):
        part = mode if mode != "both" else draw(st.sampled_from(("rising", "saturating")))
        if part == "rising" and lowest < peak_fraction:
            fraction = draw(st.one_of(st.just(peak_fraction), log_uniform_decimals(lowest, peak_fraction, digits=3, shrink_towards="max")))
        else:
            near_limit = st.integers(1, 12).map(lambda j: 1 - Fraction(1, 10**j))
            fraction = draw(st.one_of(st.just(peak_fraction), decimals(peak_fraction, "0.99", digits=3), near_limit))
        level = fraction * reference
        if top_exact is None:
            level = _round_significant(level, 15, ROUND_FLOOR)
        if level > start:
            levels.append(level)
    return tuple(sorted(set(levels)))


@st.composite
def _instances(draw, steering: Steering) -> Instance:
    depth = draw(depths(steering.min_depth, steering.max_depth))
    S = draw(step_size_numbers(*steering.step_size_range, above_one=steering.above_one))

    # Cap the condition number so that the slowest eigenvalue saturates within the step budget:
    # near its limit it needs about ln(1000) / S(lambda_n) steps, and S(lambda_n) = S kappa^-(2-2/N).
    condition = (max(float(S), 0.05) * steering.max_steps / 20) ** (depth / (2 * depth - 2))
    size = draw(st.integers(max(steering.min_size, 2 if steering.phase else 1), steering.max_size))
    rank = draw(ranks(size)) if steering.phase else None
    gap_ratios = None
    if steering.phase == "spectral":
        low, high = (_as_fraction(bound) for bound in steering.gap_ratios)
        if depth >= 3 and steering.min_depth >= 3:
            low = max(low, Fraction(2 * depth - 1, depth) * Fraction(13, 10))
        gap_ratios = (low, max(low, high))
    spectrum = draw(spectra(min_size=size, max_size=size, kinds=steering.spectrum_kinds, max_condition=_round_significant(condition, 2),
                            rank=rank, gap_ratios=gap_ratios, positive=steering.phase is not None))

    noise = None
    sigma = Fraction(0)
    wants_noise = steering.noise == "required" or (steering.noise == "any" and draw(st.booleans()))
    if wants_noise:
        if steering.noise_relative_to_gap and rank is not None and spectrum[rank - 1] > spectrum[rank]:
            unit = spectrum[rank - 1] - spectrum[rank]
        else:
            unit = spectrum[0]
        sigma = _round_significant(unit * draw(log_uniform_decimals(*steering.noise_scale, digits=2)), 3)
        signs = draw(st.sampled_from(("any", "negative")))
        noise = draw(noise_matrices(size, sigma, kinds=steering.noise_kinds, signs=signs))

    targets, targets_exact = _target_eigenvalues(spectrum, noise)
    if steering.step_reference == "truth_plus_noise":
        eta = step_size_for(S, spectrum[0] + sigma, depth)
    elif targets_exact is not None and targets_exact[0] > 0:
        eta = step_size_for(S, targets_exact[0], depth)
    else:
        assume(targets[0] > 0)
        # The float eigenvalue may sit a rounding error below the true one: keep S(mu_1) <= S with a margin.
        eta = step_size_for(S * (1 - Fraction(1, 10**12)) if S <= 1 else S, _as_fraction(targets[0]), depth)

    positive = [value for value in targets if value > 0]
    assume(positive)
    smallest = min(positive)
    if steering.alpha_ceiling == "phase" and rank is not None:
        ceiling = (float(spectrum[rank]) / 100) ** (1 / depth)
    elif steering.alpha_ceiling == "above_some":
        ceiling = float(spectrum[0]) ** (1 / depth)
    else:
        ceiling = (smallest / 2) ** (1 / depth)
    if steering.thresholds in ("rising", "both"):
        ceiling = min(ceiling, (targets[0] / 10) ** (1 / depth))
    ceiling = min(ceiling, _falling_limit(max(-min(targets), 0.0), eta, depth))
    floor = max(float(_as_fraction(steering.min_alpha)), _alpha_floor(smallest, eta, depth, steering.max_steps))
    ceiling_exact = _round_significant(ceiling, 3, ROUND_FLOOR)
    floor_exact = min(_round_significant(floor, 3, ROUND_CEILING), ceiling_exact)
    alpha = draw(alphas(floor_exact, ceiling_exact))
    start = alpha**depth

    eps = delta = None
    if steering.phase is not None:
        eps = draw(accuracies("0.01", "0.3"))
        ceiling_delta = Fraction(depth - 1, 2 * depth - 1) * spectrum[rank]
        if start < ceiling_delta:
            delta = draw(leakage_levels(start, ceiling_delta))

    thresholds: tuple[Fraction, ...] = ()
    if steering.thresholds is not None:
        top_exact = targets_exact[0] if targets_exact is not None else None
        thresholds = _levels(draw, steering.thresholds, targets[0], top_exact, start, depth)

    assume(_estimated_steps(targets, alpha, eta, depth) <= steering.max_steps)
    kind = "scalar_hitting_times" if size == 1 and noise is None else "instance"
    return Instance.create(spectrum=spectrum, depth=depth, alpha=alpha, eta=eta, noise=noise, rank=rank, eps=eps, delta=delta,
                           thresholds=thresholds, id="hunt", kind=kind)


def instances(steering: Steering | None = None, **fields: Any) -> st.SearchStrategy[Instance]:
    r"""Draw whole instances with exact parameters (aligned initialisation ``W_j(0) = alpha I``).

    Pass a :class:`Steering` or its fields as keywords (``instances(max_size=3,
    noise="none")``).  The draw order is: depth, step-size number ``S``, size,
    rank, spectrum (condition number capped from ``S`` and ``max_steps``),
    noise, ``eta`` from ``S``, ``alpha`` (log-uniform, floored so the slowest
    eigenvalue is learned within ``max_steps``), ``eps`` and ``delta``, levels.

    Shrinking
    ---------
    Towards depth 2, ``S = 1``, a small geometric spectrum, no noise, the
    largest allowed ``alpha``, rank 1 and the easiest ``eps``.
    """
    base = steering or Steering()
    if fields:
        base = replace(base, **fields)
    return _instances(base)
