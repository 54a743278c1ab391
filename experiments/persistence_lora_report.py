"""The figure and the Markdown section of `experiments.persistence_lora`: per layer and checkpoint, (1 − cos)
of the base's and the RMs' directions over the seed floor's band, and the transfer AUC.

>>> import pandas as pd
>>> row = dict(layer=0, weight_change=0.0, verdict="skipped")
>>> result = dict(mode="lora", base="b", seeds=[0, 1], checkpoint_steps=[4], method="diff_means", n_words=8,
...               n_inputs=16, probe_prompts=["p"], z=1.96, statement="No layer changes.", held_out_pairs=8,
...               rm_accuracy=[dict(seed=0, step=4, held_out_accuracy=0.5, at_start=0.5)])
>>> report(result, pd.DataFrame([dict(row, step=4)])).splitlines()[-3]
'| 0 | 0 | | | | | | | | skipped (weights unchanged) |'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def figure(table: pd.DataFrame, path: Path, title: str) -> Path:
    """(1 − cos) base vs RM per layer, one line per checkpoint, each over its seed-floor band; transfer AUC."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    colours = plt.get_cmap("viridis")
    steps = sorted(table.step.unique())
    shown = table[table.verdict != "skipped"]
    low = 0.5 * shown[["one_minus_cos", "floor"]].where(lambda v: v > 0).min().min()  # log axis: the band's
    for i, step in enumerate(steps):  # lower edge (floor − z SE) may reach 0 or below
        rows = table[(table.step == step) & (table.verdict != "skipped")].sort_values("layer")
        colour = colours(i / max(1, len(steps) - 1))
        top.fill_between(rows.layer, rows.floor_lo.clip(lower=low), rows.floor_hi, color=colour, alpha=0.15, lw=0)
        top.plot(rows.layer, rows.one_minus_cos, "o-", color=colour, ms=3, label=f"step {step}")
        hits = rows[rows.verdict == "changes"]
        top.plot(hits.layer, hits.one_minus_cos, "*", color=colour, ms=10)
        bottom.plot(rows.layer, rows.transfer_auc, "o-", color=colour, ms=3, label=f"base → RM, step {step}")
        bottom.plot(rows.layer, rows.transfer_auc_floor, ":", color=colour, label=f"seed → seed, step {step}")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_yscale("log")
    top.set_ylim(bottom=low)
    top.set_ylabel("1 − cos (base vs RM direction)")
    top.set_title(f"{title}: band = seed floor, ★ = above it")
    top.legend(fontsize=7)
    bottom.set_ylabel("transfer AUC")
    bottom.set_xlabel("layer (only layers whose weights changed)")
    bottom.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(result: dict[str, Any], table: pd.DataFrame) -> str:
    """The result as a Markdown section (the demo's report can include it)."""
    final = table[table.step == result["checkpoint_steps"][-1]].sort_values("layer")
    acc = pd.DataFrame(result["rm_accuracy"])
    last_acc = acc[acc.step == acc.step.max()]
    lines = [
        f"## Persistence of {result['mode']} RMs against a seed floor",
        "",
        f"Base {result['base']}; {len(result['seeds'])} seed RMs trained on the same neutral pairs ({result['mode']}); "
        f"checkpoints at steps {', '.join(map(str, result['checkpoint_steps']))}. Directions: {result['method']} "
        f"per layer on {result['n_words']} agency/communion words ({result['n_inputs']} inputs, prompts "
        f"{', '.join(result['probe_prompts'])}), word folds. Floor: 1 − cos between two seed RMs' directions; "
        f"a layer changes when, for every seed RM and seed pair, base-vs-RM (1 − cos) exceeds seed-vs-seed "
        f"(1 − cos) by more than {result['z']:g} paired jackknife SEs over word folds (lower bound > 0), and only "
        "where every RM's weights changed.",
        "",
        f"**{result['statement']}**",
        "",
        f"RM held-out accuracy at the last step: {', '.join(f'{a:.3f}' for a in last_acc.held_out_accuracy)} "
        f"(before training {', '.join(f'{a:.3f}' for a in last_acc.at_start)}; {result['held_out_pairs']} "
        "held-out pairs).",
        "",
        "| layer | weight change | 1 − cos base vs RM | seed floor | floor band | excess | excess lower bound | "
        "transfer AUC base → RM | seed → seed | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in final.itertuples():
        if r.verdict == "skipped":
            lines.append(f"| {r.layer} | {r.weight_change:.2g} | | | | | | | | skipped (weights unchanged) |")
            continue
        lines.append(
            f"| {r.layer} | {r.weight_change:.2g} | {r.one_minus_cos:.3g} | {r.floor:.3g} | "
            f"[{r.floor_lo:.3g}, {r.floor_hi:.3g}] | {r.excess:+.3g} | {r.excess_lo:+.3g} | {r.transfer_auc:.3f} | "
            f"{r.transfer_auc_floor:.3f} | {r.verdict} |"
        )
    lines += ["", "![persistence](persistence.png)", ""]
    return "\n".join(lines)
