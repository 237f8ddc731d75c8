r"""Hypothesis strategies for deep-matrix-factorization instances.

Every number a strategy produces is an exact :class:`~fractions.Fraction` built
from decimal draws (a few significant digits) or from exact rational arithmetic
on them, so a generated :class:`~dmfverify.instance.Instance` serialises to
decimal or ``p/q`` strings and replays bit for bit.

Shrinking follows Hypothesis' rule that integers shrink towards zero and
``sampled_from`` towards its first element; each docstring states what that
means for the generated value.  In short, a shrunk instance has a small size,
depth 2, a simple spectrum shape, little or no noise, the largest allowed
``alpha`` and the step-size number ``S = 1`` when it is allowed: the short runs
and round numbers a person can read.

Two entry points build whole instances:

* :func:`instances` draws from a :class:`Steering` (ranges of every parameter);
* :func:`instances_for` draws inside a theorem's hypotheses, using the steering
  of :func:`steering_for`, so a hunt spends its time on instances that claim
  something instead of filtering most draws out as ``VACUOUS``.

The package re-exports the public names of its submodules:
:mod:`~dmfverify.strategies.decimal_draws` (exact decimal and log-uniform draws),
:mod:`~dmfverify.strategies.spectra` (ground-truth spectra),
:mod:`~dmfverify.strategies.noise` (symmetric noise matrices),
:mod:`~dmfverify.strategies.parameters` (depth, ``alpha``, step size, rank,
``eps``, ``delta``), :mod:`~dmfverify.strategies.instances` (:class:`Steering`
and whole instances) and :mod:`~dmfverify.strategies.steering` (steering per
theorem and command-line overrides).

>>> from hypothesis import given, settings
>>> @settings(max_examples=5, database=None)
... @given(instances(max_size=3))
... def test_sizes(instance):
...     assert 1 <= instance.n <= 3
>>> test_sizes()
"""

from __future__ import annotations

from dmfverify.strategies.instances import Steering, instances
from dmfverify.strategies.noise import NOISE_KINDS, noise_matrices
from dmfverify.strategies.decimal_draws import decimals, log_uniform_decimals
from dmfverify.strategies.parameters import accuracies, alphas, depths, leakage_levels, ranks, step_size_for, step_size_numbers
from dmfverify.strategies.spectra import SPECTRUM_KINDS, spectra
from dmfverify.strategies.steering import instances_for, parse_steering, steering_for

__all__ = [
    "SPECTRUM_KINDS", "NOISE_KINDS", "Steering", "decimals", "log_uniform_decimals", "spectra", "noise_matrices", "depths",
    "alphas", "step_size_numbers", "step_size_for", "ranks", "accuracies", "leakage_levels", "instances", "instances_for",
    "steering_for", "parse_steering",
]
