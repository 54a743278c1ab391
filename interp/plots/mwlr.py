"""The implicit-reward figure (the paper's Figure 3): the words q prefers most and least over p, by MWLR."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch


def plot_mwlr(summary: pd.DataFrame, path: Path, p_name: str, q_name: str, top: int = 15) -> Path:
    """Horizontal bars of mean MWLR (± standard error over prompts) for the `top` highest and lowest words.

    `summary` is `interp.sweep.implicit.mwlr_summary` output, sorted by `mean_mwlr` descending; with a
    `category` column, bars are coloured by category, else by sign.
    """
    k = min(top, len(summary) // 2) if len(summary) > 1 else len(summary)
    shown = pd.concat([summary.head(k), summary.tail(k)]).drop_duplicates("word") if k else summary
    shown = shown.iloc[::-1]
    y = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(6, 1.2 + 0.22 * len(shown)))
    if "category" in shown:  # one colour per lexicon category, so the categories' sides can be seen
        groups = shown["category"].fillna("other")
        palette = {c: plt.get_cmap("tab10")(i) for i, c in enumerate(sorted(groups.unique()))}
        colours = [palette[c] for c in groups]
        ax.legend(handles=[Patch(color=v, label=k) for k, v in palette.items()], frameon=False, loc="lower right")
    else:
        colours = list(np.where(shown["mean_mwlr"] >= 0, "tab:blue", "tab:orange"))
    largest = float(shown["mean_mwlr"].abs().max())
    exponent = int(np.floor(np.log10(largest))) if largest > 0 else 0
    scale = 10.0**exponent
    ax.barh(y, shown["mean_mwlr"] / scale, xerr=shown["se"].fillna(0) / scale, color=colours, capsize=2)
    ax.set_yticks(y, [w if w.isprintable() else repr(w) for w in shown["word"].astype(str)])
    ax.axvline(0, color="black", linewidth=0.8)
    unit = f" (×1e{exponent})" if exponent else ""
    ax.set_xlabel(f"mean MWLR over prompts{unit}; > 0: preferred by q")
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
