"""The lexicon test of preference data: per category, the rate of its words per 1,000 words of chosen vs
rejected answers, the difference, a bootstrap 95% CI over pairs and a sign-flip permutation p-value (under
the null the chosen/rejected labels of each pair are exchangeable). `interp.training.neutrality` judges it.

>>> chosen, rejected = ["power and success", "love"], ["love and care", "power"]
>>> wc, wr = word_counts(chosen), word_counts(rejected)
>>> rate = category_rate("agency", ["power", "succe*"], chosen, rejected, wc, wr, 100, np.random.default_rng(0))
>>> rate.chosen_hits, rate.rejected_hits, round(rate.difference, 1)
(2, 1, 250.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp._util.errors import UserError
from interp.stats.bootstrap import bootstrap_weights, percentile_interval

WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
CHUNK = 64  # resamples per vectorised block


@dataclass(frozen=True)
class CategoryRate:
    """Rates of one category's words per 1,000 words, chosen vs rejected, with CI and p-value."""

    category: str
    chosen_hits: int
    rejected_hits: int
    chosen_per_1k: float
    rejected_per_1k: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float


def _pattern(words: Sequence[str]) -> re.Pattern[str]:
    parts = []
    for word in sorted(words, key=len, reverse=True):
        stem = word.endswith("*")
        body = r"\s+".join(re.escape(w) for w in word.rstrip("*").split())
        parts.append(body + (r"[A-Za-z'-]*" if stem else ""))
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(parts) + r")(?![A-Za-z])", re.IGNORECASE)


def _counts(texts: Sequence[str], pattern: re.Pattern[str]) -> np.ndarray:
    return np.array([len(pattern.findall(t)) for t in texts], dtype=np.float64)


def _rate_difference(c: np.ndarray, wc: np.ndarray, r: np.ndarray, wr: np.ndarray) -> np.ndarray:
    """Rows of sums -> chosen rate − rejected rate, per 1000 words."""
    return 1000.0 * (c / np.maximum(wc, 1.0) - r / np.maximum(wr, 1.0))


def _test(
    c: np.ndarray, wc: np.ndarray, r: np.ndarray, wr: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """Observed difference, bootstrap CI over pairs, sign-flip permutation p-value."""
    observed = float(_rate_difference(c.sum(), wc.sum(), r.sum(), wr.sum()))
    if c.sum() + r.sum() == 0:
        return observed, 0.0, 0.0, 1.0
    n = len(c)
    boot, extreme = [], 0
    dc, dw = r - c, wr - wc
    for start in range(0, n_resamples, CHUNK):
        size = min(CHUNK, n_resamples - start)
        weights = bootstrap_weights(np.arange(n), size, rng)  # pairs drawn with replacement
        boot.append(_rate_difference(weights @ c, weights @ wc, weights @ r, weights @ wr))
        flips = rng.integers(0, 2, size=(size, n)).astype(np.float64)
        moved_c, moved_w = flips @ dc, flips @ dw
        permuted = _rate_difference(c.sum() + moved_c, wc.sum() + moved_w, r.sum() - moved_c, wr.sum() - moved_w)
        extreme += int((np.abs(permuted) >= abs(observed) - 1e-12).sum())
    low, high = percentile_interval(np.concatenate(boot))
    return observed, low, high, (1 + extreme) / (1 + n_resamples)


def word_counts(texts: Sequence[str]) -> np.ndarray:
    """Words in each text (runs of letters, with inner apostrophes and hyphens), float64."""
    return np.array([len(WORD.findall(t)) for t in texts], dtype=np.float64)


def category_rate(
    category: str,
    words: Sequence[str],
    chosen: Sequence[str],
    rejected: Sequence[str],
    wc: np.ndarray,
    wr: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
) -> CategoryRate:
    """The test of one category's words (`stem*` globs allowed) on the pairs' chosen and rejected answers, whose
    word counts are `wc` and `wr`."""
    if not words:
        raise UserError(f"Lexicon category '{category}' has no words; add words or drop it.")
    pattern = _pattern(words)
    c, r = _counts(chosen, pattern), _counts(rejected, pattern)
    diff, low, high, p = _test(c, wc, r, wr, n_resamples, rng)
    return CategoryRate(
        category,
        int(c.sum()),
        int(r.sum()),
        1000 * c.sum() / max(wc.sum(), 1),
        1000 * r.sum() / max(wr.sum(), 1),
        diff,
        low,
        high,
        p,
    )
