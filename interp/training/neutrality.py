"""Is preference data value-neutral? Three tests that can each fail: lexicon words, length, and a projection.

1. Lexicon: for each category, the rate of its words per 1,000 words of chosen vs rejected answers, the
   difference, a bootstrap 95% CI over pairs and a sign-flip permutation p-value (under the null the
   chosen/rejected labels of each pair are exchangeable). Fails when a difference is both significant
   (Bonferroni over categories) and material (|difference| ≥ `min_difference` per 1,000 words).
2. Length: per family, the share of pairs (ties left out) whose chosen answer is longer in characters;
   fails when it is both significant (two-sided binomial test, Bonferroni over families) and material
   (|share − 0.5| ≥ `max_length_skew`).
3. Projection (when a `Projector` is given): the mean over pairs of (chosen − rejected) projected on the
   base model's agency−communion direction, in units of the spread of single answers' projections, with a
   p-value from directions with the words' agency/communion labels permuted; fails when p <
   `projection_alpha` (0.01: three tests share the 5% error) and |effect| ≥ `min_projection`.
Unit of analysis: the preference pair.

>>> from interp.training.prefdata import PreferencePair
>>> pairs = [PreferencePair("q", "4", "5")] * 20
>>> report = neutrality_report(pairs, {"agency": ["power"], "communion": ["love"]})
>>> report.passed, report.record()["n_pairs"]
(True, 20)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from interp._util.errors import UserError
from interp._util.files import atomic_write
from interp.lexicons.readers import Lexicon, default_lexicon
from interp.training.length_balance import LengthBalance, length_balance
from interp.training.prefdata import PreferencePair, load_pairs
from interp.training.projection import ProjectionTest, Projector, base_projector, projection_test
from interp.training.word_rates import CategoryRate, category_rate, word_counts


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
    lengths: tuple[LengthBalance, ...] = ()
    projection: ProjectionTest | None = None
    max_length_skew: float = 0.1
    min_projection: float = 0.1
    projection_alpha: float = 0.01

    def biased(self) -> list[CategoryRate]:
        """Categories whose chosen − rejected difference is significant and material."""
        level = self.alpha / max(1, len(self.rates))
        return [r for r in self.rates if r.p_value < level and abs(r.difference) >= self.min_difference]

    def length_skewed(self) -> list[LengthBalance]:
        """Families whose chosen answer is longer (or shorter) too often, significantly and materially."""
        level = self.alpha / max(1, len(self.lengths))
        return [b for b in self.lengths if b.p_value < level and abs(b.share - 0.5) >= self.max_length_skew]

    @property
    def projection_biased(self) -> bool:
        p = self.projection
        return p is not None and p.p_value < self.projection_alpha and abs(p.effect) >= self.min_projection

    @property
    def passed(self) -> bool:
        return not self.biased() and not self.length_skewed() and not self.projection_biased

    def table(self) -> pd.DataFrame:
        """One row per category."""
        return pd.DataFrame([r.__dict__ for r in self.rates])

    def record(self) -> dict[str, Any]:
        """The report as plain values (JSON-ready): verdict, lexicon, pairs, per-category rates, length balance and
        the projection test."""
        return {
            "passed": self.passed,
            "lexicon": self.lexicon,
            "n_pairs": self.n_pairs,
            "categories": self.table().to_dict("records"),
            "length_balance": [b.__dict__ for b in self.lengths],
            "projection": None if self.projection is None else self.projection.__dict__,
        }

    def save(self, folder: Path) -> Path:
        """Write `record()` to `folder/neutrality.json` (atomically); returns its path."""
        return atomic_write(folder / "neutrality.json", json.dumps(self.record(), indent=2, default=str))

    def message(self) -> str:
        """One sentence: the verdict and the worst category's numbers."""
        skewed, p = self.length_skewed(), self.projection
        if not self.biased() and skewed:
            b = max(skewed, key=lambda x: abs(x.share - 0.5))
            return (
                f"The preference data are not value-neutral: in family '{b.family}' the chosen answer is the "
                f"longer one in {b.share:.0%} of pairs ({b.chosen_longer} vs {b.rejected_longer}, binomial "
                f"p = {b.p_value:.2g}, unit: pair); balance the lengths of chosen and rejected answers."
            )
        if not self.biased() and p is not None and self.projection_biased:
            return (
                f"The preference data are not value-neutral: chosen − rejected answers project on the base's "
                f"agency−communion direction by {p.effect:+.2f} answer-spread units (word-label permutation p = "
                f"{p.p_value:.2g}, unit: pair, n = {p.n_pairs}); rebalance or drop the leaning pairs."
            )
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


def neutrality_report(
    pairs: Sequence[PreferencePair],
    lexicon: Lexicon | Mapping[str, Sequence[str]] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    min_difference: float = 1.0,
    projector: Projector | None = None,
) -> NeutralityReport:
    """Test every lexicon category (default: the bundled agency/communion lexicon), the length balance of
    every family and, given a `projector`, the agency−communion projection of the answers."""
    if not pairs:
        raise UserError("The neutrality check needs at least one preference pair.")
    lex = default_lexicon() if lexicon is None else lexicon
    categories = lex.categories if isinstance(lex, Lexicon) else {k: tuple(v) for k, v in lex.items()}
    label = lex.label if isinstance(lex, Lexicon) else "user lexicon"
    chosen, rejected = [p.chosen for p in pairs], [p.rejected for p in pairs]
    wc, wr = word_counts(chosen), word_counts(rejected)
    rng = np.random.default_rng(seed)
    rates = [category_rate(c, words, chosen, rejected, wc, wr, n_resamples, rng) for c, words in categories.items()]
    projection = None if projector is None else projection_test(pairs, projector, n_resamples, rng)
    return NeutralityReport(
        len(pairs),
        int(wc.sum()),
        int(wr.sum()),
        tuple(rates),
        alpha,
        min_difference,
        label,
        length_balance(pairs),
        projection,
    )


class NeutralityOptions(TypedDict, total=False):
    """The settings `check_neutral` passes on to `neutrality_report` (keywords; defaults there)."""

    lexicon: Lexicon | Mapping[str, Sequence[str]] | None
    n_resamples: int
    seed: int
    alpha: float
    min_difference: float
    projector: Projector | None


def check_neutral(pairs: Sequence[PreferencePair], **options: Unpack[NeutralityOptions]) -> NeutralityReport:
    """The report, or a `UserError` naming the failed test when the data are not value-neutral."""
    report = neutrality_report(pairs, **options)
    if not report.passed:
        raise UserError(report.message())
    return report


def training_pairs(
    data: str, n: int | None, seed: int, base: str, trust_remote_code: bool = False, require_neutral: bool = False
) -> tuple[list[PreferencePair], NeutralityReport]:
    """The preference pairs of an RM training run (`load_pairs(data, n, seed)`) and their neutrality report, the
    projection test on the embeddings of `base` included when its weights are local; with `require_neutral`,
    data that fail the check are refused (`UserError`, the report's sentence).

    >>> import tempfile
    >>> from interp.models.tiny import build_tiny
    >>> pairs, report = training_pairs("neutral", 70, 0, str(build_tiny("llama", tempfile.mkdtemp())))
    >>> len(pairs), report.passed, report.projection is not None
    (70, True, True)
    """
    pairs = load_pairs(data, n, seed)
    report = neutrality_report(pairs, projector=base_projector(base, trust_remote_code))
    if require_neutral and not report.passed:
        raise UserError(report.message())
    return pairs, report
