"""Planted false bound: the rising-part upper bound of H1 without its logarithmic term.

True statement (H1): ``T_mu(u) <= 1 + Phi_mu(u) / eta + ln(h(u^(1/N)) / h(alpha))``.
Planted: ``T_mu(u) <= 1 + Phi_mu(u) / eta``.  The discretisation lag of gradient
descent behind the gradient flow grows like the logarithm of the speed ratio,
so a small ``alpha`` with a step size near the limit breaks it.
"""

from dmfverify.symbolic import N, Phi, S, alpha, eta, i, mu, u, vstar
from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem

PLANTED_H1_UPPER = Theorem(
    id="PLANTED_H1_UPPER",
    title="H1 upper bound without the logarithmic term (false)",
    status="conjecture",
    source="planted false bound for the hunter's quality tests",
    family="hitting_times",
    statement="For mu_i > 0 with S(mu_i) <= 1 and alpha^N < u <= v*(mu_i): T_mu(u) <= 1 + Phi_mu(u) / eta.",
    claims=(
        HittingTimeBound(
            "upper", level=u, relation="<=", bound=1 + Phi(u, mu[i], alpha, N) / eta,
            over="positive", levels="thresholds",
            hypotheses=(Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1), Hypothesis("alpha^N < u", alpha**N < u),
                        Hypothesis("u <= v*(mu_i)", u <= vstar(mu[i]))),
        ),
    ),
)

THEOREMS = (PLANTED_H1_UPPER,)
