"""The base-LM twin of an RM intervention: the same direction ablated or steered in the base LM, measured on
the LM's implicit reward, the log-prob gap between agency and communion answers.

For each prompt (and wrapper) the *implicit reward gap* is the mean merged log-probability of the positive
category's answers minus the negative category's (`interp.sweep.logprobs.answer_logprobs` scores, the gap as
in `interp.causal.study.value_gaps`). The twin effect is its per-prompt change under the edit. A base LM reads
a one-word answer off the next-token distribution at the last context token, so that token is both the answer
and the readout position here: edits act there by default (`position="readout"`), or at every token (`"all"`),
on `resid_post` of the layer. Per-word changes come back too (with the MWLR of the edited over the unedited
LM, `interp.sweep.implicit.mwlr`), so a caller can bootstrap over words × prompts; the mean over prompts of
`d_gap` equals the agency-minus-communion mean of the per-word changes.

>>> import tempfile, torch
>>> from interp.models import load_lm
>>> from interp.render.prompts import paper_prompts
>>> from interp.models.tiny import build_tiny
>>> lm = load_lm(str(build_tiny("llama", tempfile.mkdtemp())))
>>> words = {"power": "agency", "best": "agency", "care": "communion", "world": "communion"}  # tiny vocabulary
>>> effect = twin_effect(lm, torch.eye(lm.d_model)[0], 2, paper_prompts()[:2], words, "steer", alpha=0.0)
>>> effect.mean_change, effect.n_prompts, effect.n_words
(0.0, 2, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from interp._util.errors import UserError
from interp.causal.ablation import ablate
from interp.causal.steering import steer
from interp.causal.study import value_gaps
from interp.causal.vectors import DirectionLike
from interp.hooks.site import Site
from interp.models import ModelHandle
from interp.render.prompts import Prompt
from interp.stats.bootstrap import mean_interval
from interp.sweep.implicit import mwlr
from interp.sweep.logprobs import Wrapper, answer_logprobs

Intervention = Literal["ablate", "steer"]
TwinPosition = Literal["readout", "all"]
Agreement = Literal["agree", "disagree", "inconclusive"]


@dataclass(frozen=True)
class TwinEffect:
    """One twin measurement. `mean_change` is the mean over prompts (and wrappers) of `d_gap`.

    `per_prompt`: wrapper, prompt, framing, gap_before, gap_after, d_gap, d_rank_gap, mwlr_gap (agency − communion
    mean MWLR of the edited over the unedited LM). `per_word`: wrapper, prompt, framing, word, category, before,
    after, change (log-probabilities), mwlr. `unmatched`: words with no single-token variant (left out).
    """

    intervention: Intervention
    layer: int
    alpha: float
    position: TwinPosition
    gap_before: float
    mean_change: float
    n_prompts: int
    n_words: int
    per_prompt: pd.DataFrame = field(repr=False, compare=False)
    per_word: pd.DataFrame = field(repr=False, compare=False)
    unmatched: pd.DataFrame = field(repr=False, compare=False)


def _edit(
    lm: ModelHandle,
    direction: DirectionLike,
    layer: int,
    intervention: Intervention,
    alpha: float,
    position: TwinPosition,
) -> AbstractContextManager[None]:
    """The intervention's context manager; every input is checked here, before any forward pass."""
    if position not in ("readout", "all"):
        raise UserError(f"Unknown twin position {position!r}; use 'readout' (the answer's token) or 'all'.")
    if lm.kind != "lm":
        raise UserError(f"'{lm.name}' is loaded as a reward model; the twin needs the base LM (load_lm).")
    sites = [Site(layer, "resid_post", position)]
    if intervention == "ablate":
        if alpha != 0:
            raise UserError(f"Ablation takes no dose, but alpha is {alpha}; leave alpha at 0 or use 'steer'.")
        return ablate(lm, direction, sites)
    if intervention == "steer":
        return steer(lm, direction, alpha, sites)
    raise UserError(f"Unknown intervention {intervention!r}; use 'ablate' or 'steer'.")


def _compare(
    before: pd.DataFrame, after: pd.DataFrame, words: Mapping[str, str], positive: str, negative: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-prompt gaps and per-word changes, one wrapper at a time (prompt keys repeat across wrappers)."""
    prompts, per_word = [], []
    for wrapper, old in before.groupby("wrapper", sort=False):
        new = after[after["wrapper"] == wrapper]
        pair = mwlr(old, new).rename(columns={"logp": "before", "logq": "after"})
        pair = pair.assign(change=pair["after"] - pair["before"], category=pair["word"].map(words))
        pair = pair.merge(old[["prompt", "framing"]].drop_duplicates(), on="prompt").assign(wrapper=wrapper)
        per_word.append(pair[["wrapper", "prompt", "framing", "word", "category", "before", "after", "change", "mwlr"]])
        gaps = value_gaps(old, words, positive, negative).merge(
            value_gaps(new, words, positive, negative), on=["prompt", "framing"], suffixes=("_before", "_after")
        )
        by_category = pair.pivot_table(index="prompt", columns="category", values="mwlr", aggfunc="mean")
        prompts.append(
            pd.DataFrame(
                {
                    "wrapper": wrapper,
                    "prompt": gaps["prompt"],
                    "framing": gaps["framing"],
                    "gap_before": gaps["reward_gap_before"],
                    "gap_after": gaps["reward_gap_after"],
                    "d_gap": gaps["reward_gap_after"] - gaps["reward_gap_before"],
                    "d_rank_gap": gaps["rank_gap_after"] - gaps["rank_gap_before"],
                    "mwlr_gap": (by_category[positive] - by_category[negative]).reindex(gaps["prompt"]).to_numpy(),
                }
            )
        )
    return pd.concat(prompts, ignore_index=True), pd.concat(per_word, ignore_index=True)


def _rows(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    return sorted(table[["wrapper", "prompt", "word"]].itertuples(index=False, name=None))


def twin_effect(
    lm: ModelHandle,
    direction: DirectionLike,
    layer: int,
    prompts: Sequence[Prompt],
    words: Mapping[str, str],
    intervention: Intervention = "ablate",
    alpha: float = 0.0,
    position: TwinPosition = "readout",
    wrappers: Sequence[Wrapper] | None = None,
    positive: str = "agency",
    negative: str = "communion",
    baseline: pd.DataFrame | None = None,
) -> TwinEffect:
    """Change of the base LM's implicit reward gap when `direction` is ablated (projected out) or steered
    (`alpha` × direction added, as given) on `resid_post` of `layer`; `words` maps answer word → category.

    A zero direction or alpha 0 installs no hook, so the change is exactly 0. Wrappers default as in
    `answer_logprobs` (`chat` for instruct models, `raw` and `user_assistant` for base models). `baseline`, the
    unedited `answer_logprobs` table of the same inputs, saves its forward passes when many edits share it.
    """
    edit = _edit(lm, direction, layer, intervention, alpha, position)
    before = answer_logprobs(lm, prompts, list(words), wrappers, progress=False)[0] if baseline is None else baseline
    missing = {positive, negative} - {words.get(w) for w in before["word"].unique()}
    if missing:
        raise UserError(
            f"No answer word of category {', '.join(sorted(missing))} is a single token for '{lm.name}'; "
            "give words of both categories that the tokenizer can score."
        )
    with edit:
        after, unmatched = answer_logprobs(lm, prompts, list(words), wrappers, progress=False)
    if _rows(before) != _rows(after):
        raise UserError(
            "The baseline table does not hold the same wrappers, prompts and words as this measurement; "
            "compute it with answer_logprobs on the same inputs."
        )
    per_prompt, per_word = _compare(before, after, words, positive, negative)
    return TwinEffect(
        intervention=intervention,
        layer=layer,
        alpha=float(alpha),
        position=position,
        gap_before=float(per_prompt["gap_before"].mean()),
        mean_change=float(per_prompt["d_gap"].mean()),
        n_prompts=int(per_prompt["prompt"].nunique()),
        n_words=int(per_word["word"].nunique()),
        per_prompt=per_prompt,
        per_word=per_word,
        unmatched=unmatched,
    )


def sign_agreement(rm_interval: tuple[float, float], twin_interval: tuple[float, float]) -> Agreement:
    """Whether an RM effect and its twin effect move the same way: `inconclusive` when either interval includes 0,
    else `agree` (same sign) or `disagree`.

    >>> sign_agreement((-1.4, -1.2), (-0.3, -0.1)), sign_agreement((0.2, 0.5), (-0.3, -0.1))
    ('agree', 'disagree')
    >>> sign_agreement((0.2, 0.5), (-0.1, 0.4))
    'inconclusive'
    """
    for name, (lo, hi) in (("RM", rm_interval), ("twin", twin_interval)):
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise UserError(f"The {name} interval ({lo}, {hi}) is not a finite (low, high) pair; pass its CI bounds.")
    if rm_interval[0] <= 0 <= rm_interval[1] or twin_interval[0] <= 0 <= twin_interval[1]:
        return "inconclusive"
    return "agree" if (rm_interval[0] > 0) == (twin_interval[0] > 0) else "disagree"


class TwinEdit(NamedTuple):
    """One edit to mirror in the base LM: `direction` ablated, or steered by `alpha` × direction; `dose` tags it."""

    intervention: Intervention
    layer: int
    direction: DirectionLike
    alpha: float = 0.0
    dose: float = 0.0


def twin_table(
    lm: ModelHandle,
    edits: Sequence[TwinEdit],
    prompts: Sequence[Prompt],
    words: Mapping[str, str],
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per edit and framing: the twin's change of the implicit reward gap (mean over prompts, each prompt's
    change averaged over wrappers) with its 95 % bootstrap interval over prompts. One unedited pass serves all.

    Columns: layer, edit, dose, framing, twin_estimate, twin_low, twin_high, twin_n_prompts, twin_n_words.
    """
    baseline = answer_logprobs(lm, prompts, list(words), progress=False)[0]
    rows = []
    for edit in edits:
        found = twin_effect(
            lm, edit.direction, edit.layer, prompts, words, edit.intervention, edit.alpha, baseline=baseline
        )
        per_prompt = found.per_prompt.groupby(["framing", "prompt"])["d_gap"].mean()
        for framing, changes in per_prompt.groupby(level="framing"):
            low, high = mean_interval(changes.to_numpy(), n_boot, seed)
            rows.append(
                {
                    "layer": edit.layer,
                    "edit": edit.intervention,
                    "dose": edit.dose,
                    "framing": framing,
                    "twin_estimate": float(changes.mean()),
                    "twin_low": low,
                    "twin_high": high,
                    "twin_n_prompts": len(changes),
                    "twin_n_words": found.n_words,
                }
            )
    return pd.DataFrame(rows)
