"""Word frequency, the main confound of word-preference studies: a covariate and a matched comparison.

Frequencies are wordfreq Zipf values (log10 of occurrences per billion words; 0 = unseen).

- `residualise_on_frequency`: within each (model, prompt), regress scores on Zipf frequency and keep the
  residuals, so ranks (and the mixed model fitted to their medians) are net of a per-(model, prompt)
  linear frequency effect.
- `frequency_match`: coarsened exact matching of words across categories on Zipf bins, so every category
  keeps the same number of words per bin; reports each category's mean frequency and the largest gap
  between categories before and after.

>>> zipf_frequencies(["love", "qwxzv"]).round(1).tolist()
[5.8, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from wordfreq import zipf_frequency


def zipf_frequencies(words: Iterable[str], lang: str = "en") -> pd.Series:
    """Zipf frequency of each word (multi-word entries: wordfreq's combined estimate)."""
    words = list(dict.fromkeys(words))
    return pd.Series([zipf_frequency(w, lang) for w in words], index=words, name="zipf", dtype=float)


def residualise_on_frequency(scores: pd.DataFrame, zipf: pd.Series) -> pd.DataFrame:
    """Replace `score` by its residual from an OLS fit on Zipf frequency within each (model, prompt)."""
    out = scores.copy()
    x = out["word"].map(zipf).to_numpy(float)
    keys = [out["model"], out["prompt"]]
    xc = x - pd.Series(x).groupby(keys).transform("mean").to_numpy()
    yc = out["score"].to_numpy(float) - out.groupby(["model", "prompt"])["score"].transform("mean").to_numpy()
    sxx = pd.Series(xc * xc).groupby(keys).transform("sum").to_numpy()
    sxy = pd.Series(xc * yc).groupby(keys).transform("sum").to_numpy()
    slope = np.divide(sxy, sxx, out=np.zeros_like(sxy), where=sxx > 0)
    out["score"] = yc - slope * xc
    return out


def frequency_match(
    membership: pd.DataFrame, zipf: pd.Series, bin_width: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match words across categories on Zipf bins; returns (matched membership, report).

    `membership` has columns word, category. In each bin every category keeps as many words as the
    category with fewest words there (chosen at random, seeded). The report has one row per category
    and a row `max gap` with the largest difference of mean Zipf between categories.
    """
    frame = membership.assign(zipf=membership["word"].map(zipf).to_numpy(float))
    frame["bin"] = np.floor(frame["zipf"] / bin_width).astype(int)
    counts = frame.groupby(["bin", "category"]).size().unstack(fill_value=0)
    keep = counts.min(axis=1)
    rng = np.random.default_rng(seed)
    parts = []
    for (b, _), group in frame.groupby(["bin", "category"], sort=True):
        n = int(keep.get(b, 0))
        if n:
            parts.append(group.iloc[np.sort(rng.choice(len(group), n, replace=False))])
    matched = pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]
    before = frame.groupby("category")["zipf"].agg(n_before="size", mean_zipf_before="mean")
    after = matched.groupby("category")["zipf"].agg(n_after="size", mean_zipf_after="mean")
    report = before.join(after).reset_index()
    gap = {
        "category": "max gap",
        "mean_zipf_before": report["mean_zipf_before"].max() - report["mean_zipf_before"].min(),
        "mean_zipf_after": report["mean_zipf_after"].max() - report["mean_zipf_after"].min(),
    }
    report = pd.concat([report, pd.DataFrame([gap])], ignore_index=True).assign(bin_width=bin_width)
    return matched[["word", "category"]], report
