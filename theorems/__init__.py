"""The built-in theorem catalog of dmfverify, one module per family.

Each module defines :class:`dmfverify.theorem.Theorem` objects at module level
and lists them in ``THEOREMS``.  The statements are this project's own
derivations of results of the kind proved by Chou and Wang, "Implicit
Regularization in Perturbed Deep Matrix Factorization: Spectral Conditions and
Stability" (arXiv:2605.28613), and by Chou, Gieshoff, Maly and Rauhut,
"Gradient Descent for Deep Matrix Factorization: Dynamics and Implicit Bias
towards Low Rank" (arXiv:2011.13772).  The papers' exact constants may differ;
add them as your own theorem module beside these (see the README).
"""

FAMILIES = ("lemmas", "hitting_times", "noiseless_phase", "perturbed", "persistence", "convergence", "conjectures")
