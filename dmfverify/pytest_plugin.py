"""pytest plugin: assert that a theorem holds, or is violated, on every instance of a corpus.

Installed with the package (entry point ``pytest11``), it provides the fixture
``dmfverify_check``, a :class:`CorpusChecker`:

.. code-block:: python

    def test_bracket_holds_on_library(dmfverify_check):
        dmfverify_check.assert_holds("H1", "tests/cases")           # every claim HOLDS or VACUOUS

    @pytest.mark.dmfverify_theorems("tests/quality/planted/h1_lower_constant.py")
    def test_stored_counterexamples_still_fail(dmfverify_check):
        dmfverify_check.assert_violated("PLANTED_H1_LOWER", "corpus/")

A corpus is a file, a folder (searched recursively for ``*.json``, skipping
hidden folders such as ``.hypothesis``), an :class:`~dmfverify.instance.Instance`,
or a list of these.  Counterexample files written by ``dmfverify hunt`` load
as their instance.  Theorems are given by id (the catalog plus the modules
named by the ``dmfverify_theorems`` marker and the ``--dmfverify-theorems``
option) or as :class:`~dmfverify.theorem.Theorem` objects.

A failing assertion lists every offending instance with the claim, the
verdict, the margin and the checker's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence, Union

import pytest

from dmfverify.checker import CheckOptions, check
from dmfverify.errors import InvalidArgument
from dmfverify.instance import Instance, load_instance
from dmfverify.theorem import Theorem
from dmfverify.verdict import Outcome, Verdict

__all__ = ["CorpusChecker", "dmfverify_check"]

Corpus = Union[str, Path, Instance, Sequence[Union[str, Path, Instance]]]


def pytest_addoption(parser) -> None:
    group = parser.getgroup("dmfverify", "theorem checks over instance corpora")
    group.addoption("--dmfverify-theorems", action="append", default=[], metavar="PATH",
                    help="also load theorem modules from this file or folder for the dmfverify_check fixture")
    group.addoption("--dmfverify-max-bits", type=int, default=512, metavar="BITS",
                    help="precision cap of the certified enclosure in dmfverify_check (default 512)")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "dmfverify_theorems(*paths): load theorem modules from these files or folders "
                                       "for the dmfverify_check fixture")


def _instances(corpus: Corpus) -> list[Instance]:
    from dmfverify.replay import instance_paths

    items = [corpus] if isinstance(corpus, (str, Path, Instance)) else list(corpus)
    instances = []
    for item in items:
        if isinstance(item, Instance):
            instances.append(item)
        else:
            instances += [load_instance(path) for path in instance_paths([item])]
    if not instances:
        raise InvalidArgument(f"the corpus {corpus!r} contains no instance; pass instance files, folders of them or Instance objects.")
    return instances


def _describe(instance: Instance, verdict: Verdict) -> str:
    margin = "" if verdict.margin is None else f", margin {verdict.margin:.6g}"
    return f"{instance.id}: {verdict.claim} {verdict.verdict}{margin} ({verdict.reason})"


@dataclass
class CorpusChecker:
    """Checks theorems on corpora of instances and fails the test with a readable list of offenders.

    Attributes
    ----------
    theorems : dict
        Theorem id -> Theorem (the catalog and any extra modules).
    options : CheckOptions
        Settings of every check.
    """

    theorems: dict[str, Theorem] = field(default_factory=dict)
    options: CheckOptions = field(default_factory=CheckOptions)

    def theorem(self, theorem: str | Theorem) -> Theorem:
        """Return a theorem given by id or as an object."""
        if isinstance(theorem, Theorem):
            return theorem
        if theorem not in self.theorems:
            raise InvalidArgument(f"unknown theorem id {theorem!r}; load its module with the dmfverify_theorems marker or "
                                  f"--dmfverify-theorems (known: {', '.join(self.theorems)}).")
        return self.theorems[theorem]

    def verdicts(self, theorem: str | Theorem, corpus: Corpus) -> list[tuple[Instance, Verdict]]:
        """Check ``theorem`` on every instance of ``corpus``; returns (instance, verdict) pairs, one per claim."""
        selected = self.theorem(theorem)
        return [(instance, verdict) for instance in _instances(corpus) for verdict in check(selected, instance, self.options)]

    def assert_holds(self, theorem: str | Theorem, corpus: Corpus, *, allowed: Iterable[str] = ("HOLDS", "VACUOUS"),
                     min_judged: int = 1) -> list[Verdict]:
        """Fail unless every claim on every instance has an ``allowed`` verdict.

        ``min_judged`` is the least number of claims that must come out
        ``HOLDS``, so that a corpus on which everything is vacuous does not pass
        silently.  Returns the verdicts.
        """
        allowed = {Outcome(name) for name in allowed}
        pairs = self.verdicts(theorem, corpus)
        offenders = [_describe(instance, verdict) for instance, verdict in pairs if verdict.verdict not in allowed]
        name = self.theorem(theorem).id
        if offenders:
            pytest.fail(f"{name} does not hold on {len(offenders)} of {len(pairs)} claim checks:\n  " + "\n  ".join(offenders),
                        pytrace=False)
        holding = sum(verdict.verdict is Outcome.HOLDS for _, verdict in pairs)
        if holding < min_judged:
            pytest.fail(f"{name} came out HOLDS on only {holding} claim checks of {len(pairs)}, fewer than min_judged = {min_judged}; "
                        f"the corpus does not exercise the theorem.", pytrace=False)
        return [verdict for _, verdict in pairs]

    def assert_violated(self, theorem: str | Theorem, corpus: Corpus, *, claim: str | None = None) -> list[Verdict]:
        """Fail unless every instance has a ``VIOLATED`` claim (the claim named ``claim`` when given).

        Use it on a counterexample corpus to keep known violations failing.
        """
        selected = self.theorem(theorem)
        offenders = []
        violated = []
        for instance in _instances(corpus):
            verdicts = [verdict for verdict in check(selected, instance, self.options) if claim is None or verdict.claim == claim]
            hits = [verdict for verdict in verdicts if verdict.verdict is Outcome.VIOLATED]
            violated += hits
            if not hits:
                offenders += [_describe(instance, verdict) for verdict in verdicts]
        if offenders:
            pytest.fail(f"{selected.id} is no longer violated on some instances:\n  " + "\n  ".join(offenders), pytrace=False)
        return violated


@pytest.fixture
def dmfverify_check(request) -> CorpusChecker:
    """Return a :class:`CorpusChecker` over the catalog and the theorem modules named by markers and options."""
    from dmfverify.theorem_loader import builtin_theorems, load_theorems

    theorems = {theorem.id: theorem for theorem in builtin_theorems()}
    paths = list(request.config.getoption("--dmfverify-theorems"))
    for marker in request.node.iter_markers("dmfverify_theorems"):
        paths += list(marker.args)
    for path in paths:
        for theorem in load_theorems(path):
            theorems[theorem.id] = theorem
    options = replace(CheckOptions(), max_bits=request.config.getoption("--dmfverify-max-bits"))
    return CorpusChecker(theorems, options)
