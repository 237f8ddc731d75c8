r"""Persistence of the low-rank phase under perturbation (Theorem Q).

With the noisy target ``M + E``, ``sigma = ||E||_2`` and the sandwich of each
trajectory between those of ``lambda_i - sigma`` and ``lambda_i + sigma``,

    T0(sigma) = max_{i<=r} Hupper((1 - eps)(lambda_i - sigma); lambda_i - sigma),
    T1(sigma) = Hlower(delta; lambda_(r+1) + sigma).

``T0`` grows and ``T1`` shrinks with ``sigma``: the phase shrinks as noise grows, and for
``N >= 3`` and ``alpha -> 0`` the condition tends to ``lambda_r - sigma > lambda_(r+1) + sigma``.
Inside the phase the top-``r`` eigenspace of ``W(k)`` is that of ``Mhat`` (the factors stay
aligned with ``Mhat`` and keep the eigenvalue order), so Davis-Kahan bounds its angle to
the top-``r`` eigenspace of ``M``.
"""

from sympy import Symbol

from dmfverify.symbolic import Hlower, Hupper, N, S, alpha, delta, eps, eta, i, lam, r, sigma
from dmfverify.theorem import Derived, Hypothesis, ObservableBound, Theorem, WindowBound

_SOURCE = "derived in this project (persistence of the kind proved by Chou & Wang, arXiv:2605.28613)"
T0, T1 = Symbol("T0"), Symbol("T1")

Q1 = Theorem(
    id="Q1",
    title="The low-rank phase persists under noise on [T0(sigma), T1(sigma))",
    status="proved",
    source=_SOURCE,
    family="persistence",
    requires=("rank", "eps", "delta"),
    statement="""
Under S(lambda_1 + sigma) <= 1, if T0(sigma) < T1(sigma) then for every integer k in [T0(sigma), T1(sigma)):
    p_i(k) >= (1 - eps)(lambda_i - sigma) for i <= r,   and   p_i(k) < delta for i > r.
""",
    hypotheses=(
        Hypothesis("S(lambda_1 + sigma) <= 1", S(lam[1] + sigma) <= 1),
        Hypothesis("alpha^N < (1 - eps)(lambda_i - sigma)", alpha**N < (1 - eps) * (lam[i] - sigma), over="top"),
        Hypothesis("alpha^N < delta < lambda_(r+1) + sigma", (alpha**N < delta) & (delta < lam[r + 1] + sigma)),
        Hypothesis("spectral condition T0(sigma) < T1(sigma)", T0 < T1),
    ),
    derived=(
        Derived("T0", Hupper((1 - eps) * (lam[i] - sigma), lam[i] - sigma, alpha, eta, N), reduce="max", over="top"),
        Derived("T1", Hlower(delta, lam[r + 1] + sigma, alpha, eta, N)),
    ),
    claims=(
        WindowBound("learned", level=(1 - eps) * (lam[i] - sigma), side="above", start=T0, stop=T1, over="top"),
        WindowBound("inactive", level=delta, side="below", start=T0, stop=T1, over="rest"),
    ),
)

Q2 = Theorem(
    id="Q2",
    title="Davis-Kahan bound on the learned subspace",
    status="proved",
    source=_SOURCE,
    family="persistence",
    requires=("rank", "noise"),
    statement="""
If sigma < lambda_r - lambda_(r+1), the top-r eigenspaces of Mhat (which inside the phase are
those of W(k)) and of M satisfy
    ||sin Theta(U_r(Mhat), U_r(M))||_2 <= sigma / (lambda_r - lambda_(r+1) - sigma).
""",
    hypotheses=(Hypothesis("sigma < lambda_r - lambda_(r+1)", sigma < lam[r] - lam[r + 1]),),
    claims=(
        ObservableBound("subspace angle", observable="sin_theta_top_r", relation="<=",
                        bound=sigma / (lam[r] - lam[r + 1] - sigma), over=None),
    ),
)

THEOREMS = (Q1, Q2)
