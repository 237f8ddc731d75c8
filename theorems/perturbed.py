r"""Perturbed dynamics: convergence, eigenvalue recovery and iteration complexity (Theorem P).

The observed target is ``Mhat = M + E`` with ``E`` symmetric and ``sigma = ||E||_2``;
its eigenvalues ``mu_i`` satisfy ``|mu_i - lambda_i| <= sigma`` (Weyl).  Under the
step-size condition ``S(lambda_1 + sigma) <= 1`` every ``p_i(k)`` moves monotonically
to ``max(mu_i, 0)``, so gradient descent converges to ``(Mhat)_+``, the projection of
``Mhat`` onto the PSD cone, and trajectories are sandwiched between those of
``lambda_i - sigma`` and ``lambda_i + sigma``.  The cost of the noise appears as a
longer hitting time ``K_i`` and an error floor ``sigma``.
"""

from sympy import Max, Rational, Symbol

from dmfverify.symbolic import Hupper, N, S, alpha, eta, i, lam, mu, n, sigma, sigma_F
from dmfverify.theorem import Derived, Hypothesis, ObservableBound, Theorem, WindowBound

_SOURCE = "derived in this project (perturbed convergence of the kind proved by Chou & Wang, arXiv:2605.28613)"
_step_size = Hypothesis("S(lambda_1 + sigma) <= 1", S(lam[1] + sigma) <= 1)

#: Level at which rising runs stop being checked: 99.9% of the limit, or halfway from the start
#: to the limit when the start is already above 99.9% of it (the bracket needs alpha^N < u < mu_i).
_rising_level = Max(Rational(999, 1000) * mu[i], (alpha**N + mu[i]) / 2)
_rising_horizon = Hupper(_rising_level, mu[i], alpha, eta, N)

P1 = Theorem(
    id="P1",
    title="Perturbed gradient descent moves monotonically towards (Mhat)_+",
    status="proved",
    source=_SOURCE,
    family="perturbed",
    statement="""
Under S(lambda_1 + sigma) <= 1, p_i(k) -> max(mu_i, 0) monotonically.  Checked up to the
run's horizon: an eigenvalue starting below its limit never passes it,
    p_i(k) < mu_i              for every k, when alpha^N < mu_i;
and one starting above stays at or above its limit,
    p_i(k) >= max(mu_i, 0)     for every k, when mu_i < alpha^N.
Checked on k < Hupper(u_i) (rising), with u_i = max(0.999 mu_i, (alpha^N + mu_i)/2), and on
k < 1000 (falling).  The limit itself cannot be observed in finitely many steps; P3
quantifies the approach.
""",
    hypotheses=(_step_size,),
    claims=(
        WindowBound("rising stays below limit", level=mu[i], side="below", start=0, stop=_rising_horizon, over="all",
                    hypotheses=(Hypothesis("alpha^N < mu_i", alpha**N < mu[i]),)),
        WindowBound("falling stays above limit", level=Max(mu[i], 0), side="above", start=0, stop=1000, over="all",
                    hypotheses=(Hypothesis("mu_i < alpha^N", mu[i] < alpha**N),)),
    ),
)

P2 = Theorem(
    id="P2",
    title="Eigenvalue recovery of the limit under noise",
    status="proved",
    source=_SOURCE,
    family="perturbed",
    requires=("noise",),
    statement="""
The limit W_inf = (Mhat)_+ satisfies |lambda_i(W_inf) - lambda_i| <= sigma for every i and
||W_inf - M||_F <= ||E||_F.  When Mhat is PSD the limit is Mhat itself and the second claim is
the identity ||E||_F = ||E||_F, an equality no rounding-based check can certify, so it is judged
only when Mhat has a negative eigenvalue.  During the run
p_i(k) <= max(mu_i, alpha^N) <= lambda_i + sigma (when alpha^N <= lambda_i + sigma); checked as
p_i(k) < mu_i for 1 <= k < Hupper(u_i), with u_i = max(0.999 mu_i, (alpha^N + mu_i)/2), when
alpha^N < mu_i, and p_i(k) < alpha^N for 1 <= k < 1000 when mu_i < alpha^N.
""",
    hypotheses=(_step_size,),
    claims=(
        ObservableBound("limit eigenvalues", observable="limit_eigenvalue_error", relation="<=", bound=sigma, over=None),
        ObservableBound("limit Frobenius", observable="limit_frobenius_error", relation="<=", bound=sigma_F, over=None,
                        hypotheses=(Hypothesis("Mhat has a negative eigenvalue", mu[n] < 0),)),
        WindowBound("rising run stays below", level=mu[i], side="below", start=1, stop=_rising_horizon, over="all",
                    hypotheses=(Hypothesis("alpha^N < mu_i", alpha**N < mu[i]),)),
        WindowBound("falling run stays below", level=alpha**N, side="below", start=1, stop=1000, over="all",
                    hypotheses=(Hypothesis("mu_i < alpha^N <= lambda_i + sigma", (mu[i] < alpha**N) & (alpha**N <= lam[i] + sigma)),)),
    ),
)

_e = (lam[i] - sigma) / 100
K = Symbol("K_i")

P3 = Theorem(
    id="P3",
    title="Iteration complexity under noise",
    status="proved",
    source=_SOURCE,
    family="perturbed",
    statement="""
For i with lambda_i - sigma > 0 and accuracy e = (lambda_i - sigma)/100 (< lambda_i - sigma - alpha^N),
with K_i = Hupper(lambda_i - sigma - e; lambda_i - sigma), every k >= K_i has
    lambda_i - sigma - e <= p_i(k) <= lambda_i + sigma + e,  i.e.  |p_i(k) - lambda_i| <= sigma + e.
Checked on k in [K_i, 2 K_i + 10).
""",
    hypotheses=(_step_size,),
    claims=(
        WindowBound("lower", level=lam[i] - sigma - _e, side="above",
                    start=Hupper(lam[i] - sigma - _e, lam[i] - sigma, alpha, eta, N),
                    stop=2 * Hupper(lam[i] - sigma - _e, lam[i] - sigma, alpha, eta, N) + 10, over="all",
                    hypotheses=(Hypothesis("alpha^N < lambda_i - sigma - e", alpha**N < lam[i] - sigma - _e),)),
        WindowBound("upper", level=lam[i] + sigma + _e, side="below",
                    start=Hupper(lam[i] - sigma - _e, lam[i] - sigma, alpha, eta, N),
                    stop=2 * Hupper(lam[i] - sigma - _e, lam[i] - sigma, alpha, eta, N) + 10, over="all",
                    hypotheses=(Hypothesis("alpha^N < lambda_i - sigma - e", alpha**N < lam[i] - sigma - _e),)),
    ),
)

THEOREMS = (P1, P2, P3)
