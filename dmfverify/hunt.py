r"""Counterexample hunting: Hypothesis search, shrinking, certification and a replayable corpus.

:func:`hunt` draws instances inside a theorem's hypotheses
(:func:`dmfverify.strategies.instances_for`), judges each with
:func:`dmfverify.checker.check` and feeds Hypothesis a normalised violation
score per claim through :func:`hypothesis.target`,

.. math::

    \text{score} = -\,\text{margin} / \max(|\text{bound}|, 1),

so the search climbs towards large violations.  The score is positive exactly
when the claim is violated, and bounds below 1 count as 1 so that claims with
the bound 0 stay ordered by their margin.  The negated margin itself is a
second target per claim, because a claim checked only up to its bound (a
hitting-time lower bound whose level is not reached) has a margin capped near
one step, which the normalised score rewards more the larger the bound.  When a claim comes out ``VIOLATED``,
Hypothesis shrinks the instance, the hunt re-checks the minimal instance with
the certified enclosure escalated to ``certify_bits`` bits, and writes it to the
corpus at once (atomic write) as

.. code-block:: json

    {"instance": {...}, "theorem": "H1", "claim": "lower", "verdict": "VIOLATED",
     "margin": -3.0, "found_at": "2026-06-01T12:00:00+00:00", ...}

which :func:`dmfverify.instance.load_instance` reads back directly.  The hunt
then starts a new round with a derived seed, treating the instances already in
the corpus as known (at most one counterexample per
:func:`violation_signature`), until the budget or the time limit is spent.

The Hypothesis example database lives in ``corpus/.hypothesis``, so a rerun
replays what the last one learned.  Ctrl-C or SIGTERM stops the hunt after
certifying and writing the last violation it saw.
:func:`dmfverify.hunt_parallel.hunt_parallel` runs several hunts in local
processes on one corpus, and :mod:`dmfverify.hunt_progress` defines what a hunt reports.

Instances whose check ends in ``ERROR`` (including a check that exceeds
``check_timeout`` seconds or raises an unexpected exception, which is logged
with its traceback) are kept in ``corpus/errors/``.  A proved theorem
should never give one on a generated instance, so each points at a bug in the
toolkit or at an input the engines cannot handle.  Instances reported
``VIOLATED`` with a margin of exactly 0 are kept in ``corpus/suspect/`` and
are not counted as counterexamples (see :func:`dmfverify.replay.real_violations`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky, Unsatisfiable

from dmfverify.checker import CheckOptions, check
from dmfverify.errors import InvalidArgument, InvalidTheorem
from dmfverify.instance import Instance
from dmfverify.hunt_progress import LOG_INTERVAL, PROGRESS_INTERVAL, HuntProgress, HuntResult, ProgressLine
from dmfverify.io import atomic_write_text
from dmfverify.replay import counterexample_record, instance_key, known_violations, real_violations, slug, violation_signature, violation_score
from dmfverify.strategies import instances_for
from dmfverify.theorem import Theorem
from dmfverify.verdict import Outcome, Verdict, worst

__all__ = ["hunt", "HuntResult", "HuntProgress", "ProgressLine", "violation_score"]

logger = logging.getLogger(__name__)


class _StopHunt(BaseException):
    """Raised inside the Hypothesis test to end the search (budget, time or signal); Hypothesis does not catch it."""


class _CheckTimeout(BaseException):
    """A single check ran past ``check_timeout``."""


class _Counterexample(Exception):
    """A claim came out VIOLATED; Hypothesis shrinks the instance that raised it."""

    def __init__(self, instance: Instance, verdicts: list[Verdict]):
        super().__init__(f"{instance_key(instance)} violates {[v.claim for v in verdicts if v.verdict is Outcome.VIOLATED]}")
        self.instance = instance
        self.verdicts = verdicts


class _Hunter:
    """State shared by the rounds of one hunt."""

    def __init__(self, theorem, budget, time_limit, seed, corpus, options, strategy, worker, check_timeout,
                 max_counterexamples, max_shrinks, certify_bits, progress, max_errors):
        self.theorem = theorem
        self.budget = budget
        self.time_limit = time_limit
        self.seed = seed
        self.corpus = Path(corpus) if corpus is not None else None
        self.options = options
        self.strategy = strategy
        self.worker = worker
        self.check_timeout = check_timeout
        self.max_counterexamples = max_counterexamples
        self.max_shrinks = max_shrinks
        self.certify_bits = certify_bits
        self.progress = progress
        self.max_errors = max_errors

        self.result = HuntResult(theorem.id, seed=seed, budget=budget, time_limit=time_limit)
        self.started = time.monotonic()
        self.known, self.signatures = known_violations(self.corpus)
        self.cache: dict[str, list[Verdict]] = {}
        self.failing: tuple[Instance, list[Verdict]] | None = None
        self.shrink_calls = 0
        self.stop_requested = False
        self.fatal: InvalidTheorem | None = None
        self._last_progress = 0.0
        self._last_log = self.started

    # -- judging

    def out_of_budget(self) -> bool:
        if self.stop_requested:
            return True
        if self.time_limit is not None and time.monotonic() - self.started >= self.time_limit:
            return True
        return self.budget is not None and self.result.judged >= self.budget

    def judge(self, instance: Instance) -> None:
        if self.failing is not None:
            self.shrink_calls += 1
            if self.shrink_calls > self.max_shrinks or self.stop_requested:
                raise _StopHunt("shrink limit")
        elif self.out_of_budget():
            raise _StopHunt("budget")

        fingerprint = instance_key(instance)
        verdicts = self.cache.get(fingerprint)
        if verdicts is None:
            verdicts = self._timed_check(instance)
            self.cache[fingerprint] = verdicts
            self._record(instance, verdicts)

        # Two targets per claim: the normalised score, and the margin itself, because a hitting-time lower bound
        # is only run up to its bound, so its margin saturates near 1 and the normalised score then favours large bounds.
        for verdict in verdicts:
            score = violation_score(verdict)
            if score is not None:
                hypothesis.target(score, label=verdict.claim)
                hypothesis.target(-verdict.margin, label=f"{verdict.claim} (margin)")

        if self._is_new(instance, fingerprint, verdicts) and len(self.result.counterexamples) < self.max_counterexamples:
            self.failing = (instance, verdicts)
            raise _Counterexample(instance, verdicts)

    def _is_new(self, instance: Instance, fingerprint: str, verdicts: list[Verdict]) -> bool:
        """True when a real violation is of a kind (signature) that the corpus does not hold yet."""
        if fingerprint in self.known:
            return False
        return any(violation_signature(instance, verdict.claim) not in self.signatures for verdict in real_violations(verdicts))

    def _timed_check(self, instance: Instance) -> list[Verdict]:
        use_timer = self.check_timeout is not None and threading.current_thread() is threading.main_thread()
        if not use_timer:
            return self._guarded_check(instance)

        armed = [True]

        def expire(signum, frame):
            if armed[0]:
                raise _CheckTimeout()

        # The alarm repeats until the check ends, because Python ignores an exception raised while a
        # garbage-collection callback runs; the flag makes the repeats harmless once the check is over.
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.check_timeout, max(0.01, min(1.0, self.check_timeout)))
        verdicts = None
        try:
            verdicts = self._guarded_check(instance)
        except _CheckTimeout:
            armed[0] = False
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        if verdicts is None:
            reason = f"the check timed out after {self.check_timeout} s and was stopped"
            verdicts = [Verdict(self.theorem.id, claim.name, instance.id, Outcome.ERROR, reason=reason, status=self.theorem.status)
                        for claim in self.theorem.claims]
        return verdicts

    def _guarded_check(self, instance: Instance) -> list[Verdict]:
        """Run the check; an unexpected exception from the checker becomes an ERROR verdict instead of ending the hunt."""
        try:
            return check(self.theorem, instance, self.options)
        except InvalidTheorem as error:
            # A broken theorem fails on every instance: stop the search and report it once.
            self.fatal = error
            self.stop_requested = True
            raise _StopHunt("invalid theorem") from None
        except Exception as error:
            logger.exception("%s: the check raised on instance %s", self.theorem.id, instance_key(instance))
            reason = f"the check raised {type(error).__name__}: {error}"
            return [Verdict(self.theorem.id, claim.name, instance.id, Outcome.ERROR, reason=reason, status=self.theorem.status)
                    for claim in self.theorem.claims]

    def _record(self, instance: Instance, verdicts: list[Verdict]) -> None:
        result = self.result
        result.judged += 1
        outcome = str(worst(verdict.verdict for verdict in verdicts))
        result.counts[outcome] = result.counts.get(outcome, 0) + 1
        for verdict in verdicts:
            key = f"{verdict.claim}: {verdict.verdict}"
            result.claim_counts[key] = result.claim_counts.get(key, 0) + 1
            score = violation_score(verdict)
            if score is not None and (result.best_score is None or score > result.best_score):
                result.best_score = score
                result.best_instance = {"claim": verdict.claim, "margin": verdict.margin, "bound": verdict.bound,
                                        "observed": verdict.observed, "instance": instance.to_dict(include_expected=False)}
            holds_closer = verdict.verdict is Outcome.HOLDS and verdict.margin is not None and math.isfinite(verdict.margin)
            if holds_closer and (result.closest is None or verdict.margin < result.closest["margin"]):
                result.closest = {"claim": verdict.claim, "margin": verdict.margin, "bound": verdict.bound,
                                  "observed": verdict.observed, "instance": instance.to_dict(include_expected=False)}
        if outcome == "ERROR":
            reason = next(verdict.reason for verdict in verdicts if verdict.verdict is Outcome.ERROR)
            self._keep(instance, "errors", "ERROR", reason, self.result.errors)
        elif outcome == "VIOLATED" and not real_violations(verdicts):
            reason = next(verdict.reason for verdict in verdicts if verdict.verdict is Outcome.VIOLATED)
            self._keep(instance, "suspect", "VIOLATED with margin 0", reason, self.result.suspect)
        self._report_progress()

    def _keep(self, instance: Instance, folder: str, verdict: str, reason: str, files: list[str]) -> None:
        """Log an instance the checker could not judge cleanly and keep the first few in ``corpus/folder``."""
        key = instance_key(instance)
        logger.warning("%s: %s on instance %s: %s", self.theorem.id, verdict, key, reason)
        if self.corpus is None or len(files) >= self.max_errors:
            return
        name = f"{self.theorem.id}-{folder}-{key}"
        path = self.corpus / folder / f"{name}.json"
        record = {"instance": instance.with_changes(id=name).to_dict(include_expected=False), "theorem": self.theorem.id,
                  "verdict": verdict, "reason": reason,
                  "found_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
        files.append(str(path))

    def _report_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.progress is not None and (force or now - self._last_progress >= PROGRESS_INTERVAL):
            self._last_progress = now
            self.progress(self.snapshot())
        if force or now - self._last_log >= LOG_INTERVAL:
            self._last_log = now
            logger.info("%s", self.snapshot().line())

    def snapshot(self) -> HuntProgress:
        result = self.result
        return HuntProgress(result.theorem, result.judged, time.monotonic() - self.started, result.best_score,
                            dict(result.counts), len(result.counterexamples), self.worker)

    # -- rounds

    def run_round(self, round_seed: int) -> tuple[Instance, list[Verdict]] | None:
        """Run Hypothesis once; return the shrunk failing instance, or None when the budget ended the round."""
        self.failing = None
        self.shrink_calls = 0
        self.cache.clear()

        def test(instance):
            self.judge(instance)

        database = DirectoryBasedExampleDatabase(str(self.corpus / ".hypothesis")) if self.corpus is not None else None
        wrapped = hypothesis.given(self.strategy)(test)
        wrapped = hypothesis.seed(round_seed)(wrapped)
        wrapped = settings(
            database=database,
            # The hunt stops itself (budget counts distinct instances), so Hypothesis' own limit is never reached.
            max_examples=10**9,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
            verbosity=Verbosity.quiet,
            print_blob=False,
            report_multiple_bugs=False,
        )(wrapped)
        # One database key per theorem and statement, so hunts of different theorems never replay each other's examples.
        # NOTE: Hypothesis has no public setting for the key; this attribute is what @given reads (checked with 6.155).
        wrapped._hypothesis_internal_database_key = f"dmfverify-hunt:{self.theorem.id}:{self.theorem.statement}".encode()

        try:
            wrapped()
        except _Counterexample as found:
            return found.instance, found.verdicts
        except _StopHunt:
            return self.failing
        except Unsatisfiable:
            raise InvalidArgument(f"the instance strategy for {self.theorem.id} rejected every draw; widen its steering "
                                  f"(for example a larger max_steps).") from None
        except Flaky:
            logger.warning("%s: Hypothesis reported a flaky failure; keeping the last violating instance seen", self.theorem.id)
            return self.failing
        return self.failing

    def confirm_and_write(self, instance: Instance, verdicts: list[Verdict]) -> None:
        """Re-check a violation at ``certify_bits`` and write it to the corpus if it is confirmed."""
        fingerprint = instance_key(instance)
        named = instance.with_changes(id=f"{self.theorem.id}-{fingerprint}")
        options = replace(self.options, max_bits=max(self.options.max_bits, self.certify_bits))
        certified = check(self.theorem, named, options)

        # Marked as known only once checked, so an interrupt during the re-check still lets the caller write it.
        self.known.add(fingerprint)
        self.signatures.update(violation_signature(instance, verdict.claim) for verdict in real_violations(verdicts))
        if not real_violations(certified):
            self.result.unconfirmed += 1
            logger.warning("%s: violation on %s not confirmed at %d bits: %s", self.theorem.id, fingerprint, options.max_bits,
                           "; ".join(f"{v.claim} {v.verdict}" for v in certified))
            return
        record = counterexample_record(self.theorem, named, certified, seed=self.seed, worker=self.worker, options=options)
        if self.corpus is not None:
            path = self.corpus / f"{self.theorem.id}-{slug(record['claim'])}-{fingerprint}.json"
            # Another worker may have found the same instance first; its file is kept as written.
            if not atomic_write_text(path, json.dumps(record, indent=1) + "\n", overwrite=False):
                logger.info("%s: %s is already in the corpus; kept as it is", self.theorem.id, path.name)
                return
            self.result.counterexamples.append(str(path))
        else:
            self.result.counterexamples.append(f"<not written: no corpus> {fingerprint}")
        logger.warning("%s: counterexample confirmed at %d bits, claim %r, margin %s%s", self.theorem.id, options.max_bits,
                       record["claim"], record["margin"], f", written to {path}" if self.corpus is not None else "")


class _Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C."""


@contextlib.contextmanager
def _stop_signals(on_stop: Callable[[], None]) -> Iterator[None]:
    """Make SIGTERM and SIGINT call ``on_stop`` and then raise, in the main thread, for the duration of a hunt.

    SIGTERM raises :class:`_Terminated` and SIGINT ``KeyboardInterrupt``.  The
    callback sets a flag first because the exception alone can be lost.  A
    signal may land in a garbage-collector callback (Hypothesis installs one),
    where Python prints the exception as "ignored" and carries on.  The flag
    then stops the hunt at its next instance.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        on_stop()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise _Terminated()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def hunt(
    theorem: Theorem,
    *,
    budget: int | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    corpus: str | Path | None = None,
    options: CheckOptions | None = None,
    strategy: st.SearchStrategy[Instance] | None = None,
    steering: dict[str, Any] | None = None,
    worker: int = 0,
    check_timeout: float | None = 60.0,
    max_counterexamples: int = 10,
    max_shrinks: int = 300,
    certify_bits: int = 1024,
    max_errors: int = 10,
    progress: Callable[[HuntProgress], None] | None = None,
) -> HuntResult:
    r"""Search for instances on which a claim of ``theorem`` is ``VIOLATED``.

    Parameters
    ----------
    theorem : Theorem
        The statement to attack.
    budget : int, optional
        Distinct instances to judge (1000 when neither ``budget`` nor
        ``time_limit`` is given); shrinking a violation found before the
        budget ran out may add up to ``max_shrinks`` checks.
    time_limit : float, optional
        Wall-clock seconds; the hunt stops at whichever limit comes first.
    seed : int
        Seed of the first round; round ``k`` uses ``seed + 1000003 k``.
    corpus : path, optional
        Folder for counterexample files, ``errors/`` and the Hypothesis
        database ``.hypothesis``.  Without it nothing is written and nothing
        is replayed.
    options : CheckOptions, optional
        Settings of every check (default :class:`~dmfverify.checker.CheckOptions`).
    strategy : SearchStrategy of Instance, optional
        Instances to draw (default :func:`~dmfverify.strategies.instances_for`).
    steering : dict, optional
        Overrides of the theorem's :class:`~dmfverify.strategies.Steering`
        fields, used when ``strategy`` is not given.
    worker : int
        Worker number, recorded in counterexample files.
    check_timeout : float or None
        Seconds after which one check is stopped and counted as ``ERROR``
        (enforced with ``SIGALRM``, so only in the main thread).
    max_counterexamples : int
        Violations shrunk and written; later ones are only counted.
    max_shrinks : int
        Checks spent shrinking one violation; past it the smallest violating
        instance seen so far is kept.
    certify_bits : int
        Precision cap of the re-check that confirms a violation.
    max_errors : int
        ``ERROR`` instances kept in ``corpus/errors``.
    progress : callable, optional
        Receives a :class:`HuntProgress` about once a second.

    Returns
    -------
    HuntResult
        Counts, written files and throughput.  "No counterexample" says only
        that none was found in the budget, never that the statement is true.
    """
    if budget is None and time_limit is None:
        budget = 1000
    if budget is not None and budget < 1:
        raise InvalidArgument(f"budget = {budget} is invalid: it must be a positive number of instances.")
    if time_limit is not None and time_limit <= 0:
        raise InvalidArgument(f"time_limit = {time_limit} is invalid: it must be a positive number of seconds.")

    strategy = strategy or instances_for(theorem, **(steering or {}))
    hunter = _Hunter(theorem, budget, time_limit, seed, corpus, options or CheckOptions(), strategy, worker, check_timeout,
                     max_counterexamples, max_shrinks, certify_bits, progress, max_errors)
    logger.info("hunt %s started: budget %s, time limit %s, seed %d, corpus %s", theorem.id, budget,
                "none" if time_limit is None else f"{time_limit} s", seed, corpus)

    round_number = 0
    pending: tuple[Instance, list[Verdict]] | None = None
    def request_stop() -> None:
        hunter.stop_requested = True
        hunter.result.interrupted = True

    with _stop_signals(request_stop):
        try:
            while not hunter.out_of_budget():
                found = hunter.run_round(seed + 1_000_003 * round_number)
                round_number += 1
                if found is None:
                    break
                pending = found
                hunter.confirm_and_write(*found)
                pending = None
        except (KeyboardInterrupt, _Terminated):
            hunter.result.interrupted = True
            hunter.stop_requested = True
            logger.warning("hunt %s interrupted after %d instances; keeping what was found", theorem.id, hunter.result.judged)
            last = pending or hunter.failing
            if last is not None and instance_key(last[0]) not in hunter.known:
                hunter.confirm_and_write(*last)

    if hunter.fatal is not None:
        raise hunter.fatal
    hunter.result.elapsed = time.monotonic() - hunter.started
    hunter._report_progress(force=True)
    logger.info("hunt %s finished: %d judged, %d counterexamples", theorem.id, hunter.result.judged, len(hunter.result.counterexamples))
    return hunter.result
