"""Persistence against a seed floor: does training move a probe direction further from the base than two seed
RMs of the same base lie from each other?

Every model (the base, and each seed RM at each checkpoint step) gets one probe per layer, fitted on the
same inputs and word folds (`difference of means` by default, as the lineage study). `direction_pairs` then
compares, layer by layer and step by step, the base with every seed RM (`base_rm`) and every two seed RMs
with each other (`seed_seed`):

- `one_minus_cos`: θ = 1 − cos of the two all-data directions; `loo_f`: θ_f, the same for the directions
  fitted without fold f's words; `one_minus_cos_se`: the grouped (delete-a-fold) jackknife standard error
  sqrt((F−1)/F · Σ_f (θ_f − θ̄)²), how much θ moves with the words the directions were fitted on;
- `transfer_auc`: a's cross-fitted probes (each fold's probe scores only the words it never saw) applied to
  b's activations; `auc_b`: b's own held-out AUC.

`seed_floor` turns that into one row per (layer, step). The floor is the seed-to-seed (1 − cos): the change
that training noise alone (another seed, same base, data and settings) makes. A layer **changes** when its
weights changed in every seed RM (`weight_change > 0`) and, for every seed RM s and every seed pair p, the
excess θ_s − θ_p stays above 0 by z jackknife SEs of that difference (paired: both from the same word
folds, so the words' share of the noise largely cancels; requiring every (s, p) keeps the seeds' spread).
A layer whose weights did not change (last-k training leaves the lower layers equal to the base) is
**skipped**, its reason recorded: persistence there is 1 by construction and measures nothing.

>>> pairs = pd.DataFrame({"layer": [0, 0, 0], "step": [8, 8, 8], "kind": ["base_rm", "base_rm", "seed_seed"],
...     "a": ["base", "base", "seed0"], "b": ["seed0", "seed1", "seed1"], "one_minus_cos": [0.30, 0.32, 0.02],
...     "loo_0": [0.29, 0.31, 0.02], "loo_1": [0.31, 0.33, 0.03], "one_minus_cos_se": [0.01, 0.01, 0.005],
...     "transfer_auc": [0.8, 0.8, 0.9], "auc_b": [0.9, 0.9, 0.9]})
>>> change = pd.DataFrame({"seed": [0, 1], "step": [8, 8], "layer": [0, 0], "weight_change": [1e-3, 1e-3]})
>>> seed_floor(pairs, change)[["layer", "excess", "verdict"]].round(3).to_dict("records")
[{'layer': 0, 'excess': 0.29, 'verdict': 'changes'}]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from interp._util.errors import UserError
from probes.data import ProbeData
from probes.layer import Layer, LayerFit, rank_auc
from probes.linear import METHODS, fit_layer
from probes.persistence import check_comparable


def _jackknife_se(values: np.ndarray) -> float:
    """Delete-a-group jackknife SE from the F leave-one-fold-out estimates.

    >>> round(_jackknife_se(np.array([1.0, 1.0, 1.0])), 6), round(_jackknife_se(np.array([0.0, 2.0])), 6)
    (0.0, 1.0)
    """
    f = len(values)
    return float(np.sqrt((f - 1) / f * ((values - values.mean()) ** 2).sum()))


def _pair_row(fa: LayerFit, fb: LayerFit, la: Layer, lb: Layer, labels: np.ndarray) -> dict[str, float]:
    cos = torch.nn.functional.cosine_similarity(fa.weight[0].double(), fb.weight[0].double(), dim=-1).numpy()
    y = labels[:, None]
    return {
        "one_minus_cos": float(1 - cos[-1]),
        **{f"loo_{f}": float(1 - c) for f, c in enumerate(cos[:-1])},
        "one_minus_cos_se": _jackknife_se(1 - cos[:-1]),
        "transfer_auc": float(rank_auc(fa.scores(lb.x, la.fold).numpy()[:, :1], y)[0]),
        "auc_b": float(rank_auc(fb.scores(lb.x, lb.fold).numpy()[:, :1], y)[0]),
    }


def direction_pairs(
    base: ProbeData,
    rms: Mapping[tuple[int, int], ProbeData],
    method: str = "diff_means",
    n_splits: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Base vs each seed RM, and seed RM vs seed RM, per layer and step; `rms[(seed, step)]` is one RM's data.

    One row per (layer, step, kind, a, b) with the columns of the module docstring. Every RM must share the
    base's lineage and inputs, and every seed must have data at the same steps."""
    if method not in METHODS:
        raise UserError(f"Unknown probe method {method!r}; use one of {METHODS}.")
    seeds, steps = sorted({s for s, _ in rms}), sorted({t for _, t in rms})
    if len(seeds) < 2:
        raise UserError(f"A seed floor needs RMs from at least 2 seeds; got {len(seeds)}.")
    missing = [(s, t) for s in seeds for t in steps if (s, t) not in rms]
    if missing:
        raise UserError(f"RM seed {missing[0][0]} has no data at step {missing[0][1]}; give every seed every step.")
    for data in rms.values():
        check_comparable(base, data)
    folds = base.fold_ids(n_splits, seed)
    names = [f"seed{s}" for s in seeds]
    compared = [("base_rm", "base", n) for n in names]
    compared += [("seed_seed", n, m) for i, n in enumerate(names) for m in names[i + 1 :]]
    rows = []
    for j, layer in enumerate(base.layers):
        base_layer = Layer.prepare(base.layer(j), folds)
        base_fit = fit_layer(base_layer, base.labels, method)
        for step in steps:
            members = {"base": (base_layer, base_fit)}
            for s, name in zip(seeds, names, strict=True):
                lay = Layer.prepare(rms[(s, step)].layer(j), folds)
                members[name] = (lay, fit_layer(lay, base.labels, method))
            for kind, a, b in compared:
                (la, fa), (lb, fb) = members[a], members[b]
                row = _pair_row(fa, fb, la, lb, base.labels)
                rows.append({"layer": layer, "step": step, "kind": kind, "a": a, "b": b, **row})
    return pd.DataFrame(rows)


def seed_floor(pairs: pd.DataFrame, weight_change: pd.DataFrame, z: float = 1.96) -> pd.DataFrame:
    """One row per (layer, step): base-vs-RM (1 − cos) and transfer AUC beside the seed floor, and a verdict.

    `pairs` comes from `direction_pairs`; `weight_change` has one row per (seed, step, layer) with the RM's
    relative weight change of that layer (`Lineage.weight_change`). Columns: `one_minus_cos` (base vs RM,
    mean over seeds), `floor` (seed vs seed, mean over pairs), `floor_lo` / `floor_hi` (min over pairs of
    θ − z·SE, max of θ + z·SE: the floor's band), `excess` (one_minus_cos − floor), `excess_lo` (min over
    seeds s and pairs p of θ_s − θ_p − z·SE(θ_s − θ_p)), `transfer_auc` (base → RM, mean over seeds),
    `transfer_auc_floor` (seed → seed, mean over pairs), `auc_rm`, `weight_change` (min over seeds),
    `n_seeds`, `n_seed_pairs`, `verdict` (`changes`, `within seed floor` or `skipped`) and `reason`.
    """
    if z < 0:
        raise UserError(f"The seed floor needs z >= 0 (jackknife SEs of margin), not {z}.")
    change = weight_change.groupby(["layer", "step"])["weight_change"].agg(["min", "count"])
    rows = []
    for (layer, step), group in pairs.groupby(["layer", "step"], sort=True):
        base_rm, seeds = group[group.kind == "base_rm"], group[group.kind == "seed_seed"]
        if base_rm.empty or seeds.empty:
            raise UserError(f"Layer {layer} at step {step} lacks base-vs-RM or seed-vs-seed rows; rerun the pairs.")
        if (layer, step) not in change.index or change.loc[(layer, step), "count"] != len(base_rm):
            raise UserError(f"Weight changes of layer {layer} at step {step} are missing for some seed RMs.")
        moved = float(change.loc[(layer, step), "min"])
        row = {
            "layer": int(layer),
            "step": int(step),
            "weight_change": moved,
            "one_minus_cos": float(base_rm.one_minus_cos.mean()),
            "floor": float(seeds.one_minus_cos.mean()),
            "floor_lo": float((seeds.one_minus_cos - z * seeds.one_minus_cos_se).min()),
            "floor_hi": float((seeds.one_minus_cos + z * seeds.one_minus_cos_se).max()),
            "excess": float(base_rm.one_minus_cos.mean() - seeds.one_minus_cos.mean()),
            "excess_lo": _excess_lo(base_rm, seeds, z),
            "transfer_auc": float(base_rm.transfer_auc.mean()),
            "transfer_auc_floor": float(seeds.transfer_auc.mean()),
            "auc_rm": float(base_rm.auc_b.mean()),
            "n_seeds": len(base_rm),
            "n_seed_pairs": len(seeds),
        }
        rows.append({**row, **_verdict(row)})
    return pd.DataFrame(rows)


def _excess_lo(base_rm: pd.DataFrame, seeds: pd.DataFrame, z: float) -> float:
    """min over (seed RM, seed pair) of the excess θ_s − θ_p less z paired jackknife SEs."""
    loo = [c for c in base_rm.columns if c.startswith("loo_")]
    lows = [
        s.one_minus_cos - p.one_minus_cos - z * _jackknife_se(s[loo].to_numpy(float) - p[loo].to_numpy(float))
        for _, s in base_rm.iterrows()
        for _, p in seeds.iterrows()
    ]
    return float(min(lows))


def _verdict(row: dict[str, float]) -> dict[str, str]:
    if not row["weight_change"] > 0:
        reason = f"weights unchanged in at least one seed RM (min relative change {row['weight_change']:.3g})"
        return {"verdict": "skipped", "reason": reason + ": frozen in training, so persistence is 1 by construction"}
    bound = f"excess over the seed floor {row['excess']:.3g}, lower bound {row['excess_lo']:.3g}"
    return {"verdict": "changes" if row["excess_lo"] > 0 else "within seed floor", "reason": bound}


def statement(table: pd.DataFrame) -> str:
    """The plain-language result: at the last step, the layers whose (1 − cos) exceeds the seed floor, or that
    none does; then the earlier checkpoints' layers above it, or that there were none either.

    >>> t = pd.DataFrame({"layer": [0, 1, 0, 1], "step": [2, 2, 4, 4],
    ...                   "verdict": ["skipped", "changes", "skipped", "within seed floor"]})
    >>> statement(t).split(". ")  # doctest: +NORMALIZE_WHITESPACE
    ['At step 4, no layer whose weights changed (1 of 2) has a base-vs-RM (1 − cos) above the seed floor; 1 skipped',
     'Earlier: step 2: layer 1.']
    """
    steps = sorted(int(s) for s in table.step.unique())
    last = table[table.step == steps[-1]]
    changed = last[last.verdict != "skipped"]
    flagged = _flagged(table, steps[-1])
    skipped = len(last) - len(changed)
    tail = f"; {skipped} skipped." if skipped else "."
    if flagged:
        text = (
            f"At step {steps[-1]}, {len(flagged)} of {len(changed)} layers whose weights changed have a base-vs-RM "
            f"(1 − cos) above the seed floor: layers {', '.join(map(str, flagged))}{tail}"
        )
    else:
        text = (
            f"At step {steps[-1]}, no layer whose weights changed ({len(changed)} of {len(last)}) has a base-vs-RM "
            f"(1 − cos) above the seed floor{tail}"
        )
    earlier = {step: _flagged(table, step) for step in steps[:-1]}
    found = [f"step {step}: layer{'s' * (len(ls) > 1)} {', '.join(map(str, ls))}" for step, ls in earlier.items() if ls]
    if found:
        return f"{text} Earlier: {'; '.join(found)}."
    return f"{text} Nor at the earlier steps {', '.join(map(str, steps[:-1]))}." if earlier else text


def _flagged(table: pd.DataFrame, step: int) -> list[int]:
    return sorted(int(x) for x in table.layer[(table.step == step) & (table.verdict == "changes")])
