"""Is preference data value-neutral? Agency/communion word rates in chosen vs rejected answers, tested.

For each lexicon category: the rate of its words per 1,000 words of chosen answers and of rejected
answers, the difference (chosen − rejected), a bootstrap 95% CI over pairs, and a sign-flip permutation
p-value (under the null the chosen/rejected labels of each pair are exchangeable). Unit of analysis: the
preference pair. Data fail when some category's difference is both significant (Bonferroni over
categories) and material (|difference| ≥ `min_difference` per 1,000 words).

>>> from interp.training.prefdata import PreferencePair
>>> pairs = [PreferencePair("q", "4", "5")] * 20
>>> neutrality_report(pairs, {"agency": ["power"], "communion": ["love"]}).passed
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from interp.errors import UserError
from interp.lexicon import Lexicon, default_lexicon
from interp.training.prefdata import PreferencePair

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


@dataclass(frozen=True)
class NeutralityReport:
    """The neutrality test of one dataset; `passed` is False when any category is biased."""

    n_pairs: int
    chosen_words: int
    rejected_words: int
    rates: tuple[CategoryRate, ...]
    alpha: float
    min_difference: float
    lexicon: str

    def biased(self) -> list[CategoryRate]:
        """Categories whose chosen − rejected difference is significant and material."""
        level = self.alpha / max(1, len(self.rates))
        return [r for r in self.rates if r.p_value < level and abs(r.difference) >= self.min_difference]

    @property
    def passed(self) -> bool:
        return not self.biased()

    def table(self) -> pd.DataFrame:
        """One row per category."""
        return pd.DataFrame([r.__dict__ for r in self.rates])

    def message(self) -> str:
        """One sentence: the verdict and the worst category's numbers."""
        worst = max(self.biased() or self.rates, key=lambda r: abs(r.difference), default=None)
        if worst is None:
            return "No lexicon categories to test."
        verdict = "is not value-neutral" if not self.passed else "passes the neutrality check"
        return (
            f"The preference data {verdict}: chosen answers use {worst.category} words at "
            f"{worst.chosen_per_1k:.2f} per 1000 words vs {worst.rejected_per_1k:.2f} in rejected ones "
            f"(difference {worst.difference:+.2f}, 95% CI [{worst.ci_low:.2f}, {worst.ci_high:.2f}], "
            f"sign-flip p = {worst.p_value:.4f}, unit: pair, n = {self.n_pairs} pairs)"
            + ("; rebalance or drop those pairs." if not self.passed else ".")
        )


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
        idx = rng.integers(0, n, size=(size, n))
        boot.append(_rate_difference(c[idx].sum(1), wc[idx].sum(1), r[idx].sum(1), wr[idx].sum(1)))
        flips = rng.integers(0, 2, size=(size, n)).astype(np.float64)
        moved_c, moved_w = flips @ dc, flips @ dw
        permuted = _rate_difference(c.sum() + moved_c, wc.sum() + moved_w, r.sum() - moved_c, wr.sum() - moved_w)
        extreme += int((np.abs(permuted) >= abs(observed) - 1e-12).sum())
    low, high = np.percentile(np.concatenate(boot), [2.5, 97.5])
    return observed, float(low), float(high), (1 + extreme) / (1 + n_resamples)


def neutrality_report(
    pairs: Sequence[PreferencePair],
    lexicon: Lexicon | Mapping[str, Sequence[str]] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    min_difference: float = 1.0,
) -> NeutralityReport:
    """Test every lexicon category (default: the bundled agency/communion lexicon) on the answers."""
    if not pairs:
        raise UserError("The neutrality check needs at least one preference pair.")
    lex = default_lexicon() if lexicon is None else lexicon
    categories = lex.categories if isinstance(lex, Lexicon) else {k: tuple(v) for k, v in lex.items()}
    label = lex.label if isinstance(lex, Lexicon) else "user lexicon"
    chosen, rejected = [p.chosen for p in pairs], [p.rejected for p in pairs]
    wc = np.array([len(WORD.findall(t)) for t in chosen], dtype=np.float64)
    wr = np.array([len(WORD.findall(t)) for t in rejected], dtype=np.float64)
    rng = np.random.default_rng(seed)
    rates = []
    for category, words in categories.items():
        if not words:
            raise UserError(f"Lexicon category '{category}' has no words; add words or drop it.")
        pattern = _pattern(words)
        c, r = _counts(chosen, pattern), _counts(rejected, pattern)
        diff, low, high, p = _test(c, wc, r, wr, n_resamples, rng)
        rates.append(
            CategoryRate(
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
        )
    return NeutralityReport(len(pairs), int(wc.sum()), int(wr.sum()), tuple(rates), alpha, min_difference, label)


def check_neutral(
    pairs: Sequence[PreferencePair],
    lexicon: Lexicon | Mapping[str, Sequence[str]] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    min_difference: float = 1.0,
) -> NeutralityReport:
    """The report, or a `UserError` naming the biased category when the data are not value-neutral."""
    report = neutrality_report(pairs, lexicon, n_resamples, seed, alpha, min_difference)
    if not report.passed:
        raise UserError(report.message())
    return report
