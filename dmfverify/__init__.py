"""dmfverify: numerical checks of theorems on gradient descent in deep matrix factorization.

The most used names are importable from the package itself.  They are loaded
on first use, so ``import dmfverify`` stays cheap although the engines import
numba and gmpy2.

>>> import dmfverify
>>> instance = dmfverify.Instance.create(spectrum=["1"], depth=2, alpha="0.1", eta="0.1", thresholds=["0.5"])
>>> [(verdict.claim, verdict.verdict.value) for verdict in dmfverify.check("H2", instance)]
[('lower', 'HOLDS'), ('upper', 'HOLDS')]
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module that defines it.
_EXPORTS = {
    "check": "dmfverify.checker",
    "check_many": "dmfverify.checker",
    "CheckOptions": "dmfverify.checker",
    "derived_values": "dmfverify.checker",
    "Instance": "dmfverify.instance",
    "load_instance": "dmfverify.instance",
    "builtin_theorems": "dmfverify.theorem_loader",
    "load_theorems": "dmfverify.theorem_loader",
    "simulate_scalar": "dmfverify.scalar_engine",
    "hunt": "dmfverify.hunt",
    "Outcome": "dmfverify.verdict",
    "Verdict": "dmfverify.verdict",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dmfverify' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(_EXPORTS)
