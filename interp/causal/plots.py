"""Figures of the causal study: ablation effect by layer beside every null's band, steering dose-response,
durability over training.

Each takes the claim tables of `interp.causal.study.claims_table` (or the durability table) and writes a PNG
(matplotlib, no display).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

NULL_STYLE = {  # kind: (colour, label)
    "shuffled_label": ("C1", "shuffled labels"),
    "covariance_matched": ("C2", "covariance-matched"),
    "isotropic": ("0.55", "isotropic"),
    "placebo": ("C4", "placebo (concrete − abstract)"),
}
Y_LABEL = "Δ reward gap (agency − communion)"


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def _errorbar(ax: Axes, x: Any, rows: pd.DataFrame, **style: Any) -> None:
    ax.errorbar(
        x, rows.estimate, yerr=[rows.estimate - rows.ci_low, rows.ci_high - rows.estimate], capsize=2, ms=4, **style
    )


def plot_ablation_by_layer(claims: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Per framing: the change of the reward gap when the direction is projected out at each grid layer (answer and
    readout positions; 95 % CI over RMs), each null kind's 95 % band at every layer (bars beside it), and the
    every-position edit where it was measured (open marks)."""
    rows = claims[claims.edit == "ablate"]
    framings = sorted(rows["framing"].unique())
    fig = Figure(figsize=(5.5 * len(framings), 4))
    layers = sorted(rows["layer"].unique())
    step = (max(layers) - min(layers)) / max(1, len(layers)) if len(layers) > 1 else 1.0
    for i, framing in enumerate(framings):
        ax = fig.add_subplot(1, len(framings), i + 1)
        answer = rows[(rows.framing == framing) & (rows.positions == "answer")].sort_values("layer")
        for j, (kind, (colour, label)) in enumerate(NULL_STYLE.items()):
            offset = (j - 1.5) * 0.12 * step
            ax.vlines(
                answer.layer + offset,
                answer[f"{kind}_low"],
                answer[f"{kind}_high"],
                color=colour,
                lw=4,
                alpha=0.55,
                label=f"{label} 95 %",
            )
        _errorbar(ax, answer.layer, answer, fmt="o-", color="k", label="base direction (answer + readout)")
        every = rows[(rows.framing == framing) & (rows.positions == "all")].sort_values("layer")
        if len(every):
            _errorbar(ax, every.layer + 0.3 * step, every, fmt="s", mfc="none", color="C3", label="every position")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("ablated layer (resid_post)")
        ax.set_ylabel(Y_LABEL)
        ax.set_title(f"{title} — {framing} prompts", fontsize=10)
        ax.legend(fontsize=6)
    return _save(fig, path)


def plot_steering(claims: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Per framing: the change of the reward gap against the dose (in units of the agency − communion class-mean
    separation at the layer), with its 95 % CI over RMs and the band of each null kind steered by the same dose."""
    rows = claims[claims.edit == "steer"].sort_values("dose")
    framings = sorted(rows["framing"].unique())
    fig = Figure(figsize=(5.5 * len(framings), 4))
    for i, framing in enumerate(framings):
        ax = fig.add_subplot(1, len(framings), i + 1)
        part = rows[rows.framing == framing]
        for kind, (colour, label) in NULL_STYLE.items():
            if part[f"{kind}_n"].max() > 0:
                ax.fill_between(
                    part.dose, part[f"{kind}_low"], part[f"{kind}_high"], color=colour, alpha=0.2, label=f"{label} 95 %"
                )
        ax.fill_between(part.dose, part.ci_low, part.ci_high, color="k", alpha=0.15)
        ax.plot(part.dose, part.estimate, "o-", color="k", ms=3, label="base direction (95 % CI over RMs)")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("dose (× agency − communion mean separation)")
        ax.set_ylabel(Y_LABEL)
        ax.set_title(f"{title} — {framing} prompts", fontsize=10)
        ax.legend(fontsize=6)
    fig.suptitle("Steering dose-response at the answer and readout positions", fontsize=10)
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
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("training step")
        ax.set_title(label, fontsize=9)
    fig.suptitle(f"Durability through RM training — {title}")
    return _save(fig, path)


def plot_gap_paths(attribution: pd.DataFrame, patching: pd.DataFrame | None, path: str | Path, title: str = "") -> Path:
    """Per framing: the reward gap built up along the residual stream (cumulative direct attribution after each
    component, mean over RMs with its 95 % CI) and, when `patching` is given, the change of the gap when a layer's
    readout residual is patched from the base LM (95 % CI over RMs), beside the unpatched gap."""
    framings = sorted(attribution["framing"].unique())
    columns = 1 if patching is None else 2
    fig = Figure(figsize=(5.5 * columns, 3.8 * len(framings)))
    for i, framing in enumerate(framings):
        built = attribution[attribution.framing == framing].sort_values("order")
        ax = fig.add_subplot(len(framings), columns, columns * i + 1)
        ax.fill_between(built.order, built.ci_low, built.ci_high, color="C0", alpha=0.2)
        ax.plot(built.order, built.estimate, color="C0", lw=1)
        ticks = built[built.component.str.startswith("mlp")]
        ax.set_xticks(ticks.order, ticks.component.str.removeprefix("mlp"), fontsize=6)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("layer (after its MLP)")
        ax.set_ylabel("cumulative reward gap")
        ax.set_title(f"{title} — {framing}: where the gap forms", fontsize=9)
        if patching is None:
            continue
        part = patching[patching.framing == framing].sort_values("layer")
        ax = fig.add_subplot(len(framings), columns, columns * i + 2)
        _errorbar(ax, part.layer, part, fmt="o-", color="k", label="Δ gap, base residual patched in")
        ax.axhline(0, color="k", lw=0.5)
        ax.axhline(-float(part.gap.iloc[0]), color="C3", ls="--", lw=1, label="− unpatched gap (all removed)")
        ax.set_xlabel("patched layer (resid_post at the readout token)")
        ax.set_ylabel(Y_LABEL)
        ax.set_title(f"{title} — {framing}: patching base → RM", fontsize=9)
        ax.legend(fontsize=6)
    return _save(fig, path)
