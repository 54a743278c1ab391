"""Where an RM's agency − communion reward gap forms and whether it runs through what the RM inherited, per RM.

Two measurements on the evaluation answers of an `EvalSet`, for each RM of a lineage (the RM is the unit):

- `gap_by_component`: each attention head block's and MLP's direct contribution to each framing's reward gap
  along the score head, through the final norm (`interp.causal.attribution`); the contributions sum to the gap.
- `gap_patching`: the change of each framing's reward gap when one decoder layer's output is taken from the base
  LM on the same input (`interp.causal.patching`), at the readout token or at every position. At a layer the RM
  did not train (below its first trained layer) the RM's residual is the base's, so the change is exactly 0.

`per_rm_summary` turns either table into a mean over RMs with a t 95 % CI per key (`interp.training.paired`).

>>> import tempfile
>>> from interp.models import load_lm, rm_from_base
>>> from interp.render.prompts import paper_prompts
>>> from interp.causal.study import EvalSet
>>> from interp.models.tiny import build_tiny
>>> folder = str(build_tiny("llama", tempfile.mkdtemp()))
>>> rm, base = rm_from_base(folder), load_lm(folder)
>>> eval_set = EvalSet(tuple(paper_prompts()[:2]), {"power": "agency", "care": "communion"})
>>> table = gap_patching([("rm", rm)], base, eval_set, [0, 3])  # the fresh RM's body is the base LM's
>>> table["layer"].tolist(), set(table["d_reward_gap"])
([0, 3], {0.0})
>>> parts = gap_by_component([("rm", rm)], eval_set)
>>> sorted(parts["framing"].unique()) == sorted({p.framing for p in paper_prompts()[:2]})
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from interp.causal.attribution import component_attribution
from interp.causal.patching import Positions, patched_by_layer
from interp.causal.study import EvalSet
from interp.models import ModelHandle
from interp.training.paired import paired_effect

NamedRMs = Iterable[tuple[str, ModelHandle]]


def _pairs(eval_set: EvalSet) -> list[tuple[str, str]]:
    """The (prompt, answer) pairs in `eval_set.rows` order."""
    return [(p.text, w) for p in eval_set.prompts for w in eval_set.words]


def gap_by_component(rms: NamedRMs, eval_set: EvalSet, batch_size: int = 16) -> pd.DataFrame:
    """Per RM, framing and component (residual-stream order): the component's share of the framing's reward gap.

    Columns: rm, framing, component, order, gap, cumulative (the gap built up along the stream).
    """
    weights = eval_set.weights()
    frames = []
    for name, rm in rms:
        table = component_attribution(rm, _pairs(eval_set), batch_size)
        order = list(dict.fromkeys(table["component"]))
        by_row = table.pivot(index="pair", columns="component", values="contribution")[order].to_numpy()
        gaps = weights.to_numpy().T @ by_row  # framings × components
        for framing, values in zip(weights.columns, gaps, strict=True):
            frames.append(
                pd.DataFrame(
                    {
                        "rm": name,
                        "framing": framing,
                        "component": order,
                        "order": range(len(order)),
                        "gap": values,
                        "cumulative": np.cumsum(values),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def gap_patching(
    rms: NamedRMs,
    base: ModelHandle,
    eval_set: EvalSet,
    layers: Sequence[int],
    positions: Positions = "readout",
    batch_size: int = 16,
) -> pd.DataFrame:
    """Per RM, layer and framing: the change of the reward gap when `layers`' output at `positions` comes from `base`.

    Columns: rm, layer, positions, framing, gap (unpatched), d_reward_gap (patched − unpatched).
    """
    weights = eval_set.weights()
    rows = []
    for name, rm in rms:
        clean, patched = patched_by_layer(rm, base, _pairs(eval_set), layers, positions, batch_size)
        gap = clean.double().numpy() @ weights.to_numpy()
        for layer, scores in patched.items():
            change = (scores.double() - clean.double()).numpy() @ weights.to_numpy()
            for j, framing in enumerate(weights.columns):
                rows.append(
                    {
                        "rm": name,
                        "layer": layer,
                        "positions": positions if isinstance(positions, str | int) else "+".join(map(str, positions)),
                        "framing": framing,
                        "gap": float(gap[j]),
                        "d_reward_gap": float(change[j]),
                    }
                )
    return pd.DataFrame(rows)


def per_rm_summary(table: pd.DataFrame, keys: Sequence[str], value: str, seed: int = 0) -> pd.DataFrame:
    """Per `keys`: the mean of `value` over RMs with its paired t 95 % CI (NaN with one RM), and `n_rms`.

    >>> t = pd.DataFrame({"rm": ["a", "b", "c"], "layer": [1, 1, 1], "d": [1.0, 1.2, 0.8]})
    >>> row = per_rm_summary(t, ["layer"], "d").iloc[0]
    >>> float(row["estimate"]), bool(row["ci_low"] < 1 < row["ci_high"]), int(row["n_rms"])
    (1.0, True, 3)
    """
    out = []
    for key, part in table.groupby(list(keys), sort=False):
        values = part[value].to_numpy(dtype=float)
        stat = paired_effect(values, seed) if len(values) > 1 else None
        out.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "estimate": float(values.mean()),
                "ci_low": stat.ci_low if stat else np.nan,
                "ci_high": stat.ci_high if stat else np.nan,
                "n_rms": len(values),
            }
        )
    return pd.DataFrame(out)
