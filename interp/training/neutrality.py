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
>>> neutrality_report(pairs, {"agency": ["power"], "communion": ["love"]}).passed
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from interp._util.errors import UserError
from interp.lexicons.readers import Lexicon, default_lexicon
from interp.stats.bootstrap import bootstrap_weights, percentile_interval
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
class LengthBalance:
    """How often the chosen answer of one family is the longer one (ties left out), with a binomial p-value."""

    family: str
    chosen_longer: int
    rejected_longer: int
    share: float
    p_value: float


@dataclass(frozen=True)
class ProjectionTest:
    """Mean (chosen − rejected) projection on the agency−communion direction, in answer-spread units."""

    effect: float
    p_value: float
    n_pairs: int


@dataclass(frozen=True)
class Projector:
    """Answers as the base model's mean input embedding of their tokens; agency and communion words likewise."""

    tokenizer: Any
    embedding: torch.Tensor
    agency: torch.Tensor  # (words, d): each agency word's mean token embedding
    communion: torch.Tensor

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's mean token embedding, (len(texts), d)."""
        table = self.embedding.float()
        ids = [self.tokenizer(t, add_special_tokens=False).input_ids or [0] for t in texts]
        return torch.stack([table[i].mean(0) for i in ids]).numpy()


def lexicon_projector(tokenizer: Any, embedding: torch.Tensor, lexicon: Lexicon | None = None) -> Projector:
    """A `Projector` for the lexicon's agency and communion words (each word's mean token embedding)."""
    lex = default_lexicon() if lexicon is None else lexicon
    if not {"agency", "communion"} <= set(lex.categories):
        raise UserError("The projection check needs a lexicon with 'agency' and 'communion' categories.")

    def words(category: str) -> torch.Tensor:
        rows = [tokenizer(" " + w.rstrip("*"), add_special_tokens=False).input_ids for w in lex.categories[category]]
        return torch.stack([embedding[r].float().mean(0) for r in rows if r])

    return Projector(tokenizer, embedding, words("agency"), words("communion"))


def base_projector(base: str, trust_remote_code: bool = False) -> Projector | None:
    """The projector of a local or embedded base (its tokenizer and input embedding read from safetensors);
    None when the base keeps no local weights (e.g. a hub id not yet downloaded)."""
    from safetensors import safe_open

    from interp.models import checked_source, load_tokenizer

    folder = Path(checked_source(base, trust_remote_code=trust_remote_code))
    for file in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        with safe_open(str(file), "pt") as weights:
            key = next((k for k in weights.keys() if k.endswith("embed_tokens.weight")), None)  # noqa: SIM118
            if key is not None:
                return lexicon_projector(load_tokenizer(base, trust_remote_code), weights.get_tensor(key))
    return None


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


def projection_test(
    pairs: Sequence[PreferencePair], projector: Projector, n_resamples: int, rng: np.random.Generator
) -> ProjectionTest:
    """Mean (chosen − rejected) projection on the agency−communion direction, in units of the answers' spread
    along it; p-value from directions with the agency/communion labels of the words permuted (a difference
    every direction sees, such as a quality concept, is not a lean)."""
    chosen = projector.embed([p.chosen for p in pairs])
    rejected = projector.embed([p.rejected for p in pairs])
    answers, mean_diff = np.concatenate([chosen, rejected]), (chosen - rejected).mean(0)
    words = torch.cat([projector.agency, projector.communion]).numpy().astype(np.float64)
    n_agency = len(projector.agency)
    labels = np.zeros((n_resamples + 1, len(words)), dtype=bool)
    labels[:, :n_agency] = True
    for row in labels[1:]:
        rng.shuffle(row)
    directions = (labels @ words) / n_agency - ((~labels) @ words) / (len(words) - n_agency)
    spread = (answers @ directions.T).std(0) + 1e-12
    effects = (directions @ mean_diff) / spread
    extreme = int((np.abs(effects[1:]) >= abs(effects[0]) - 1e-12).sum())
    return ProjectionTest(float(effects[0]), (1 + extreme) / (1 + n_resamples), len(pairs))


def check_neutral(
    pairs: Sequence[PreferencePair],
    lexicon: Lexicon | Mapping[str, Sequence[str]] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    min_difference: float = 1.0,
    projector: Projector | None = None,
) -> NeutralityReport:
    """The report, or a `UserError` naming the failed test when the data are not value-neutral."""
    report = neutrality_report(pairs, lexicon, n_resamples, seed, alpha, min_difference, projector)
    if not report.passed:
        raise UserError(report.message())
    return report
