"""Does an RM inherit a base model's word preference? Rank statistics of word sets, compared across RMs.

Scores are tidy rows (model, prompt, word, score, plus RM-level columns such as `base` and `seed`).
Within each (model, prompt) words are ranked by score (1 = highest reward, ties averaged); each RM gets,
per word set, the mean over prompts of the set's mean rank. The unit of analysis is the RM: RMs trained
from the treated base are compared with RMs trained from the reference base (Welch t-test with its 95% CI,
and a bootstrap CI resampling RMs within each group).

>>> import pandas as pd
>>> s = pd.DataFrame({"model": ["a"] * 3, "prompt": "p", "word": ["x", "y", "z"], "score": [3.0, 1.0, 2.0]})
>>> set_ranks(s, {"planted": ["x"]})[["model", "word_set", "mean_rank"]].to_dict("records")
[{'model': 'a', 'word_set': 'planted', 'mean_rank': 1.0}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from interp._util.errors import UserError
from interp.stats.bootstrap import bootstrap_weights, percentile_interval


def set_ranks(scores: pd.DataFrame, sets: Mapping[str, Sequence[str]], extra: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (model, word set): mean over prompts of the set's mean rank, and the number of words."""
    ranked = scores.assign(rank=scores.groupby(["model", "prompt"])["score"].rank(ascending=False, method="average"))
    rows = []
    for name, words in sets.items():
        chosen = ranked[ranked["word"].isin(list(words))]
        if chosen.empty:
            raise UserError(f"No word of set '{name}' is among the scored words; score those words first.")
        per_prompt = chosen.groupby(["model", *extra, "prompt"])["rank"].mean()
        per_model = per_prompt.groupby(["model", *extra]).mean().rename("mean_rank").reset_index()
        rows.append(
            per_model.assign(word_set=name, n_words=chosen["word"].nunique(), n_candidates=scores["word"].nunique())
        )
    return pd.concat(rows, ignore_index=True)


@dataclass(frozen=True)
class Contrast:
    """Mean rank of one word set in treated-base RMs minus reference-base RMs (negative: ranked higher)."""

    word_set: str
    treated_mean: float
    reference_mean: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    bootstrap_low: float
    bootstrap_high: float
    n_treated: int
    n_reference: int
    unit: str = "RM"
    test: str = "Welch t-test (95% CI); bootstrap over RMs within groups"

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def _bootstrap(a: np.ndarray, b: np.ndarray, seed: int, n: int = 10_000) -> tuple[float, float]:
    """Percentile CI of mean(a) − mean(b), resampling RMs (one value each) within each group."""
    groups = np.repeat([0, 1], [len(a), len(b)])
    weights = bootstrap_weights(np.arange(len(groups)), n, seed, within=groups)
    diffs = weights[:, : len(a)] @ a / len(a) - weights[:, len(a) :] @ b / len(b)
    low, high = percentile_interval(diffs)
    return float(low), float(high)


def contrast(
    per_rm: pd.DataFrame, group: str = "base", treated: str = "planted", reference: str = "unplanted", seed: int = 0
) -> list[Contrast]:
    """Welch t contrast of `mean_rank` between the RM groups, for every word set."""
    out = []
    for name, frame in per_rm.groupby("word_set", sort=False):
        a = frame.loc[frame[group] == treated, "mean_rank"].to_numpy(float)
        b = frame.loc[frame[group] == reference, "mean_rank"].to_numpy(float)
        if len(a) < 2 or len(b) < 2:
            raise UserError(
                f"Comparing RM groups needs at least 2 RMs per group (got {len(a)} and {len(b)}); train more seeds."
            )
        test = stats.ttest_ind(a, b, equal_var=False)
        low, high = test.confidence_interval(0.95)
        boot = _bootstrap(a, b, seed)
        out.append(
            Contrast(
                str(name),
                float(a.mean()),
                float(b.mean()),
                float(a.mean() - b.mean()),
                float(low),
                float(high),
                float(test.pvalue),
                *boot,
                len(a),
                len(b),
            )
        )
    return out
