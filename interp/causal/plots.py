"""Figures of the causal study: ablation effect by layer, steering dose-response, durability over training.

Each takes the tidy effect tables of `interp.causal.study` and writes a PNG (matplotlib, no display).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from interp.causal.study import null_band

COLOURS = {"base_direction": "C0", "base_orth_head": "C2", "rm_direction": "C1"}


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def plot_ablation_by_layer(effects: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Change of the reward gap (agency − communion) when a direction is projected out, by layer and framing.

    Lines: the base's direction, the same orthogonalised to the head's reading direction, the RM's own
    direction (with prompt-bootstrap CIs); grey bars: the central 95 % of random unit directions.
    """
    framings = sorted(effects["framing"].unique())
    band = null_band(effects, "d_reward_gap", by=("layer", "framing"))
    fig = Figure(figsize=(5 * len(framings), 3.8))
    for i, framing in enumerate(framings):
        ax = fig.add_subplot(1, len(framings), i + 1)
        rows = effects[(effects.framing == framing) & (effects.layer >= 0)]
        for group, colour in COLOURS.items():
            g = rows[rows.group == group].sort_values("layer")
            ax.errorbar(
                g.layer,
                g.d_reward_gap,
                yerr=[g.d_reward_gap - g.d_reward_gap_lo, g.d_reward_gap_hi - g.d_reward_gap],
                marker="o",
                ms=3,
                capsize=2,
                color=colour,
                label=group.replace("_", " "),
            )
        b = band[(band.framing == framing) & (band.layer >= 0)]
        ax.vlines(b.layer, b.null_lo, b.null_hi, color="grey", lw=6, alpha=0.4, label="random 95 %")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("ablated layer")
        ax.set_ylabel("Δ reward gap (agency − communion)")
        ax.set_title(f"{title} — {framing} prompts")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_steering(effects: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Δ reward gap and Δ rank gap against the dose α (in units of the mean residual norm), with the band
    of random directions at each dose."""
    base = effects[effects.group == "steer_base"].sort_values("alpha")
    band = null_band(effects, "d_reward_gap", control_group="steer_random", by=("alpha", "framing"))
    rank_band = null_band(effects, "d_rank_gap", control_group="steer_random", by=("alpha", "framing"))
    fig = Figure(figsize=(10, 3.8))
    for j, (metric, bands) in enumerate((("d_reward_gap", band), ("d_rank_gap", rank_band))):
        ax = fig.add_subplot(1, 2, j + 1)
        for i, (framing, g) in enumerate(base.groupby("framing")):
            b = bands[bands.framing == framing].sort_values("alpha")
            ax.fill_between(b.alpha, b.null_lo, b.null_hi, color=f"C{i}", alpha=0.15)
            ax.plot(g.alpha, g[metric], marker="o", color=f"C{i}", label=f"base direction, {framing}")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("α (× mean residual norm)")
        ax.set_ylabel(metric.replace("d_", "Δ ").replace("_", " "))
        ax.legend(fontsize=7)
    fig.suptitle(f"Steering dose-response (shaded: random directions, 95 %) — {title}")
    return _save(fig, path)


def plot_durability(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Along training checkpoints: the behavioural reward gap, the cosine of the checkpoint's direction with
    the base's at the best probe layer, and the effect of ablating the base direction there."""
    fig = Figure(figsize=(11, 3.5))
    panels = (
        ("reward_gap", "reward gap (agency − communion)"),
        ("cos_base_direction_best_layer", "cos(checkpoint dir, base dir)"),
        ("ablation_d_reward_gap", "Δ gap when base dir ablated"),
    )
    for i, (column, label) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        ax.plot(table.step, table[column], marker="o")
        if column == "ablation_d_reward_gap":
            ax.fill_between(table.step, table.ablation_d_reward_gap_lo, table.ablation_d_reward_gap_hi, alpha=0.2)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("training step")
        ax.set_title(label, fontsize=9)
    fig.suptitle(f"Durability through RM training — {title}")
    return _save(fig, path)
