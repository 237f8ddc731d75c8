r"""Lemmas on single trajectories: the monotone regime (Lemma M) and the order coupling (Lemma C).

Lemma M: with ``f(x) = x + eta x^(N-1)(mu - x^N)`` and ``S(mu) = eta N mu^(2-2/N)``,
``f'`` on ``[0, mu^(1/N)]`` is smallest at the right end where it equals ``1 - S(mu)``;
so for ``S(mu) <= 1`` and ``alpha^N < mu`` the iterates increase to ``mu^(1/N)`` and never
pass it, while for ``alpha^N > mu`` and a small enough step they decrease to it.

Lemma C: ``f_mu(x) <= f_mu'(x)`` for ``mu <= mu'`` and ``f_mu'`` is increasing on the region
holding both trajectories, so the order of the eigenvalues is kept at every step.
"""

from sympy import Max, Rational

from dmfverify.symbolic import Hupper, N, S, alpha, eta, i, mu
from dmfverify.theorem import Hypothesis, ObservableBound, Theorem, WindowBound

_SOURCE = "derived in this project (Lemma of the kind used by Chou, Gieshoff, Maly & Rauhut, arXiv:2011.13772)"

#: Steps checked for trajectories that fall towards their limit.
FALLING_STEPS = 1000
#: Level at which rising runs stop being checked: 99.9% of the limit, or halfway from the start
#: to the limit when the start is already above 99.9% of it (the bracket needs alpha^N < u < mu_i).
_rising_level = Max(Rational(999, 1000) * mu[i], (alpha**N + mu[i]) / 2)
_rising_horizon = Hupper(_rising_level, mu[i], alpha, eta, N)

M = Theorem(
    id="M",
    title="Monotone regime: the product eigenvalue never passes its limit",
    status="proved",
    source=_SOURCE,
    family="lemmas",
    statement="""
(a) If 0 < alpha^N < mu_i and S(mu_i) <= 1, then p_i(k) < mu_i for every k.
(b) If alpha^N > mu_i > 0 and eta (2N-1) alpha^(2N-2) <= 1, then p_i(k) >= mu_i for every k.
Checked on k < Hupper(u_i) for (a), the bracket's upper bound on reaching
u_i = max(0.999 mu_i, (alpha^N + mu_i)/2) (99.9% of the limit unless the start is above it),
and on k < 1000 for (b): beyond that the distance to the limit falls below any fixed precision.
""",
    claims=(
        WindowBound("rising below limit", level=mu[i], side="below", start=0, stop=_rising_horizon, over="all",
                    hypotheses=(Hypothesis("0 < alpha^N < mu_i", alpha**N < mu[i]), Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1))),
        WindowBound("falling above limit", level=mu[i], side="above", start=0, stop=FALLING_STEPS, over="all",
                    hypotheses=(Hypothesis("alpha^N > mu_i > 0", (alpha**N > mu[i]) & (mu[i] > 0)),
                                Hypothesis("eta (2N-1) alpha^(2N-2) <= 1", eta * (2 * N - 1) * alpha ** (2 * N - 2) <= 1))),
    ),
)

C = Theorem(
    id="C",
    title="Trajectories keep the order of the eigenvalues",
    status="proved",
    source=_SOURCE,
    family="lemmas",
    statement="""
Under S(mu_1) <= 1: p_1(k) >= p_2(k) >= ... >= p_n(k) for every k, i.e.
    max over k and i of (p_(i+1)(k) - p_i(k)) <= 0.
Scanned step by step up to the run's horizon or 20000 steps.
""",
    hypotheses=(Hypothesis("S(mu_1) <= 1", S(mu[1]) <= 1),),
    claims=(ObservableBound("order", observable="order_violation", relation="<=", bound=0, over=None),),
)

THEOREMS = (M, C)
