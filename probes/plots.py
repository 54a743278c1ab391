"""Figures for probes and persistence, drawn from the tidy tables (matplotlib's Agg canvas, PNG files).

- `plot_probe_auc`: held-out AUC by layer per model (e.g. base vs RM) with word-bootstrap CI shading and
  the permutation-null band (null mean to 95th percentile); for lexically controlled fits also the raw
  probe's AUC (dashed) and the frequency-and-length baseline (dotted);
- `plot_persistence_heatmap`: layer × checkpoint heatmap of the cosine with the base direction;
- `plot_transfer`: each model's own held-out AUC and the cross-model transfer AUC by layer, with the
  shuffled-label transfer band.

>>> import pandas as pd, tempfile, pathlib
>>> t = pd.DataFrame({"model": "m", "layer": [0, 1], "method": "lda", "auc": [0.5, 0.9], "auc_lo": [0.4, 0.8],
...                   "auc_hi": [0.6, 1.0], "null_auc_mean": 0.5, "null_auc_q95": 0.6})
>>> plot_probe_auc(t, pathlib.Path(tempfile.mkdtemp()) / "auc.png", method="lda").suffix
'.png'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from interp._util.errors import UserError


def _rows(table: pd.DataFrame, method: str | None, needed: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise UserError(f"The table lacks column(s) {missing}; pass the table the matching fit produced.")
    rows = table if method is None else table[table["method"] == method]
    if rows.empty:
        raise UserError(f"The table has no rows for method {method!r}; it has {sorted(set(table['method']))}.")
    return rows.sort_values("layer")


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    return out


def plot_probe_auc(table: pd.DataFrame, path: str | Path, method: str = "logistic", title: str = "") -> Path:
    """AUC by layer, one line per `model` (concatenate the base's and the RM's probe tables)."""
    needed = ("model", "layer", "method", "auc", "auc_lo", "auc_hi", "null_auc_mean", "null_auc_q95")
    rows = _rows(table, method, needed)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for i, (model, g) in enumerate(rows.groupby("model", sort=False)):
        color = f"C{i}"
        controlled = "control" in g and bool((g.control != "none").all())
        label = f"{model or 'model'} (held-out AUC{', controlled' if controlled else ''})"
        ax.plot(g.layer, g.auc, marker="o", ms=3, color=color, label=label)
        ax.fill_between(g.layer, g.auc_lo, g.auc_hi, color=color, alpha=0.2, lw=0)
        ax.fill_between(
            g.layer,
            g.null_auc_mean,
            g.null_auc_q95,
            color=color,
            alpha=0.15,
            hatch="//",
            lw=0,
            label=f"{model or 'model'} shuffled-label null (mean–95%)",
        )
        if controlled:
            ax.plot(g.layer, g.raw_auc, ls="--", lw=0.9, color=color, label=f"{model or 'model'} raw (no control)")
            ax.axhline(g.lexical_auc.iloc[0], ls=":", lw=1.2, color=color, label=f"{model or 'model'} lexical only")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="layer",
        ylabel="AUC (grouped by word)",
        ylim=(0.3, 1.02),
        title=title or f"{method} probe: held-out AUC by layer (shading: 95% word-bootstrap CI)",
    )
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_persistence_heatmap(table: pd.DataFrame, path: str | Path, method: str | None = None, title: str = "") -> Path:
    """Heatmap of cos(base direction, checkpoint direction): layers down, checkpoints (in step order) across."""
    rows = _rows(table, method, ("layer", "step", "checkpoint", "cos", "cos_random_q95"))
    grid = rows.pivot_table(index="layer", columns="step", values="cos")
    names = rows.drop_duplicates("step").set_index("step").loc[grid.columns, "checkpoint"]
    fig = Figure(figsize=(1.2 + 0.6 * grid.shape[1], 1.5 + 0.18 * grid.shape[0]))
    ax = fig.add_subplot()
    im = ax.imshow(grid.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(np.arange(grid.shape[1]), [str(n) for n in names], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(np.arange(grid.shape[0]), [str(v) for v in grid.index], fontsize=6)
    ax.set(xlabel="checkpoint", ylabel="layer")
    random_q95 = float(rows.cos_random_q95.iloc[0])
    ax.set_title(title or f"cosine with the base direction (random |cos| 95%: {random_q95:.3f})", fontsize=9)
    fig.colorbar(im, ax=ax, label="cosine")
    return _save(fig, path)


def plot_transfer(
    table: pd.DataFrame,
    path: str | Path,
    method: str = "logistic",
    names: tuple[str, str] = ("base", "RM"),
    title: str = "",
) -> Path:
    """Own and transferred held-out AUC (left) and accuracy (right) by layer from `Persistence.directions`."""
    needed = ("layer", "method", "auc_a", "auc_b", "auc_a_to_b", "auc_b_to_a", "transfer_null_q95", "acc_a_to_b")
    rows = _rows(table, method, needed)
    a, b = names
    fig = Figure(figsize=(11, 4))
    for ax, metric in zip(fig.subplots(1, 2), ("auc", "acc"), strict=True):
        ax.plot(rows.layer, rows[f"{metric}_a"], color="C0", label=f"{a} probe on {a}")
        ax.plot(rows.layer, rows[f"{metric}_b"], color="C1", label=f"{b} probe on {b}")
        ax.plot(rows.layer, rows[f"{metric}_a_to_b"], color="C0", ls="--", label=f"{a} probe on {b}")
        ax.plot(rows.layer, rows[f"{metric}_b_to_a"], color="C1", ls="--", label=f"{b} probe on {a}")
        if metric == "auc":
            ax.fill_between(rows.layer, 0.5, rows.transfer_null_q95, color="grey", alpha=0.25, lw=0,
                            label=f"shuffled-label {a}→{b} (95%)")  # fmt: skip
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        label = "AUC" if metric == "auc" else "accuracy (each probe's own threshold)"
        ax.set(xlabel="layer", ylabel=f"held-out {label}", ylim=(0.3, 1.02))
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title or f"{method} probe transfer between {a} and {b} (folds grouped by word)")
    return _save(fig, path)
