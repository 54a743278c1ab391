"""The causal study: score a lexicon × prompt grid under interventions and measure the value-gap change.

Unit of analysis: the prompt. For each prompt the *reward gap* is mean reward of agency answers minus
mean reward of communion answers, and the *rank gap* is median rank of communion words minus median rank
of agency words (positive = agency preferred, as in the paper's Figure 1). An intervention's effect is
the per-prompt change of each gap against the unedited model, summarised by its mean over prompts with a
bootstrap interval (resampling prompts). Controls are conditions like any other (random directions,
orthogonalised directions), so the null band is built from the same numbers.

>>> gaps = value_gaps(scores, {"love": "communion", "power": "agency"})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from interp.models import ModelHandle
from interp.prompts import Prompt
from interp.sweep.answers import sweep_answers

Intervene = Callable[[ModelHandle], AbstractContextManager[None]]


@dataclass(frozen=True)
class Condition:
    """One way of editing the model while the grid is scored; `group` names the family of conditions
    (e.g. `base_direction`, `random`), `layer` the edited layer (-1 = all layers), `alpha` the dose."""

    name: str
    group: str
    layer: int
    intervene: Intervene = field(repr=False)
    alpha: float = 0.0
    control: bool = False


def unedited() -> Condition:
    """The reference condition: the model as it is."""
    return Condition("none", "none", -1, lambda _handle: nullcontext())


def stacked(*interventions: Intervene) -> Intervene:
    """Several interventions at once (e.g. one direction per layer), composed by nesting."""

    @contextmanager
    def enter(handle: ModelHandle) -> Iterator[None]:
        with ExitStack() as stack:
            for intervene in interventions:
                stack.enter_context(intervene(handle))
            yield

    return enter


def value_gaps(
    scores: pd.DataFrame, categories: Mapping[str, str], positive: str = "agency", negative: str = "communion"
) -> pd.DataFrame:
    """Per prompt: `reward_gap` (mean positive − mean negative reward) and `rank_gap` (median rank of
    negative − median rank of positive words; rank 1 = highest reward)."""
    frame = scores.assign(category=scores["word"].map(categories)).dropna(subset=["category"])
    frame = frame.assign(rank=frame.groupby("prompt")["score"].rank(ascending=False, method="average"))
    means = frame.pivot_table(index=["prompt", "framing"], columns="category", values="score", aggfunc="mean")
    medians = frame.pivot_table(index=["prompt", "framing"], columns="category", values="rank", aggfunc="median")
    out = pd.DataFrame(
        {"reward_gap": means[positive] - means[negative], "rank_gap": medians[negative] - medians[positive]}
    )
    return out.reset_index()


def run_conditions(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    words: Mapping[str, str],
    conditions: Sequence[Condition],
    batch_size: int = 64,
    on_condition: Callable[[Condition], None] | None = None,
) -> pd.DataFrame:
    """Score the grid under every condition; one row per (condition, prompt) with both gaps and raw
    mean scores. The prompt cache is rebuilt inside each intervention, so prefix and answer are edited alike."""
    rows = []
    answers = list(words)
    for condition in conditions:
        with condition.intervene(handle):
            scores = sweep_answers(handle, prompts, answers, batch_size=batch_size, progress=False)
        gaps = value_gaps(scores, words)
        gaps["mean_score"] = scores.groupby("prompt")["score"].mean().reindex(gaps["prompt"]).to_numpy()
        rows.append(
            gaps.assign(
                condition=condition.name,
                group=condition.group,
                layer=condition.layer,
                alpha=condition.alpha,
                control=condition.control,
            )
        )
        if on_condition is not None:
            on_condition(condition)
    return pd.concat(rows, ignore_index=True)


def bootstrap_mean(values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (resampling the given units)."""
    rng = np.random.default_rng(seed)
    draws = rng.choice(values, size=(n_boot, len(values)), replace=True).mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def effects(table: pd.DataFrame, by: Sequence[str] = ("framing",), n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per condition (and `by` groups): mean change of each gap against `none`, with a prompt bootstrap CI.

    `shrink` is the mean change of |reward gap| (negative = the edit moves the model toward no preference);
    `gap_before` is the unedited model's mean reward gap over the same prompts.
    """
    base = table[table["condition"] == "none"].set_index("prompt")[["reward_gap", "rank_gap"]]
    edited = table[table["condition"] != "none"].copy()
    for gap in ("reward_gap", "rank_gap"):
        edited[f"d_{gap}"] = edited[gap].to_numpy() - base.loc[edited["prompt"], gap].to_numpy()
    edited["shrink"] = edited["reward_gap"].abs().to_numpy() - base.loc[edited["prompt"], "reward_gap"].abs().to_numpy()
    keys = ["condition", "group", "layer", "alpha", "control", *by]
    out = []
    for key, part in edited.groupby(list(keys), sort=False):
        row = dict(zip(keys, key, strict=True))
        for metric in ("d_reward_gap", "d_rank_gap", "shrink"):
            values = part[metric].to_numpy()
            lo, hi = bootstrap_mean(values, n_boot, seed)
            row |= {metric: float(values.mean()), f"{metric}_lo": lo, f"{metric}_hi": hi}
        row["gap_before"] = float(base.loc[part["prompt"], "reward_gap"].mean())
        row["n_prompts"] = len(part)
        out.append(row)
    return pd.DataFrame(out)


def null_band(
    effect_table: pd.DataFrame,
    metric: str,
    control_group: str = "random",
    by: Sequence[str] = ("layer", "alpha", "framing"),
    level: float = 0.95,
) -> pd.DataFrame:
    """The central `level` interval of a metric over the control directions, per layer/alpha/framing."""
    controls = effect_table[effect_table["group"] == control_group]
    tail = (1 - level) / 2
    grouped = controls.groupby(list(by))[metric]
    return pd.DataFrame(
        {"null_lo": grouped.quantile(tail), "null_hi": grouped.quantile(1 - tail), "null_n": grouped.size()}
    ).reset_index()


def orthogonal_to(direction: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
    """`direction` with its component along `readout` removed, renormalised (e.g. the head's reading direction)."""
    r = readout.float() / readout.float().norm()
    d = direction.float() - (direction.float() @ r) * r
    return d / d.norm()
