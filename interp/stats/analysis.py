"""The whole rank analysis of one set of scores: Figure-1 table, mixed model, tests, CIs and controls.

Four RMs' scores of the default lexicon's words; the two `llama` RMs score agency words 2 higher on positive
prompts (`score` is one tidy row per model, prompt key and word):

>>> import numpy as np
>>> from interp.lexicons.readers import load_lexicon
>>> from interp.render.prompts import paper_prompts
>>> lexicon, prompts = load_lexicon("default"), paper_prompts()
>>> families = {"rm1": "gemma", "rm2": "gemma", "rm3": "llama", "rm4": "llama"}
>>> rng = np.random.default_rng(0)
>>> rows = [
...     (m, p.key, w, rng.normal() + 2.0 * (f == "llama") * (c == "agency") * (p.framing == "positive"))
...     for m, f in families.items() for p in prompts for c, ws in lexicon.categories.items() for w in ws
... ]
>>> scores = pd.DataFrame(rows, columns=["model", "prompt", "word", "score"])
>>> config = StatsConfig(n_perm=200, n_boot=200, n_shuffle=50, frequency=False)  # small, for speed
>>> result = analyse(scores, lexicon, prompts, families, config)
>>> fig1 = result.fig1.set_index(["framing", "category", "family"])["mean_median_rank"]
>>> fig1["positive", "agency"].round(1).to_dict()  # mean median rank (1 = the highest score)
{'gemma': 55.2, 'llama': 29.9}
>>> result.mixed.interaction["name"], result.mixed.interaction["p"] < 1e-10
('family × category × framing', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from interp.lexicons.readers import Lexicon
from interp.render.prompts import Prompt
from interp.stats import frequency, tests
from interp.stats.mixed import MixedResult, fit_mixed
from interp.stats.ranks import CategoryRanks, category_ranks, fig1_table


@dataclass(frozen=True)
class StatsConfig:
    """Resampling sizes and seed; `frequency` turns the word-frequency analyses on."""

    n_perm: int = 10_000
    n_boot: int = 2000
    n_shuffle: int = 1000
    seed: int = 0
    frequency: bool = True
    lang: str = "en"


@dataclass(frozen=True)
class FrequencyResult:
    """Frequency analyses: Zipf per word, matching report, matched Figure-1 table, adjusted mixed model."""

    zipf: pd.Series
    matching: pd.DataFrame
    fig1_matched: pd.DataFrame | None
    mixed_adjusted: MixedResult


@dataclass(frozen=True)
class StatsResult:
    """Everything `analyse` computes; `notes` says which parts were skipped and why."""

    lexicon_label: str
    ranks: CategoryRanks
    fig1: pd.DataFrame
    mixed: MixedResult
    rm_means: pd.DataFrame
    bootstrap: pd.DataFrame
    panels: pd.DataFrame | None
    rm_tests: pd.DataFrame | None
    control: dict[str, Any] | None
    frequency: FrequencyResult | None
    notes: tuple[str, ...]


def _frequency(
    scores: pd.DataFrame,
    lexicon: Lexicon,
    ranks: CategoryRanks,
    prompts: Sequence[Prompt],
    families: Mapping[str, str],
    config: StatsConfig,
    notes: list[str],
) -> FrequencyResult:
    membership = ranks.words.drop_duplicates(["word", "category"])[["word", "category"]]
    zipf = frequency.zipf_frequencies(membership["word"], config.lang)
    adjusted = frequency.residualise_on_frequency(scores, zipf)
    mixed_adjusted = fit_mixed(category_ranks(adjusted, lexicon, prompts, families).medians)
    matched, report = frequency.frequency_match(membership, zipf, seed=config.seed)
    cats = {c: tuple(g["word"]) for c, g in matched.groupby("category")}
    fig1_matched = None
    if len(cats) < membership["category"].nunique():
        notes.append("frequency matching left some category without words; matched table skipped")
    else:
        matched_lex = Lexicon(f"{lexicon.name} (frequency-matched)", cats, lexicon.source, lexicon.is_default)
        fig1_matched = fig1_table(category_ranks(scores, matched_lex, prompts, families).medians)
    return FrequencyResult(zipf, report, fig1_matched, mixed_adjusted)


def analyse(
    scores: pd.DataFrame,
    lexicon: Lexicon,
    prompts: Sequence[Prompt],
    families: Mapping[str, str],
    config: StatsConfig | None = None,
) -> StatsResult:
    """Rank, take category medians, and run every analysis that the design allows."""
    config = config or StatsConfig()
    notes: list[str] = []
    ranks = category_ranks(scores, lexicon, prompts, families)
    if ranks.dropped:
        notes.append(f"{len(ranks.dropped)} scored words are in no lexicon category and were not ranked")
    medians = ranks.medians
    if medians.groupby("family")["model"].nunique().min() < 2:
        notes.append("some family has a single RM: CIs resample prompts only and RM-level tests are not possible")
    rm = tests.rm_means(medians)
    panels = rm_tests = control = None
    if medians["family"].nunique() == 2:
        panels = tests.panel_tests(medians, config.n_perm, config.seed)
        if medians["category"].nunique() > 1:
            rm_tests = tests.rm_tests(rm)
            control = tests.word_shuffle_control(ranks.words, config.n_shuffle, config.seed)
    else:
        notes.append("family comparisons skipped: they need exactly two families")
    freq = _frequency(scores, lexicon, ranks, prompts, families, config, notes) if config.frequency else None
    return StatsResult(
        lexicon_label=lexicon.label,
        ranks=ranks,
        fig1=fig1_table(medians),
        mixed=fit_mixed(medians),
        rm_means=rm,
        bootstrap=tests.bootstrap_cis(medians, config.n_boot, config.seed),
        panels=panels,
        rm_tests=rm_tests,
        control=control,
        frequency=freq,
        notes=tuple(notes),
    )
