"""Ranks of lexicon words within each (model, prompt) and the median rank of each category.

Scores are tidy: one row per (model, prompt, word) with a `score`. Only lexicon words are ranked (as in the
paper); rank 1 is the highest reward, ties get their average rank (R's `rank`, pandas `method="average"`).

>>> import pandas as pd
>>> s = pd.DataFrame({"model": "m", "prompt": "p", "word": ["a", "b", "c"], "score": [0.5, 2.0, 0.5]})
>>> rank_scores(s)["rank"].tolist()
[2.5, 1.0, 2.5]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from interp.lexicons.readers import Lexicon
from interp.render.prompts import Prompt

KEYS = ["model", "prompt"]


def rank_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Add `rank` (1 = highest score, ties averaged) within each (model, prompt)."""
    out = scores.copy()
    out["rank"] = out.groupby(KEYS, sort=False)["score"].rank(ascending=False, method="average")
    return out


@dataclass(frozen=True)
class CategoryRanks:
    """Word ranks (one row per model, prompt, word, category) and the per-category medians.

    `medians` has columns model, family, prompt, framing, category, median_rank: one row per
    (model, prompt, category), the paper's unit of observation. `dropped` lists score-table words that
    are in no lexicon category (they are not ranked).
    """

    words: pd.DataFrame
    medians: pd.DataFrame
    dropped: tuple[str, ...]


def category_ranks(
    scores: pd.DataFrame,
    lexicon: Lexicon,
    prompts: Sequence[Prompt],
    families: Mapping[str, str],
) -> CategoryRanks:
    """Rank the lexicon words of `scores` within (model, prompt) and take each category's median rank.

    A word in two categories is ranked once and counts in both medians.
    """
    vocabulary = scores["word"].unique().tolist()
    lexicon = lexicon.restrict(vocabulary)
    membership = lexicon.entries()
    kept = scores[scores["word"].isin(membership["word"])]
    ranked = rank_scores(kept).merge(membership, on="word")
    framing = {p.key: p.framing for p in prompts}
    ranked["framing"] = ranked["prompt"].map(framing)
    ranked["family"] = ranked["model"].map(families)
    medians = (
        ranked.groupby(["model", "family", "prompt", "framing", "category"], sort=True)["rank"]
        .median()
        .rename("median_rank")
        .reset_index()
    )
    dropped = tuple(sorted(set(vocabulary) - set(membership["word"])))
    return CategoryRanks(ranked, medians, dropped)


def fig1_table(medians: pd.DataFrame) -> pd.DataFrame:
    """Mean of median ranks per (framing, category, family): the numbers of the paper's Figure 1."""
    return (
        medians.groupby(["framing", "category", "family"])["median_rank"]
        .mean()
        .rename("mean_median_rank")
        .reset_index()
    )


def rank_cube(words: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Word ranks as an array [model, prompt, word] with the axis labels (for fast resampling)."""
    unique = words.drop_duplicates(["model", "prompt", "word"])
    wide = unique.pivot_table(index=["model", "prompt"], columns="word", values="rank")
    models = sorted(unique["model"].unique())
    prompts = sorted(unique["prompt"].unique())
    wide = wide.reindex(pd.MultiIndex.from_product([models, prompts]))
    cube = wide.to_numpy().reshape(len(models), len(prompts), wide.shape[1])
    return cube, models, prompts, list(wide.columns)
