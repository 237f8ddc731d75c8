r"""Linear convergence after learning (Theorem D) and the effective-rank window (Theorem E).

D: once ``p`` has reached ``theta mu``, the error ``e = mu^(1/N) - x`` contracts by
``1 - eta N x^(2N-2)`` per step (convexity gives ``mu - x^N >= N x^(N-1) e``), and
``mu - x^N <= N mu^((N-1)/N) e``; this yields a geometric bound on ``mu - p``.

E: on ``[k_start, k_end)`` the normalised spectra of ``W(k)`` and of the best rank-``r``
approximation ``M_r`` are within total variation ``tau``; the Fannes-Audenaert
continuity bound for the Shannon entropy turns this into a bound on the entropy
effective rank ``erank = exp(-sum q_i ln q_i)``.
"""

from sympy import Rational, Symbol, exp, log

from dmfverify.symbolic import Hlower, Hupper, N, S, alpha, delta, eta, i, k, lam, m, mu, n, r, theta
from dmfverify.theorem import Derived, Hypothesis, ObservableBound, StepValueBound, Theorem

_SOURCE = "derived in this project"
p = Symbol("p", real=True)
K = Symbol("K", integer=True, nonnegative=True)

_theta_value = Rational(1, 2)
_decay = N * mu[i] * (1 - theta ** (1 / N)) * (1 - eta * N * theta ** (2 - 2 / N) * mu[i] ** (2 - 2 / N)) ** m

D = Theorem(
    id="D",
    title="Linear convergence of an eigenvalue after it reaches theta mu",
    status="proved",
    source=_SOURCE,
    family="convergence",
    statement="""
Under S(mu_i) <= 1 and alpha^N < theta mu_i, with K = T_mu(theta mu) and theta = 1/2, for m >= 0:
    0 <= mu - p(K + m) <= N mu (1 - theta^(1/N)) (1 - eta N theta^(2-2/N) mu^(2-2/N))^m.
Checked at m in {0, 1, 2, 5, 10, 20, 50, 100} (upper bound) and m in {0, 1, 2, 5} (non-negativity,
whose margin mu - p shrinks below any fixed precision as m grows).
""",
    hypotheses=(),
    derived=(Derived("theta", _theta_value),),
    claims=(
        StepValueBound("upper", observed=mu[i] - p, relation="<=", bound=_decay, anchor=K, anchor_level=theta * mu[i],
                       sweep=(0, 1, 2, 5, 10, 20, 50, 100), over="positive",
                       hypotheses=(Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1), Hypothesis("alpha^N < theta mu_i", alpha**N < theta * mu[i]))),
        StepValueBound("nonnegative", observed=mu[i] - p, relation=">=", bound=0, anchor=K, anchor_level=theta * mu[i],
                       sweep=(0, 1, 2, 5), over="positive",
                       hypotheses=(Hypothesis("S(mu_i) <= 1", S(mu[i]) <= 1), Hypothesis("alpha^N < theta mu_i", alpha**N < theta * mu[i]))),
    ),
)

_Lambda = Symbol("Lambda_r")
_tau = Symbol("tau")
_erank_r = Symbol("erank_r")

E = Theorem(
    id="E",
    title="Effective rank of W(k) near that of M_r on the learning window",
    status="proved",
    source=_SOURCE,
    family="convergence",
    requires=("rank", "delta"),
    statement="""
With theta = 9/10, Lambda_r = mu_1 + ... + mu_r, k_start = max_{i<=r} Hupper(theta mu_i),
k_end = Hlower(delta; mu_(r+1)) and tau = (n - r) delta / (theta Lambda_r) + (1 - theta)/(2 theta) <= 1 - 1/n,
for every k in [k_start, k_end):
    |erank(W(k)) - erank(M_r)| <= erank(M_r) (exp(tau ln(n - 1) + h_b(tau)) - 1),
    h_b(t) = -t ln t - (1 - t) ln(1 - t).
(Noiseless statement; with noise the spectrum mu of the target replaces lambda.)
""",
    hypotheses=(
        Hypothesis("S(mu_1) <= 1", S(mu[1]) <= 1),
        Hypothesis("alpha^N < delta < mu_(r+1)", (alpha**N < delta) & (delta < mu[r + 1])),
        Hypothesis("alpha^N < theta mu_i", alpha**N < Rational(9, 10) * mu[i], over="top"),
        Hypothesis("tau <= 1 - 1/n", _tau <= 1 - 1 / n),
        Hypothesis("k_start < k_end", Symbol("k_start") < Symbol("k_end")),
    ),
    derived=(
        Derived("theta", Rational(9, 10)),
        Derived("Lambda_r", mu[i], reduce="sum", over="top"),
        Derived("tau", (n - r) * delta / (theta * _Lambda) + (1 - theta) / (2 * theta)),
        Derived("erank_r", -(mu[i] / _Lambda) * log(mu[i] / _Lambda), reduce="sum", over="top"),
        Derived("k_start", Hupper(theta * mu[i], mu[i], alpha, eta, N), reduce="max", over="top"),
        Derived("k_end", Hlower(delta, mu[r + 1], alpha, eta, N)),
    ),
    claims=(
        ObservableBound("window", observable="erank_window_deviation", relation="<=",
                        bound=exp(_erank_r) * (exp(_tau * log(n - 1) - _tau * log(_tau) - (1 - _tau) * log(1 - _tau)) - 1),
                        over=None),
    ),
)

THEOREMS = (D, E)
