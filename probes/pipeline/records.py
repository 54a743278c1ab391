"""The pieces of a lineage's summary.json (the report quotes them): the behavioural gap, where the probes decode
and how the best layer's direction persists, the causal effects beside their nulls, and where the gap forms."""

from __future__ import annotations

from typing import Any

import pandas as pd

from interp.causal.nulls import KINDS
from interp.causal.study import value_gaps
from interp.pipeline.causal_step import CausalDesign
from interp.stats.bootstrap import mean_interval
from probes.pipeline.fitting import PROBE_METHOD


def behaviour_gap(scores: pd.DataFrame, words: dict[str, str]) -> dict[str, Any]:
    """Per framing the mean reward gap (agency − communion) over prompts, its interval and the prompt count."""
    gaps = value_gaps(scores, words)
    out: dict[str, Any] = {}
    for framing, part in gaps.groupby("framing"):
        lo, hi = mean_interval(part["reward_gap"].to_numpy())
        out[str(framing)] = {"reward_gap": float(part["reward_gap"].mean()), "lo": lo, "hi": hi, "n_prompts": len(part)}
    return out


def probe_record(probes: pd.DataFrame, directions: pd.DataFrame, best: int) -> dict[str, Any]:
    """The best probe layer, per model the layers whose probe beats its permutation null, and at the best layer the
    base → RM persistence of the direction beside its nulls."""
    decodable = probes[(probes.method == PROBE_METHOD) & (probes.auc > probes.null_auc_q95)]
    return {
        "best_probe_layer": best,
        "decodable_layers": {m: sorted(int(x) for x in g.layer) for m, g in decodable.groupby("model")},
        "persistence_best_layer": directions[directions.layer == best]
        .iloc[0][["cos", "cos_random_q95", "cos_shuffled_q95", "auc_a_to_b", "transfer_null_q95"]]
        .astype(float)
        .to_dict(),
    }


def effect_records(claims: pd.DataFrame) -> list[dict[str, Any]]:
    """summary.json's effects: per claim its estimate, CIs, each null by name, verdict and sizes."""
    out = []
    for row in claims.to_dict(orient="records"):
        nulls = {
            kind: {"band_low": row[f"{kind}_low"], "band_high": row[f"{kind}_high"], "n": int(row[f"{kind}_n"])}
            for kind in KINDS
            if row[f"{kind}_n"]
        }
        out.append(
            {
                "effect": f"{row['edit']}@L{row['layer']}"
                + (f"×{row['dose']:+g}sep" if row["edit"] == "steer" else "")
                + f" ({row['positions']} positions, {row['framing']} prompts)",
                **{k: row[k] for k in ("layer", "edit", "dose", "positions", "framing")},
                **{k: row[k] for k in ("estimate", "ci_low", "ci_high", "boot_low", "boot_high", "gap_before")},
                "nulls": nulls,
                "survives": bool(row["survives"]),
                **{k: int(row[k]) for k in ("n_seeds", "n_eval_words", "n_eval_prompts")},
                "twin": None
                if pd.isna(row.get("twin_estimate"))
                else {
                    "estimate": row["twin_estimate"],
                    "ci_low": row["twin_low"],
                    "ci_high": row["twin_high"],
                    "n_prompts": int(row["twin_n_prompts"]),
                    "n_words": int(row["twin_n_words"]),
                    "agreement": row["twin_agreement"] or None,
                },
            }
        )
    return out


def causal_record(
    ablation: pd.DataFrame, steering: pd.DataFrame, design: CausalDesign, n_fitting: int
) -> dict[str, Any]:
    """summary.json's causal section: the unit, test and measure, the sizes, and every ablation and steering
    effect (`effect_records`)."""
    best = design.best
    return {
        "unit": "RM (seed)",
        "test": "paired t 95% CI over seed RMs; beside it a two-way bootstrap over held-out words (within "
        "category) × evaluation prompts of the RM-mean change",
        "measure": "change of the reward gap (mean agency − mean communion reward, averaged over the framing's "
        "prompts), in reward units",
        "null_band": "central 95% of the same change over (RM, draw) per null kind; survives = CI outside every band",
        "n_seeds": int(ablation["n_seeds"].max()),
        "n_fitting_words": n_fitting,
        "n_eval_words": int(ablation["n_eval_words"].max()),
        "n_eval_prompts": len(design.eval_prompts),  # each effect: those of its framing
        "null_draws": design.null_draws,
        "null_draws_best_layer": design.best_null_draws,
        "fitting_prompts": [p.key for p in design.fit_prompts],
        "eval_prompts": [p.key for p in design.eval_prompts],
        "ablation": effect_records(ablation),
        "steering": effect_records(steering),
        "steering_unit": f"dose × class-mean separation at layer {best} "
        f"({float(steering['separation'].iloc[0]):.3g} residual units)",
    }


def gap_paths_record(attribution: pd.DataFrame, patching: pd.DataFrame | None, first_trained: int) -> dict[str, Any]:
    """summary.json's patching and attribution: per framing the gap the frozen (inherited) layers' components
    write directly, the total, and per trained layer the change when the base's readout residual is patched in."""
    columns = ["estimate", "ci_low", "ci_high", "n_rms"]
    last_frozen = attribution[attribution.component == f"mlp{first_trained - 1}"]
    total = attribution[attribution.order == attribution.order.max()]
    return {
        "unit": "RM (seed)",
        "test": "t 95% CI over seed RMs",
        "first_trained_layer": first_trained,
        "written_by_frozen_layers": last_frozen.set_index("framing")[columns].to_dict(orient="index"),
        "total_gap": total.set_index("framing")[columns].to_dict(orient="index"),
        "patching": None if patching is None else patching.to_dict(orient="records"),
    }
