"""Planted false bound: the eigengap of the noisy target losing only sigma instead of 2 sigma.

True statement (Weyl): ``mu_r >= lambda_r - sigma`` and ``mu_(r+1) <= lambda_(r+1) + sigma``,
so ``mu_r - mu_(r+1) >= lambda_r - lambda_(r+1) - 2 sigma``, with equality for noise
``-sigma`` on the ``r``-th and ``+sigma`` on the ``(r+1)``-th eigenvector.
Planted: ``mu_r - mu_(r+1) >= lambda_r - lambda_(r+1) - sigma``.

The module registers the observable ``target_eigengap`` (once per process).
"""

from fractions import Fraction

from dmfverify.observable_registry import OBSERVABLES, Enclosure, observable
from dmfverify.symbolic import lam, r, sigma
from dmfverify.theorem import Hypothesis, ObservableBound, Theorem


def target_eigengap(context, check, options) -> Enclosure:
    """Return ``mu_r - mu_(r+1)`` from the certified eigenvalue enclosures of the target."""
    rank = context.instance.rank
    values = context.arrays["mu"]
    radius = context.values.get("_mu_radius", Fraction(0))
    gap = values[rank - 1] - values[rank]
    return Enclosure(gap - 2 * radius, gap + 2 * radius, "from certified eigenvalue enclosures")


if "target_eigengap" not in OBSERVABLES:
    observable("target_eigengap", description="mu_r - mu_(r+1): eigengap of the target at the rank boundary")(target_eigengap)

PLANTED_EIGENGAP = Theorem(
    id="PLANTED_EIGENGAP",
    title="Target eigengap loses only sigma (false: Weyl gives 2 sigma)",
    status="conjecture",
    source="planted false bound for the hunter's quality tests",
    family="perturbed",
    requires=("rank", "noise"),
    statement="mu_r - mu_(r+1) >= lambda_r - lambda_(r+1) - sigma.",
    hypotheses=(Hypothesis("lambda_r > lambda_(r+1)", lam[r] > lam[r + 1]),),
    claims=(ObservableBound("eigengap", observable="target_eigengap", relation=">=", bound=lam[r] - lam[r + 1] - sigma, over=None),),
)

THEOREMS = (PLANTED_EIGENGAP,)
