"""The length test of preference data: per family, the share of pairs (ties left out) whose chosen answer is
longer in characters, with a two-sided binomial p-value. `interp.training.neutrality` judges it.

>>> from interp.training.prefdata import PreferencePair
>>> length_balance([PreferencePair("q", "a longer answer", "short")] * 6)[0].share
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from interp.training.prefdata import PreferencePair


@dataclass(frozen=True)
class LengthBalance:
    """How often the chosen answer of one family is the longer one (ties left out), with a binomial p-value."""

    family: str
    chosen_longer: int
    rejected_longer: int
    share: float
    p_value: float


def length_balance(pairs: Sequence[PreferencePair]) -> tuple[LengthBalance, ...]:
    """Per family: how often the chosen answer is longer in characters (ties left out), binomial p-value."""
    out = []
    for family in dict.fromkeys(p.family for p in pairs):
        sign = np.sign([len(p.chosen) - len(p.rejected) for p in pairs if p.family == family])
        longer, shorter = int((sign > 0).sum()), int((sign < 0).sum())
        n = longer + shorter
        p = float(stats.binomtest(longer, n).pvalue) if n else 1.0
        out.append(LengthBalance(family, longer, shorter, longer / n if n else 0.5, p))
    return tuple(out)
