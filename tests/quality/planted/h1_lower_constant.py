"""Planted false bound: the rising-part lower bound of H1 with its constant raised by 20%.

True statement (H1): ``T_mu(u) >= Phi_mu(u) / eta`` for ``alpha^N < u <= v*(mu)``.
Planted: ``T_mu(u) >= 1.2 Phi_mu(u) / eta``.  Since ``T`` exceeds ``Phi / eta``
only by a logarithmic term, any instance with a long rising phase breaks it.
"""

from sympy import Rational

from dmfverify.symbolic import N, Phi, S, alpha, eta, i, mu, u, vstar
from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem

PLANTED_H1_LOWER = Theorem(
    id="PLANTED_H1_LOWER",
    title="H1 lower bound with the constant 1.2 (false)",
    status="conjecture",
    source="planted false bound for the hunter's quality tests",
    family="hitting_times",
    statement="For mu_i > 0 with S(mu_i) <= 1 and alpha^N < u <= v*(mu_i): T_mu(u) >= 1.2 Phi_mu(u) / eta.",
    claims=(
        HittingTimeBound(
            "lower", level=u, relation=">=", bound=Rational(6, 5) * Phi(u, mu[i], alpha, N) / eta,
            over="positive", levels="thresholds",
            hypotheses=(Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1), Hypothesis("alpha^N < u", alpha**N < u),
                        Hypothesis("u <= v*(mu_i)", u <= vstar(mu[i]))),
        ),
    ),
)

THEOREMS = (PLANTED_H1_LOWER,)
