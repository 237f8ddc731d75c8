r"""Conjectures: numerically plausible statements with no proof yet, the hunter's prey.

H3 (saturating lower bound in potential form).  For ``v*(mu) <= u < mu``,

    T_mu(u) >= Phi_mu(u) / eta - ln( h(v*^(1/N)) / h(u^(1/N)) ) - 1.

It would follow if every step past ``v*`` covered at most ``eta h(x_j)/h(x_(j+1))``
of potential with the ratio telescoping; it was checked on about a thousand
random instances with depth 2 to 5 and ``S`` in (0.05, 1) without a violation.
Attack it near ``S(mu) -> 1`` and ``u -> mu``.

ER (effective rank is non-decreasing after its minimum).  The entropy
effective rank ``erank(W(k)) = exp(-sum q_i ln q_i)``, ``q = p / sum p``, stops
decreasing once it has reached its minimum over ``k``: a reading of the
incremental-learning picture of Chou, Gieshoff, Maly and Rauhut
(arXiv:2011.13772), whose abstract states it informally.  It has not been
tried with noise, depth 2, large ``alpha`` or near-equal eigenvalues.
"""

from sympy import log

from dmfverify.symbolic import N, Phi, S, alpha, eta, h, i, mu, u, vstar
from dmfverify.theorem import HittingTimeBound, Hypothesis, ObservableBound, Theorem

H3 = Theorem(
    id="H3",
    title="Saturating lower bound on the hitting time in potential form",
    status="conjecture",
    source="conjectured in this project",
    family="conjectures",
    statement="""
For mu_i > 0 with S(mu_i) <= 1 and v*(mu_i) <= u < mu_i:
    T_mu(u) >= Phi_mu(u) / eta - ln( h(v*^(1/N)) / h(u^(1/N)) ) - 1.
""",
    claims=(
        HittingTimeBound(
            "lower", level=u, relation=">=",
            bound=Phi(u, mu[i], alpha, N) / eta - log(h(vstar(mu[i]) ** (1 / N), mu[i]) / h(u ** (1 / N), mu[i])) - 1,
            over="positive", levels="thresholds",
            hypotheses=(
                Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1),
                Hypothesis("alpha^N < u", alpha**N < u),
                Hypothesis("v*(mu_i) <= u < mu_i", (u >= vstar(mu[i])) & (u < mu[i])),
            ),
        ),
    ),
)

ER = Theorem(
    id="ER",
    title="Effective rank never decreases after its minimum",
    status="conjecture",
    source="conjecture read from the abstract of Chou, Gieshoff, Maly & Rauhut, arXiv:2011.13772",
    family="conjectures",
    statement="""
With k_min the step where erank(W(k)) is smallest over the scanned run:
    erank(W(k)) - erank(W(k+1)) <= 0 for every k >= k_min.
The run is scanned step by step up to the default horizon (every positive eigenvalue
at 99.9% of itself, plus 10%) or 20000 steps, whichever is smaller.
""",
    claims=(ObservableBound("non-decreasing", observable="erank_decrease_after_minimum", relation="<=", bound=0, over=None),),
)

THEOREMS = (H3, ER)
