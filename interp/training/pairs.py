"""The preference pair: the one type that built-in generators (`neutral`) and data loaders (`prefdata`) share.

>>> PreferencePair("2+2?", "4", "5", family="arithmetic").chosen
'4'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PreferencePair:
    """One comparison: for `prompt`, `chosen` is preferred over `rejected`; `family` names its source/task."""

    prompt: str
    chosen: str
    rejected: str
    family: str = "data"
