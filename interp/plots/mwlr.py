"""The implicit-reward figure (the paper's Figure 3): the words q prefers most and least over p, by MWLR."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_mwlr(summary: pd.DataFrame, path: Path, p_name: str, q_name: str, top: int = 15) -> Path:
    """Horizontal bars of mean MWLR (± standard error over prompts) for the `top` highest and lowest words.

    `summary` is `interp.sweep.implicit.mwlr_summary` output, sorted by `mean_mwlr` descending.
    """
    k = min(top, len(summary) // 2) if len(summary) > 1 else len(summary)
    shown = pd.concat([summary.head(k), summary.tail(k)]).drop_duplicates("word") if k else summary
    shown = shown.iloc[::-1]
    y = np.arange(len(shown))
    colours = np.where(shown["mean_mwlr"] >= 0, "tab:blue", "tab:orange")
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.22 * len(shown)))
    ax.barh(y, shown["mean_mwlr"], xerr=shown["se"].fillna(0), color=colours, capsize=2)
    ax.set_yticks(y, shown["word"])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"mean MWLR over prompts (> 0: preferred by {q_name})")
    ax.set_title(
        f"Implicit reward: {q_name} (q) vs {p_name} (p)\nMWLR = ½(p+q)(log q − log p); bars ± SE over prompts",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
