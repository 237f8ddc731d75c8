r"""Hitting-time brackets for one eigenvalue (Theorem H, parts 1 and 2).

For one eigenvalue ``mu > 0`` of the target, ``T_mu(u) = min{k : x_k^N >= u}``
is the first step at which the product eigenvalue reaches the level ``u``.
With ``Phi_mu`` the potential ``int_{alpha^N}^{v} ds / (N s^(2-2/N) (mu - s))``,
``h(x) = x^(N-1) (mu - x^N)`` and ``v*(mu) = (N-1) mu / (2N-1)`` the level
where ``h`` peaks, the brackets follow from comparing each gradient step with
the integral of ``1/h`` it covers: on the rising part ``h`` increases, so a
step covers at most ``eta`` of potential (lower bound) and at least
``eta h(x_j) / h(x_(j+1))`` (upper bound, which telescopes into a logarithm).
Past ``v*`` the product error ``mu - p`` shrinks by a factor no smaller than
``1 - S(mu)`` per step, which gives the saturating lower bound.
"""

from sympy import log

from dmfverify.symbolic import Hlower, Hupper, N, Phi, S, alpha, eta, h, i, mu, u, vstar
from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem

_SOURCE = "derived in this project (hitting-time bracket of the kind used by Chou & Wang, arXiv:2605.28613)"

_step_size = Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1)
_above_start = Hypothesis("alpha^N < u", alpha**N < u)

H1 = Theorem(
    id="H1",
    title="Two-sided hitting-time bound on the rising part",
    status="proved",
    source=_SOURCE,
    family="hitting_times",
    statement="""
For mu_i > 0 with S(mu_i) <= 1 and alpha^N < u <= v*(mu_i):
    Phi_mu(u) / eta <= T_mu(u) <= 1 + Phi_mu(u) / eta + ln( h(u^(1/N)) / h(alpha) ).
""",
    claims=(
        HittingTimeBound(
            "lower", level=u, relation=">=", bound=Phi(u, mu[i], alpha, N) / eta,
            over="positive", levels="thresholds",
            hypotheses=(_step_size, _above_start, Hypothesis("u <= v*(mu_i)", u <= vstar(mu[i]))),
        ),
        HittingTimeBound(
            "upper", level=u, relation="<=",
            bound=1 + Phi(u, mu[i], alpha, N) / eta + log(h(u ** (1 / N), mu[i]) / h(alpha, mu[i])),
            over="positive", levels="thresholds",
            hypotheses=(_step_size, _above_start, Hypothesis("u <= v*(mu_i)", u <= vstar(mu[i]))),
        ),
    ),
)

H2 = Theorem(
    id="H2",
    title="Hitting-time bracket on the saturating part (chained with H1 at v*)",
    status="proved",
    source=_SOURCE,
    family="hitting_times",
    statement="""
For mu_i > 0 with S(mu_i) <= 1 and v*(mu_i) < u < mu_i, with q = 1 - S(mu_i) and x* = v*^(1/N):
    Hlower(u) = Phi(v*) / eta + max(0, ln((mu - v*)/(mu - u)) / ln(1/q) - 1)   (0 when q = 0)
    Hupper(u) = 2 + Phi(u) / eta + ln( h(x*) / h(alpha) )
    Hlower(u) <= T_mu(u) <= Hupper(u).
""",
    claims=(
        HittingTimeBound(
            "lower", level=u, relation=">=", bound=Hlower(u, mu[i], alpha, eta, N),
            over="positive", levels="thresholds",
            hypotheses=(_step_size, _above_start, Hypothesis("v*(mu_i) < u < mu_i", (u > vstar(mu[i])) & (u < mu[i]))),
        ),
        HittingTimeBound(
            "upper", level=u, relation="<=", bound=Hupper(u, mu[i], alpha, eta, N),
            over="positive", levels="thresholds",
            hypotheses=(_step_size, _above_start, Hypothesis("v*(mu_i) < u < mu_i", (u > vstar(mu[i])) & (u < mu[i]))),
        ),
    ),
)

THEOREMS = (H1, H2)
