"""Exceptions and warning classes of dmfverify.

Every error the library raises on purpose derives from :class:`DmfverifyError`.
Errors caused by a bad argument or a bad input file are :class:`InvalidArgument`,
which is also a :class:`ValueError`, so ``except ValueError`` keeps working for
callers who do not know this package.  Messages are one plain sentence that
names the offending value, the reason and the fix.
"""

from __future__ import annotations

__all__ = [
    "DmfverifyError",
    "InvalidArgument",
    "InvalidTheorem",
    "BudgetExceeded",
    "DivergenceError",
    "CertificationError",
    "DmfverifyWarning",
    "NumericalWarning",
    "EnclosureWarning",
]


class DmfverifyError(Exception):
    """Base class of every error raised on purpose by dmfverify."""


class InvalidArgument(DmfverifyError, ValueError):
    """An argument, an instance file or a parameter value is invalid."""


class InvalidTheorem(InvalidArgument):
    """A theorem definition is malformed, for example a bound names an unknown symbol."""


class BudgetExceeded(DmfverifyError):
    """A run would need more iterations than the budget allows.

    Attributes
    ----------
    estimate : int
        Estimated number of gradient-descent steps the request needs.
    budget : int
        The iteration budget in force.
    """

    def __init__(self, message: str, estimate: int, budget: int):
        super().__init__(message)
        self.estimate = estimate
        self.budget = budget


class DivergenceError(DmfverifyError):
    """Gradient descent left every bounded region (overflow, NaN, or step size past the stability limit)."""


class CertificationError(DmfverifyError):
    """A certified enclosure could not be computed or became too wide to decide anything."""


class DmfverifyWarning(UserWarning):
    """Base class of the warnings issued by dmfverify."""


class NumericalWarning(DmfverifyWarning):
    """A result is computed, but rounding may matter: read the message before trusting it."""


class EnclosureWarning(NumericalWarning):
    """A certified enclosure left the monotone regime and fell back to a wider method."""
