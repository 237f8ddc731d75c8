"""Low-rank phases per rank: observed, guaranteed, and the robustness margin ``sigma_max``.

For a target with a rank ``r``, accuracy ``eps`` and leakage level ``delta``, the
*observed* phase is ``[T0_obs, T1_obs)``: ``T0_obs`` is the first step at which each
of the top ``r`` product eigenvalues has reached ``(1 - eps)(lambda_i - sigma)``, and
``T1_obs`` the first step at which another one reaches ``delta``.  The
*guaranteed* phase is ``[T0(sigma), T1(sigma))`` of the persistence theorem
``Q1`` of the catalog, and ``sigma_max = sup{s : T0(s) < T1(s)}`` is found by
bisection on the same formulas (``T0`` increases and ``T1`` decreases with ``s``).
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

from dmfverify.checker import derived_values
from dmfverify.instance import Instance
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.spectrum import ground_truth_spectrum, noise_norm

__all__ = ["rank_summary", "sigma_max"]

logger = logging.getLogger(__name__)


def _persistence_theorem():
    from dmfverify.catalog.persistence import Q1

    return Q1


def guaranteed_interval(instance: Instance, sigma: Fraction | None = None) -> tuple[float, float] | None:
    """Return ``(T0(sigma), T1(sigma))`` of Q1 when its hypotheses hold, else None."""
    overrides = None if sigma is None else {"sigma": sigma}
    values = derived_values(_persistence_theorem(), instance, overrides)
    if values is None or not values["hypotheses_hold"]:
        return None
    return float(values["T0"]), float(values["T1"])


def sigma_max(instance: Instance, iterations: int = 14) -> float | None:
    """Return the largest noise level at which Q1's spectral condition holds, or None if none does.

    Bisection on ``[0, (lambda_r - lambda_(r+1)) / 2]`` for ``iterations`` steps: the
    result is a lower bound of ``sigma_max`` within ``2^-iterations`` of that interval.
    """
    if guaranteed_interval(instance, Fraction(0)) is None:
        return None
    truth = ground_truth_spectrum(instance).values
    low, high = Fraction(0), (truth[instance.rank - 1] - truth[instance.rank]) / 2
    if guaranteed_interval(instance, high) is not None:
        return float(high)
    for _ in range(iterations):
        middle = (low + high) / 2
        if guaranteed_interval(instance, middle) is not None:
            low = middle
        else:
            high = middle
    return float(low)


def rank_summary(instance: Instance, ranks: Any = None, budget: int = 2_000_000) -> list[dict[str, Any]]:
    """Return, per rank, the observed phase, the guaranteed phase, ``sigma`` and ``sigma_max``."""
    sigma_low, sigma_high = noise_norm(instance)
    sigma = (sigma_low + sigma_high) / 2
    truth = ground_truth_spectrum(instance).values
    n = instance.n
    ranks = ranks or range(1, min(n, 11))

    rows = []
    for rank in ranks:
        ranked = instance.with_changes(rank=rank)
        learn_levels = {index: [(1 - ranked.eps) * (truth[index] - sigma)] for index in range(rank) if truth[index] - sigma > 0}
        leak_levels = {index: [ranked.delta] for index in range(rank, n)}
        guaranteed = guaranteed_interval(ranked)
        horizon = int(guaranteed[1]) + 10 if guaranteed else None

        observed = None
        if len(learn_levels) == rank:
            if horizon is None:
                from dmfverify.simulation import estimate_horizon

                try:
                    horizon = estimate_horizon(ranked, learn_levels, budget)
                except Exception as error:  # noqa: BLE001 - reported in the table, not raised
                    logger.warning("rank %d: no observed phase computed: %s", rank, error)
                    horizon = None
            if horizon is not None:
                run = simulate_scalar(ranked, horizon, arithmetic="certified", levels={**learn_levels, **leak_levels})
                learned = [run.hitting_time(index, learn_levels[index][0])[1] for index in range(rank)]
                leaked = [run.hitting_time(index, ranked.delta)[0] for index in range(rank, n)]
                leaked = [step for step in leaked if step is not None]
                start = None if None in learned else max(learned)
                stop = min(leaked) if leaked else horizon + 1
                if start is not None and start < stop:
                    observed = (start, stop)

        rows.append({
            "rank": rank,
            "observed": observed,
            "guaranteed": guaranteed,
            "sigma": float(sigma),
            "sigma_max": sigma_max(ranked),
        })
    return rows
