"""Causal claims about a direction, each beside its matched nulls: the RM is the unit, the verdict is stated.

The measured quantity is the change of the reward gap — mean reward of agency answers minus mean reward of
communion answers, averaged over prompts — when a direction is edited, on held-out words × evaluation prompts.
Per edit and RM it is one number (per framing); per claim:

- the estimate is its mean over RMs, with a paired t 95 % CI over RMs (`interp.training.paired`: the RM is the
  unit of the claim) and, beside it, a two-way bootstrap over words (within category) × prompts of the
  RM-averaged change (`interp.stats.bootstrap`);
- each null kind (`shuffled_label`, `covariance_matched`, `isotropic`, `placebo`; `interp.causal.nulls`) gives
  the central 95 % band of the same change over (RM, draw);
- the claim survives when its CI lies outside every null's band (wholly above or wholly below it).

>>> w = gap_weights(["p", "p", "q", "q"], ["agency", "communion"] * 2, ["pos", "pos", "neg", "neg"])
>>> w.columns.tolist(), w["pos"].tolist()
(['neg', 'pos'], [1.0, -1.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from interp._util.errors import UserError
from interp.causal.nulls import (
    KINDS,
    covariance_matched_directions,
    isotropic_directions,
    null_quantiles,
    placebo_direction,
    shuffled_label_directions,
)
from interp.stats.bootstrap import bootstrap_weights, percentile_interval
from interp.training.paired import paired_effect

POSITIVE, NEGATIVE = "agency", "communion"


@dataclass(frozen=True)
class Directions:
    """At one layer: the agency − communion difference of means (unit `direction`, its length `separation`)
    and the unit null directions of each kind (rows of (n, d) tensors)."""

    layer: int
    direction: torch.Tensor
    separation: float
    nulls: dict[str, torch.Tensor]

    def vectors(self) -> tuple[torch.Tensor, list[tuple[str, int]]]:
        """Every direction as rows (the real one first) and, per row, (kind, draw) (`direction`, 0 for the real)."""
        labels = [("direction", 0)] + [(k, i) for k in KINDS if k in self.nulls for i in range(len(self.nulls[k]))]
        return torch.cat([self.direction[None], *(self.nulls[k] for k in KINDS if k in self.nulls)]), labels


def fit_directions(
    layer: int,
    x: torch.Tensor,
    labels: Sequence[int],
    groups: Sequence[str],
    placebo: tuple[torch.Tensor, torch.Tensor],
    draws: Mapping[str, int],
    seed: int = 0,
) -> Directions:
    """The difference of means (label 1 − label 0) of the fitting activations `x` (n, d) at `layer` and its nulls:
    `draws[kind]` label-shuffled (shuffled across `groups`, i.e. words), covariance-matched and isotropic
    directions, and the placebo contrast of `placebo` = (activations of set a, of set b)."""
    x = x.double()
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float64)
    diff = x[y == 1].mean(0) - x[y == 0].mean(0)
    separation = float(diff.norm())
    if separation == 0:
        raise UserError(f"The two classes have the same mean at layer {layer}; there is no direction to test.")
    d = x.shape[1]
    nulls = {
        "shuffled_label": shuffled_label_directions(x, labels, draws["shuffled_label"], seed, groups, 1.0).vectors,
        "covariance_matched": covariance_matched_directions(x, draws["covariance_matched"], seed, 1.0).vectors,
        "isotropic": isotropic_directions(d, draws["isotropic"], seed).vectors,
        "placebo": placebo_direction(placebo[0], placebo[1], 1.0)[None],
    }
    return Directions(layer, (diff / separation).float(), separation, nulls)


def gap_weights(prompts: Sequence[str], categories: Sequence[str], framings: Sequence[str]) -> pd.DataFrame:
    """(rows × framings) weights: a score vector times a column is that framing's reward gap (mean over its
    prompts of mean agency − mean communion reward)."""
    frame = pd.DataFrame({"prompt": list(prompts), "category": list(categories), "framing": list(framings)})
    if not {POSITIVE, NEGATIVE} <= set(frame["category"]):
        raise UserError(f"A reward gap needs both '{POSITIVE}' and '{NEGATIVE}' answers.")
    size = frame.groupby(["prompt", "category"])["prompt"].transform("size")
    n_prompts = frame.groupby("framing")["prompt"].transform("nunique")
    sign = frame["category"].map({POSITIVE: 1.0, NEGATIVE: -1.0}).fillna(0.0)
    value = sign / size / n_prompts
    return pd.DataFrame({f: np.where(frame["framing"] == f, value, 0.0) for f in sorted(set(framings))})


def changes(
    edited: np.ndarray, unedited: np.ndarray, weights: pd.DataFrame, labels: Sequence[tuple[str, int]], **keys: Any
) -> pd.DataFrame:
    """Tidy change of each framing's gap: one row per (RM, vector, framing); `edited` is (rms, vectors, rows)."""
    delta = np.einsum("rvn,nf->rvf", edited - unedited[:, None], weights.to_numpy())
    r, v, f = np.meshgrid(range(delta.shape[0]), range(delta.shape[1]), range(delta.shape[2]), indexing="ij")
    return pd.DataFrame(
        {
            **keys,
            "rm": r.ravel(),
            "kind": [labels[i][0] for i in v.ravel()],
            "draw": [labels[i][1] for i in v.ravel()],
            "framing": np.asarray(weights.columns)[f.ravel()],
            "d_reward_gap": delta.ravel(),
        }
    )


def two_way_interval(
    delta: np.ndarray,
    prompts: Sequence[str],
    words: Sequence[str],
    categories: Sequence[str],
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """95 % interval of the gap change (mean over prompts of agency − communion mean change) from per-row
    changes `delta` (one per (prompt, word)), resampling prompts and words (within category) jointly."""
    rng = np.random.default_rng(seed)
    by_prompt = bootstrap_weights(np.asarray(prompts), n_boot, rng)
    by_word = bootstrap_weights(np.asarray(words), n_boot, rng, within=np.asarray(categories))
    w = by_prompt * by_word
    positive = np.asarray(categories) == POSITIVE
    negative = np.asarray(categories) == NEGATIVE
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (w[:, positive] @ delta[positive]) / w[:, positive].sum(1) - (w[:, negative] @ delta[negative]) / w[
            :, negative
        ].sum(1)
    low, high = percentile_interval(gap[np.isfinite(gap)])
    return float(low), float(high)


def claim(values: Sequence[float], nulls: Mapping[str, Sequence[float]], seed: int = 0) -> dict[str, Any]:
    """Estimate with its t CI over RMs (`values`: one per RM), each null's 95 % band over (RM, draw), and
    whether the CI lies outside every band.

    >>> c = claim([-1.0, -1.2, -0.9], {"isotropic": [0.1, -0.1, 0.0, 0.05]})
    >>> c["survives"], c["nulls"]["isotropic"]["n"]
    (True, 4)
    """
    stat = paired_effect(values, seed=seed)
    bands = {}
    for kind, draws in nulls.items():
        low, high = null_quantiles(draws) if len(draws) > 1 else (float(draws[0]), float(draws[0]))
        outside = stat.ci_high < low or stat.ci_low > high
        bands[kind] = {"band_low": low, "band_high": high, "median": float(np.median(draws)), "n": len(draws)}
        bands[kind]["outside"] = bool(outside)
    return {
        "estimate": stat.effect,
        "ci_low": stat.ci_low,
        "ci_high": stat.ci_high,
        "p": stat.p,
        "n_seeds": stat.n_rms,
        "nulls": bands,
        "survives": bool(bands) and all(b["outside"] for b in bands.values()),
    }
