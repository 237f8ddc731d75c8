"""Planted false statement: a low-rank phase whose spectral condition ignores the depth.

True statement (L1): with ``T0 = max_{i<=r} Hupper((1-eps) lambda_i)`` and
``T1 = Hlower(delta; lambda_(r+1))`` computed for the actual depth ``N``, the
top ``r`` eigenvalues are learned and the others inactive on ``[T0, T1)``.
Planted: the same with ``T0`` and ``T1`` always computed for depth 2.  For
``N = 2`` this is L1; for ``N >= 3`` the learning times scale like
``alpha^(2-N)`` instead of ``ln(1/alpha)``, so the window is placed far too early.
"""

from sympy import Symbol

from dmfverify.symbolic import Hlower, Hupper, S, alpha, delta, eps, eta, i, lam, r, sigma
from dmfverify.theorem import Derived, Hypothesis, Theorem, WindowBound

T0, T1 = Symbol("T0"), Symbol("T1")

PLANTED_PHASE_DEPTH_BLIND = Theorem(
    id="PLANTED_PHASE_DEPTH_BLIND",
    title="Low-rank phase with depth-2 learning times for every depth (false for N >= 3)",
    status="conjecture",
    source="planted false statement for the hunter's quality tests",
    family="noiseless_phase",
    requires=("rank", "eps", "delta"),
    statement="""
With T0 = max_{i<=r} Hupper((1-eps) lambda_i; depth 2) and T1 = Hlower(delta; lambda_(r+1), depth 2),
if T0 < T1 then p_i(k) >= (1 - eps) lambda_i for i <= r and p_i(k) < delta for i > r on [T0, T1).
""",
    hypotheses=(
        Hypothesis("noiseless target (sigma = 0)", sigma <= 0),
        Hypothesis("S(lambda_1) <= 1 at depth 2", S(lam[1], eta, 2) <= 1),
        Hypothesis("lambda_r > lambda_(r+1) > 0", (lam[r] > lam[r + 1]) & (lam[r + 1] > 0)),
        Hypothesis("alpha^2 < delta < lambda_(r+1)", (alpha**2 < delta) & (delta < lam[r + 1])),
        Hypothesis("alpha^2 < (1 - eps) lambda_i", alpha**2 < (1 - eps) * lam[i], over="top"),
        Hypothesis("depth-2 spectral condition T0 < T1", T0 < T1),
    ),
    derived=(
        Derived("T0", Hupper((1 - eps) * lam[i], lam[i], alpha, eta, 2), reduce="max", over="top"),
        Derived("T1", Hlower(delta, lam[r + 1], alpha, eta, 2)),
    ),
    claims=(
        WindowBound("learned", level=(1 - eps) * lam[i], side="above", start=T0, stop=T1, over="top"),
        WindowBound("inactive", level=delta, side="below", start=T0, stop=T1, over="rest"),
    ),
)

THEOREMS = (PLANTED_PHASE_DEPTH_BLIND,)
