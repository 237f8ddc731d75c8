"""Theorems as data: parameters, hypotheses, derived quantities and claims.

A :class:`Theorem` is built from the classes below and sympy expressions in the
symbols of :mod:`dmfverify.symbolic`; it holds no engine code.  The checker
(:mod:`dmfverify.checker`) expands each claim over eigenvalue indices and
levels, runs the dynamics and judges every inequality.

Index sets (``over=``), with eigenvalues numbered ``1..n`` in descending order:

=============  =============================================================
``"all"``      every ``i``
``"positive"`` every ``i`` with ``mu_i > 0`` (target eigenvalue)
``"top"``      ``i = 1..r``
``"rest"``     ``i = r+1..n``
``"first"``    ``i = 1``
=============  =============================================================

Level sets (``levels=``) for claims that range over a level ``u``:
``"thresholds"`` uses the instance's ``thresholds`` when it has any, and
otherwise the fractions ``DEFAULT_LEVEL_FRACTIONS`` of ``mu_i`` together with
``v*(mu_i)``.

A minimal user theorem (a deliberately weak hitting-time bound):

>>> import sympy
>>> from dmfverify.symbolic import Phi, u, mu, i, alpha, eta, N
>>> weak = Theorem(
...     id="WEAK", title="Hitting time at least half the potential", status="conjecture",
...     source="example", statement="T_mu(u) >= Phi_mu(u) / (2 eta)",
...     hypotheses=(Hypothesis("u below mu", u < mu[i]),),
...     claims=(HittingTimeBound("half potential", level=u, relation=">=",
...             bound=Phi(u, mu[i], alpha, N) / (2 * eta), over="positive", levels="thresholds"),),
... )
>>> weak.claims[0].name
'half potential'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy

from dmfverify.errors import InvalidTheorem

__all__ = [
    "Theorem",
    "Hypothesis",
    "Derived",
    "HittingTimeBound",
    "WindowBound",
    "StepValueBound",
    "ObservableBound",
    "INDEX_SETS",
    "DEFAULT_LEVEL_FRACTIONS",
    "STATUSES",
]

INDEX_SETS = ("all", "positive", "top", "rest", "first", None)
STATUSES = ("proved", "conjecture")
RELATIONS = ("<=", ">=")

#: Levels ``u = c mu_i`` checked when an instance lists no thresholds (``v*(mu_i)`` is added).
DEFAULT_LEVEL_FRACTIONS = ("0.05", "0.2", "0.5", "0.8", "0.95", "0.999")


def _sympify(name: str, value: Any) -> sympy.Basic | None:
    if value is None:
        return None
    try:
        return sympy.sympify(value)
    except (sympy.SympifyError, TypeError) as error:
        raise InvalidTheorem(f"{name} = {value!r} is not a sympy expression ({error}); write it with the symbols of dmfverify.symbolic.") from None


def _check_over(owner: str, over: Any) -> None:
    if over not in INDEX_SETS:
        raise InvalidTheorem(f"{owner}: over = {over!r} is not an index set; use one of {', '.join(map(str, INDEX_SETS))}.")


@dataclass(frozen=True)
class Hypothesis:
    """A condition under which a theorem claims anything.

    ``condition`` is a sympy relation (``<``, ``<=``, ``>``, ``>=``) or a
    conjunction of them.  With ``over`` set it must hold for every index in the
    set; a hypothesis attached to a claim may also use that claim's ``i`` and ``u``.
    When it fails the claim is ``VACUOUS`` and the verdict names ``name``.
    """

    name: str
    condition: Any
    over: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "condition", _sympify(f"hypothesis {self.name!r}", self.condition))
        _check_over(f"hypothesis {self.name!r}", self.over)


@dataclass(frozen=True)
class Derived:
    """A named quantity computed before the claims, usable in later expressions as ``sympy.Symbol(name)``.

    ``reduce`` is ``"max"``, ``"min"`` or ``"sum"`` over the index set ``over``
    (the expression then uses ``i``), or None for a plain expression.
    """

    name: str
    expr: Any
    reduce: str | None = None
    over: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "expr", _sympify(f"derived {self.name!r}", self.expr))
        if self.reduce not in (None, "max", "min", "sum"):
            raise InvalidTheorem(f"derived {self.name!r}: reduce = {self.reduce!r} must be 'max', 'min', 'sum' or None.")
        _check_over(f"derived {self.name!r}", self.over)

    @property
    def symbol(self) -> sympy.Symbol:
        """The symbol that stands for this quantity in later expressions."""
        return sympy.Symbol(self.name)


@dataclass(frozen=True)
class _Claim:
    name: str
    over: str | None = "all"
    hypotheses: tuple[Hypothesis, ...] = ()
    levels: str | None = None
    description: str = ""

    def _validate(self) -> None:
        _check_over(f"claim {self.name!r}", self.over)
        if self.levels not in (None, "thresholds"):
            raise InvalidTheorem(f"claim {self.name!r}: levels = {self.levels!r} must be 'thresholds' or None.")


@dataclass(frozen=True)
class HittingTimeBound(_Claim):
    """``T_i(level) <relation> bound``: the first step with ``p_i(k) >= level`` against a bound."""

    level: Any = None
    relation: str = "<="
    bound: Any = None

    def __post_init__(self):
        self._validate()
        object.__setattr__(self, "level", _sympify(f"claim {self.name!r} level", self.level))
        object.__setattr__(self, "bound", _sympify(f"claim {self.name!r} bound", self.bound))
        if self.relation not in RELATIONS:
            raise InvalidTheorem(f"claim {self.name!r}: relation = {self.relation!r} must be '<=' or '>='.")
        if self.level is None or self.bound is None:
            raise InvalidTheorem(f"claim {self.name!r} needs both level= and bound=.")

    def statement(self) -> str:
        return f"T_i({self.level}) {self.relation} {self.bound}"


@dataclass(frozen=True)
class WindowBound(_Claim):
    """``p_i(k) >= level`` (side ``"above"``) or ``p_i(k) < level`` (``"below"``) for every integer ``k`` in ``[start, stop)``.

    ``stop=None`` means up to the run's horizon, which the checker reports.
    """

    level: Any = None
    side: str = "above"
    start: Any = 0
    stop: Any = None

    def __post_init__(self):
        self._validate()
        for name in ("level", "start", "stop"):
            object.__setattr__(self, name, _sympify(f"claim {self.name!r} {name}", getattr(self, name)))
        if self.side not in ("above", "below"):
            raise InvalidTheorem(f"claim {self.name!r}: side = {self.side!r} must be 'above' or 'below'.")
        if self.level is None:
            raise InvalidTheorem(f"claim {self.name!r} needs level=.")

    def statement(self) -> str:
        sign = ">=" if self.side == "above" else "<"
        stop = "horizon" if self.stop is None else self.stop
        return f"p_i(k) {sign} {self.level} for k in [{self.start}, {stop})"


@dataclass(frozen=True)
class StepValueBound(_Claim):
    """``observed(p_i(step)) <relation> bound`` at steps ``anchor + m`` for ``m`` in ``sweep``.

    ``observed`` is an expression in the symbol ``p`` (the product eigenvalue
    at the step) that must be monotone in ``p``: the checker evaluates it at both
    ends of the enclosure of ``p``.  ``anchor`` is an expression that may use
    ``K``, the observed hitting time of ``anchor_level`` (the latest step of its
    certified range, so the claim is checked where the anchor surely holds).
    """

    observed: Any = None
    relation: str = "<="
    bound: Any = None
    anchor: Any = 0
    anchor_level: Any = None
    sweep: tuple[int, ...] = (0,)

    def __post_init__(self):
        self._validate()
        for name in ("observed", "bound", "anchor", "anchor_level"):
            object.__setattr__(self, name, _sympify(f"claim {self.name!r} {name}", getattr(self, name)))
        if self.relation not in RELATIONS:
            raise InvalidTheorem(f"claim {self.name!r}: relation = {self.relation!r} must be '<=' or '>='.")
        if any(int(step) < 0 for step in self.sweep):
            raise InvalidTheorem(f"claim {self.name!r}: sweep = {self.sweep!r} must hold integers >= 0.")

    def statement(self) -> str:
        return f"{self.observed} {self.relation} {self.bound} at k = {self.anchor} + m, m in {list(self.sweep)}"


@dataclass(frozen=True)
class ObservableBound(_Claim):
    """``observable <relation> bound`` for an observable computed by a registered function.

    ``observable`` names a function of :data:`dmfverify.observable_registry.OBSERVABLES`
    (users add their own with :func:`dmfverify.observable_registry.observable`).
    The function receives the evaluation context and returns an enclosure
    ``(lo, hi)`` of the observed value together with a short description.
    """

    observable: str = ""
    relation: str = "<="
    bound: Any = None
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        self._validate()
        object.__setattr__(self, "bound", _sympify(f"claim {self.name!r} bound", self.bound))
        if self.relation not in RELATIONS:
            raise InvalidTheorem(f"claim {self.name!r}: relation = {self.relation!r} must be '<=' or '>='.")
        if not self.observable:
            raise InvalidTheorem(f"claim {self.name!r} needs observable= naming a registered observable.")

    def statement(self) -> str:
        return f"{self.observable} {self.relation} {self.bound}"


Claim = HittingTimeBound | WindowBound | StepValueBound | ObservableBound


@dataclass(frozen=True)
class Theorem:
    """One statement of the catalog.

    Attributes
    ----------
    id : str
        Short identifier used on the command line (``"H1"``).
    title, statement : str
        The statement in words and the inequality exactly as the checker evaluates it.
    status : {"proved", "conjecture"}
    source : str
        Paper, theorem number and arXiv id, or "derived in this project".
    hypotheses : tuple of Hypothesis
        Conditions on the instance; if one fails every claim is ``VACUOUS``.
    derived : tuple of Derived
        Quantities such as ``T0`` and ``T1``, computed in order.
    claims : tuple of claims
    requires : tuple of str
        Instance fields the theorem needs (``"rank"``, ``"eps"``, ``"delta"``, ``"noise"``);
        without them the theorem is ``VACUOUS`` on the instance.
    family : str
        Catalog family (module) the theorem belongs to.
    """

    id: str
    title: str
    status: str
    source: str
    statement: str
    claims: tuple = ()
    hypotheses: tuple[Hypothesis, ...] = ()
    derived: tuple[Derived, ...] = ()
    requires: tuple[str, ...] = ()
    family: str = ""
    latex: str = ""
    scaling: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.id or not str(self.id).replace("_", "").replace("-", "").isalnum():
            raise InvalidTheorem(f"theorem id {self.id!r} is invalid: use letters, digits, '-' and '_'.")
        if self.status not in STATUSES:
            raise InvalidTheorem(f"theorem {self.id}: status = {self.status!r} must be 'proved' or 'conjecture'.")
        names = [claim.name for claim in self.claims]
        if len(set(names)) != len(names):
            raise InvalidTheorem(f"theorem {self.id}: claim names must be distinct, got {names}.")
        if not self.claims:
            raise InvalidTheorem(f"theorem {self.id} has no claims; add at least one.")
        for required in self.requires:
            if required not in ("rank", "eps", "delta", "noise", "thresholds"):
                raise InvalidTheorem(f"theorem {self.id}: requires {required!r} is not an instance field.")

    def claim(self, name: str):
        """Return the claim called ``name``."""
        for claim in self.claims:
            if claim.name == name:
                return claim
        raise InvalidTheorem(f"theorem {self.id} has no claim {name!r}; its claims are {[c.name for c in self.claims]}.")

    def describe(self) -> str:
        """Return the statement as plain text: hypotheses, derived quantities and claims."""
        lines = [f"{self.id} ({self.status}): {self.title}", f"Source: {self.source}", "", self.statement.strip(), ""]
        if self.hypotheses:
            lines.append("Hypotheses:")
            lines += [f"  - {hyp.name}: {hyp.condition}" + (f" for i in {hyp.over}" if hyp.over else "") for hyp in self.hypotheses]
        if self.derived:
            lines.append("Derived quantities:")
            lines += [
                f"  - {d.name} = " + (f"{d.reduce} over i in {d.over} of " if d.reduce else "") + str(d.expr) for d in self.derived
            ]
        lines.append("Claims:")
        for claim in self.claims:
            over = f" for i in {claim.over}" if claim.over else ""
            lines.append(f"  - {claim.name}: {claim.statement()}{over}")
            lines += [f"      if {hyp.name}: {hyp.condition}" for hyp in claim.hypotheses]
        return "\n".join(lines)

    def to_latex(self) -> str:
        """Return the claims as LaTeX (one ``align*`` row each)."""
        rows = []
        for claim in self.claims:
            if isinstance(claim, HittingTimeBound):
                sign = r"\le" if claim.relation == "<=" else r"\ge"
                rows.append(rf"T_i\big({sympy.latex(claim.level)}\big) &{sign} {sympy.latex(claim.bound)}")
            elif isinstance(claim, WindowBound):
                sign = r"\ge" if claim.side == "above" else "<"
                stop = r"\infty" if claim.stop is None else sympy.latex(claim.stop)
                rows.append(rf"p_i(k) &{sign} {sympy.latex(claim.level)} \quad k \in [{sympy.latex(claim.start)}, {stop})")
            elif isinstance(claim, StepValueBound):
                sign = r"\le" if claim.relation == "<=" else r"\ge"
                rows.append(rf"{sympy.latex(claim.observed)} &{sign} {sympy.latex(claim.bound)}")
            else:
                sign = r"\le" if claim.relation == "<=" else r"\ge"
                name = claim.observable.replace("_", r"\_")
                rows.append(rf"\mathrm{{{name}}} &{sign} {sympy.latex(claim.bound)}")
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

    def _repr_markdown_(self) -> str:
        return f"**{self.id}** ({self.status}): {self.title}\n\n$${self.to_latex()}$$"
