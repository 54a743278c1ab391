"""The causal study on held-out answers: a direction ablated at each layer of a grid beside its matched nulls,
and the steering dose-response, measured for several seed RMs at once.

Fitting and evaluation are disjoint (`interp.causal.heldout`): the directions, their nulls and the best layer
come from fitting words × fitting prompts; every effect here is scored on held-out words × evaluation prompts
(`EvalSet`) by an `interp.causal.grid.AnswerGrid`. Edits act at the answer and readout positions (the prompt's
prefix unedited; `positions="all"` edits every token). The effect of an edit is the change of each framing's
reward gap (mean agency − mean communion reward, averaged over the framing's prompts) against the unedited RM;
`interp.causal.claims` turns the per-RM changes into claims with their nulls and verdicts.

`value_gaps` gives per-prompt gaps of a tidy score table (`model, prompt, word, score, framing`).

>>> gaps = value_gaps(scores, {"love": "communion", "power": "agency"})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from interp.causal.claims import Directions, changes, claim, gap_weights, two_way_interval
from interp.causal.grid import AnswerGrid, EditKind, Positions
from interp.render.prompts import Prompt

NULL_KINDS = ("shuffled_label", "covariance_matched", "isotropic", "placebo")


@dataclass(frozen=True)
class EvalSet:
    """Held-out answers (word -> category) to evaluation prompts, in grid row order (prompt-major)."""

    prompts: tuple[Prompt, ...]
    words: dict[str, str]

    @property
    def rows(self) -> pd.DataFrame:
        """One row per (prompt, word): prompt key, framing, word, category."""
        return pd.DataFrame(
            [(p.key, p.framing, w, c) for p in self.prompts for w, c in self.words.items()],
            columns=["prompt", "framing", "word", "category"],
        )

    def weights(self) -> pd.DataFrame:
        rows = self.rows
        return gap_weights(rows["prompt"], rows["category"], rows["framing"])


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


def null_band(
    effect_table: pd.DataFrame,
    metric: str,
    control_group: str = "random",
    by: Sequence[str] = ("layer", "alpha", "framing"),
    level: float = 0.95,
) -> pd.DataFrame:
    """The central `level` interval of a metric over the control rows (`group == control_group`), per `by` group."""
    controls = effect_table[effect_table["group"] == control_group]
    tail = (1 - level) / 2
    grouped = controls.groupby(list(by))[metric]
    return pd.DataFrame(
        {"null_lo": grouped.quantile(tail), "null_hi": grouped.quantile(1 - tail), "null_n": grouped.size()}
    ).reset_index()


@dataclass(frozen=True)
class Edit:
    """One batch of edits scored together: `vectors` (n, d) edited the same way (`kind`) after `layer`; `labels`
    names each row (kind, draw), the real direction first as ("direction", 0); `dose` tags steering."""

    layer: int
    kind: EditKind
    vectors: torch.Tensor
    labels: list[tuple[str, int]]
    positions: Positions = "answer"
    dose: float = 0.0


@dataclass
class Measured:
    """Per-RM gap changes (`changes`: layer, positions, dose, rm, kind, draw, framing, d_reward_gap) and, for the
    real direction, the RM-mean change of every evaluation row (`rows`: the same keys, prompt, word, d_score)."""

    changes: pd.DataFrame
    rows: pd.DataFrame
    gap_before: pd.DataFrame  # per rm and framing: the unedited reward gap


def measure(grid: AnswerGrid, eval_set: EvalSet, edits: Sequence[Edit]) -> Measured:
    """Score every edit on the grid; the per-row change is kept for each edit's first vector (the direction)."""
    weights = eval_set.weights()
    base = grid.unedited()
    before = pd.DataFrame(base @ weights.to_numpy(), columns=weights.columns).rename_axis("rm").reset_index()
    found, per_row = [], []
    rows = eval_set.rows
    for edit, scores in zip(edits, _scored(grid, edits), strict=True):
        keys = {"layer": edit.layer, "edit": edit.kind, "dose": edit.dose, "positions": edit.positions}
        found.append(changes(scores, base, weights, edit.labels, **keys))
        per_row.append(rows.assign(**keys, d_score=(scores[:, 0] - base).mean(0)))
    return Measured(
        pd.concat(found, ignore_index=True),
        pd.concat(per_row, ignore_index=True),
        before.melt(id_vars="rm", var_name="framing", value_name="reward_gap"),
    )


def _scored(grid: AnswerGrid, edits: Sequence[Edit]) -> list[np.ndarray]:
    """Each edit's scores (rms, vectors, answers); edits of one layer, kind and positions share one grid call."""
    out: list[np.ndarray] = [np.empty(0)] * len(edits)
    batches: dict[tuple[int, EditKind, Positions], list[int]] = {}
    for i, edit in enumerate(edits):
        batches.setdefault((edit.layer, edit.kind, edit.positions), []).append(i)
    for (layer, kind, positions), members in batches.items():
        scores = grid.scores(layer, kind, torch.cat([edits[i].vectors for i in members]), positions)
        ends = np.cumsum([len(edits[i].vectors) for i in members])
        for i, part in zip(members, np.split(scores, ends[:-1], axis=1), strict=True):
            out[i] = part
    return out


def ablation_edits(fitted: Mapping[int, Directions], positions_all: Sequence[int] = ()) -> list[Edit]:
    """At each fitted layer: the direction and every null projected out at the answer and readout positions;
    at the layers in `positions_all`, the direction alone at every position as well."""
    edits = []
    for layer, found in sorted(fitted.items()):
        edits.append(Edit(layer, "ablate", *found.vectors()))
        if layer in positions_all:
            edits.append(Edit(layer, "ablate", found.direction[None], [("direction", 0)], "all"))
    return edits


def steering_edits(found: Directions, doses: Sequence[float], null_draws: Mapping[str, int]) -> list[Edit]:
    """At the directions' layer, each dose (in units of the class-mean separation there) of the direction and of
    the first `null_draws[kind]` nulls of each kind, all of that length."""
    labels = [("direction", 0)] + [
        (k, i) for k in NULL_KINDS for i in range(min(null_draws.get(k, 0), len(found.nulls[k])))
    ]
    units = torch.stack([found.direction if k == "direction" else found.nulls[k][i] for k, i in labels])
    units = units / units.norm(dim=1, keepdim=True)
    return [Edit(found.layer, "steer", units * dose * found.separation, labels, dose=dose) for dose in doses]


def claims_table(measured: Measured, eval_set: EvalSet, seed: int = 0, n_boot: int = 2000) -> pd.DataFrame:
    """One claim per (layer, edit, dose, positions, framing): the direction's change with its CI over RMs and its
    two-way words × prompts bootstrap interval, each null kind's band, and whether the claim survives."""
    out = []
    keys = ["layer", "edit", "dose", "positions", "framing"]
    gap = measured.gap_before.groupby("framing")["reward_gap"].mean()
    for key, part in measured.changes.groupby(keys, sort=False):
        real = part[part["kind"] == "direction"].sort_values("rm")["d_reward_gap"].to_numpy()
        nulls = {k: g["d_reward_gap"].tolist() for k, g in part[part["kind"] != "direction"].groupby("kind")}
        row = dict(zip(keys, key, strict=True))
        rows = measured.rows
        mine = rows[np.logical_and.reduce([rows[k] == v for k, v in row.items()])]
        boot = two_way_interval(
            mine["d_score"].to_numpy(), mine["prompt"], mine["word"], mine["category"], n_boot, seed
        )
        found = claim(real, nulls, seed) if len(real) > 1 else None
        row |= {
            "estimate": float(real.mean()),
            "ci_low": found["ci_low"] if found else np.nan,
            "ci_high": found["ci_high"] if found else np.nan,
            "boot_low": boot[0],
            "boot_high": boot[1],
            "gap_before": float(gap[row["framing"]]),
            "n_seeds": len(real),
            "n_eval_words": mine["word"].nunique(),
            "n_eval_prompts": mine["prompt"].nunique(),
            "survives": bool(found and found["survives"]),
        }
        for kind in NULL_KINDS:
            band = found["nulls"].get(kind) if found else None
            row[f"{kind}_low"] = band["band_low"] if band else np.nan
            row[f"{kind}_high"] = band["band_high"] if band else np.nan
            row[f"{kind}_n"] = band["n"] if band else 0
        out.append(row)
    return pd.DataFrame(out)
