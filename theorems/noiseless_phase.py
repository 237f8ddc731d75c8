r"""The noiseless low-rank phase and its spectral conditions (Theorem L).

Inputs: a rank ``r`` with ``lambda_r > lambda_(r+1)``, an accuracy ``eps`` (eigenvalue
``i`` is *learned* when ``p_i >= (1 - eps) lambda_i``) and a leakage level ``delta``
(eigenvalue ``i`` is *inactive* while ``p_i < delta``).  With the hitting-time
bracket ``Hlower <= T <= Hupper`` for one eigenvalue,

    T0 = max_{i <= r} Hupper((1 - eps) lambda_i; lambda_i),    T1 = Hlower(delta; lambda_(r+1)).

If ``T0 < T1`` (the spectral condition), every step ``k`` in ``[T0, T1)`` has the top
``r`` eigenvalues learned and the others inactive: learned eigenvalues stay learned
because the iterates increase monotonically (step-size condition ``S(lambda_1) <= 1``),
and ``lambda_(r+1)`` is the first small eigenvalue to reach ``delta`` because
trajectories keep the order of the eigenvalues.

L2 replaces the potential by its elementary bracket ``J`` and gives a closed-form
condition (depth ``N >= 3``); it is cruder, and as ``alpha -> 0`` it tends to
``lambda_r / lambda_(r+1) > (2N-1)/N`` while L1 only needs ``lambda_r > lambda_(r+1)``.
"""

from sympy import Symbol, log

from dmfverify.symbolic import Hlower, Hupper, J, N, S, alpha, delta, eps, eta, h, i, lam, r, sigma, vstar
from dmfverify.theorem import Derived, Hypothesis, Theorem, WindowBound

_SOURCE = "derived in this project (spectral condition of the kind proved by Chou & Wang, arXiv:2605.28613)"
T0, T1 = Symbol("T0"), Symbol("T1")

_common = (
    Hypothesis("noiseless target (sigma = 0)", sigma <= 0),
    Hypothesis("S(lambda_1) <= 1", S(lam[1]) <= 1),
    Hypothesis("lambda_r > lambda_(r+1) > 0", (lam[r] > lam[r + 1]) & (lam[r + 1] > 0)),
    Hypothesis("alpha^N < delta < lambda_(r+1)", (alpha**N < delta) & (delta < lam[r + 1])),
    Hypothesis("alpha^N < (1 - eps) lambda_i", alpha**N < (1 - eps) * lam[i], over="top"),
)


def _phase_claims(start, stop):
    return (
        WindowBound("learned", level=(1 - eps) * lam[i], side="above", start=start, stop=stop, over="top"),
        WindowBound("inactive", level=delta, side="below", start=start, stop=stop, over="rest"),
    )


L1 = Theorem(
    id="L1",
    title="Noiseless low-rank phase on [T0, T1)",
    status="proved",
    source=_SOURCE,
    family="noiseless_phase",
    requires=("rank", "eps", "delta"),
    statement="""
Under S(lambda_1) <= 1, with T0 = max_{i<=r} Hupper((1-eps) lambda_i) and T1 = Hlower(delta; lambda_(r+1)),
if T0 < T1 then for every integer k in [T0, T1):
    p_i(k) >= (1 - eps) lambda_i  for i <= r,   and   p_i(k) < delta  for i > r.
""",
    hypotheses=_common + (Hypothesis("spectral condition T0 < T1", T0 < T1),),
    derived=(
        Derived("T0", Hupper((1 - eps) * lam[i], lam[i], alpha, eta, N), reduce="max", over="top"),
        Derived("T1", Hlower(delta, lam[r + 1], alpha, eta, N)),
    ),
    claims=_phase_claims(T0, T1),
)

_x_star = vstar(lam[i]) ** (1 / N)
_T0_closed = (
    2
    + (J(vstar(lam[i]), alpha, N) * (2 * N - 1) / (N * lam[i]) + log(N / ((2 * N - 1) * eps)) / (N * vstar(lam[i]) ** (2 - 2 / N))) / eta
    + log(h(_x_star, lam[i]) / h(alpha, lam[i]))
)

L2 = Theorem(
    id="L2",
    title="Closed-form spectral condition for the noiseless phase (depth N >= 3)",
    status="proved",
    source=_SOURCE,
    family="noiseless_phase",
    requires=("rank", "eps", "delta"),
    statement="""
For N >= 3, eps < N/(2N-1) and delta <= v*(lambda_(r+1)), with v*_i = v*(lambda_i) and x*_i = v*_i^(1/N):
    T0' = max_{i<=r} [ 2 + ( J(v*_i)(2N-1)/(N lambda_i) + ln(N/((2N-1) eps)) / (N v*_i^(2-2/N)) ) / eta
                       + ln( h_i(x*_i) / h_i(alpha) ) ]
    T1' = J(delta) / (eta lambda_(r+1)).
If T0' < T1' the conclusion of L1 holds on [T0', T1').
""",
    hypotheses=_common + (
        Hypothesis("N >= 3", N >= 3),
        Hypothesis("eps < N/(2N-1)", eps < N / (2 * N - 1)),
        Hypothesis("delta <= v*(lambda_(r+1))", delta <= vstar(lam[r + 1])),
        Hypothesis("spectral condition T0' < T1'", T0 < T1),
    ),
    derived=(
        Derived("T0", _T0_closed, reduce="max", over="top"),
        Derived("T1", J(delta, alpha, N) / (eta * lam[r + 1])),
    ),
    claims=_phase_claims(T0, T1),
)

THEOREMS = (L1, L2)
