"""Behavioural figures: mean median rank by family × category × framing with bootstrap CIs (Figure 1)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_median_ranks(bootstrap: pd.DataFrame, rm_means: pd.DataFrame, path: Path, subtitle: str = "") -> Path:
    """One panel per framing; per category a point and CI per family, and a faint dot per RM.

    `bootstrap` is `tests.bootstrap_cis` output (rows with quantity 'mean' are used); `rm_means` is
    `tests.rm_means` output. Lower rank = higher reward.
    """
    means = bootstrap[bootstrap["quantity"] == "mean"]
    framings = sorted(means["framing"].unique(), key=lambda f: (f != "positive", f))
    cats = sorted(means["category"].unique())
    fams = sorted(means["family"].unique())
    offsets = np.linspace(-0.2, 0.2, len(fams)) if len(fams) > 1 else np.zeros(1)
    fig, axes = plt.subplots(
        1, len(framings), figsize=(2.2 + 1.3 * len(cats) * len(framings), 4), sharey=True, squeeze=False
    )
    colours = plt.get_cmap("tab10")
    for ax, framing in zip(axes[0], framings, strict=True):
        for f, fam in enumerate(fams):
            cell = means[(means["framing"] == framing) & (means["family"] == fam)].set_index("category").loc[cats]
            x = np.arange(len(cats)) + offsets[f]
            err = np.vstack([cell["estimate"] - cell["ci_low"], cell["ci_high"] - cell["estimate"]])
            ax.errorbar(x, cell["estimate"], yerr=err, fmt="o", capsize=4, color=colours(f), label=fam)
            dots = rm_means[(rm_means["framing"] == framing) & (rm_means["family"] == fam)]
            dx = dots["category"].map({c: i for i, c in enumerate(cats)}) + offsets[f] + 0.06
            ax.scatter(dx, dots["mean_median_rank"], s=10, alpha=0.4, color=colours(f))
        ax.set_xticks(np.arange(len(cats)), cats, rotation=30 if len(cats) > 3 else 0)
        ax.set_title(f"{framing} prompts")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("mean median rank (1 = highest reward)")
    axes[0][-1].legend(title="RM family", frameon=False)
    fig.suptitle("Median rank of category words; 95% CI resampling RMs and prompts\n" + subtitle, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
