"""Per-layer probes with grouped cross-validation, a word-level permutation null and word bootstrap CIs.

Unit of analysis: the word. Folds are grouped by word (StratifiedGroupKFold), so every held-out score comes
from a probe that never saw that word. For each layer and method:

- auc / acc: AUC and accuracy (threshold 0 of the decision value) of the pooled out-of-fold scores;
- auc_lo, auc_hi: percentile bootstrap CI of that AUC, resampling words with replacement within class;
- null_auc_mean, null_auc_q95, p_perm: the same cross-validated AUC with the word labels permuted across
  words (n_perm times, same folds, the whole procedure including logistic's choice of C repeated);
  p = (1 + #{null >= auc}) / (1 + n_perm), one-sided. Under the null, grouped CV scores tend to fall
  *below* 0.5 when words are strongly structured (held-out and training folds hold complementary label
  shares), so compare with the null band rather than with 0.5;
- the Direction: the normalised weight vector of the probe fit on all examples, in the raw residual frame.

>>> from probes.data import planted
>>> data, u = planted(n_words=60, per_word=5, n_layers=3, d_model=24, layer=2, seed=0)
>>> res = fit_probes(data, ProbeConfig(methods=("diff_means",), n_perm=20, n_boot=100), progress=False)
>>> res.best_layer("diff_means"), float(res.table.auc.iloc[2]) > 0.9
(2, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import track

from interp.directions import Direction
from interp.errors import UserError
from interp.runinfo import versions
from probes.data import ProbeData
from probes.linear import DEFAULT_CS, METHODS, Layer, fit_with_perms, rank_auc

COLUMNS = (
    "model",
    "layer",
    "method",
    "auc",
    "auc_lo",
    "auc_hi",
    "acc",
    "null_auc_mean",
    "null_auc_q95",
    "p_perm",
    "c_reg",
    "n_examples",
    "n_words",
)


@dataclass(frozen=True)
class ProbeConfig:
    """What to fit and how many resamples; `seed` drives folds, permutations and bootstrap."""

    methods: tuple[str, ...] = METHODS
    n_splits: int = 5
    Cs: tuple[float, ...] = DEFAULT_CS
    n_perm: int = 100
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    max_iter: int = 500
    tol: float = 1e-4

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise UserError(f"Unknown probe method(s) {bad or '(none)'}; use some of {METHODS}.")
        if self.n_perm < 0 or self.n_boot < 0 or not 0 < self.ci < 1:
            raise UserError("n_perm and n_boot must be >= 0 and ci strictly between 0 and 1.")


@dataclass(frozen=True)
class ProbeResult:
    """The tidy table (one row per layer × method), the all-data Direction of each, and what produced them."""

    table: pd.DataFrame
    directions: dict[tuple[str, int], Direction] = field(repr=False)
    config: ProbeConfig
    provenance: dict[str, str] = field(default_factory=dict)

    def best_layer(self, method: str) -> int:
        """The layer with the highest held-out AUC for `method`."""
        rows = self.table[self.table.method == method]
        if rows.empty:
            raise UserError(f"No probes were fit with method {method!r}; fitted: {sorted(set(self.table.method))}.")
        return int(rows.loc[rows.auc.idxmax(), "layer"])

    def save(self, folder: str | Path) -> Path:
        """Write probes.csv, config.json (config, provenance, versions) and directions/<method>_L<layer>.*."""
        out = Path(folder)
        (out / "directions").mkdir(parents=True, exist_ok=True)
        self.table.to_csv(out / "probes.csv", index=False)
        meta = {"config": asdict(self.config), "provenance": self.provenance, "versions": versions()}
        (out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        for (method, layer), direction in self.directions.items():
            direction.save(out / "directions" / f"{method}_L{layer}")
        return out


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of one score vector under each column of example weights (n, B), ties counted half.

    With integer weights this is the AUC of the dataset with each example repeated weight times.
    """
    order = np.argsort(scores, kind="stable")
    s, y, w = scores[order], labels[order].astype(bool), weights[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    neg = np.add.reduceat(w * ~y[:, None], starts, axis=0)
    pos = np.add.reduceat(w * y[:, None], starts, axis=0)
    below = np.cumsum(neg, axis=0) - neg
    return (pos * (below + 0.5 * neg)).sum(0) / (pos.sum(0) * neg.sum(0))


def bootstrap_weights(data: ProbeData, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_examples, n_boot) multiplicities of a word bootstrap: words drawn with replacement within class."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(data.n_words * n_boot, dtype=np.int64)
    for c in (0, 1):
        idx = np.flatnonzero(data.word_labels == c)
        draws = idx[rng.integers(0, idx.size, size=(idx.size, n_boot))]
        counts += np.bincount((draws * n_boot + np.arange(n_boot)).ravel(), minlength=counts.size)
    return counts.reshape(data.n_words, n_boot)[data.word_index].astype(np.float32)


def fit_probes(data: ProbeData, config: ProbeConfig = ProbeConfig(), *, progress: bool = True) -> ProbeResult:
    """Fit every configured probe at every stored layer of `data`; see the module docstring."""
    folds = data.fold_ids(config.n_splits, config.seed)
    perms = data.permuted_labels(config.n_perm, config.seed + 1)
    boot = bootstrap_weights(data, config.n_boot, config.seed + 2)
    rows: list[dict[str, object]] = []
    directions: dict[tuple[str, int], Direction] = {}
    for j in track(range(data.n_layers), description="probes", disable=not progress):
        layer = Layer.prepare(data.layer(j), folds)
        for method in config.methods:
            fit = fit_with_perms(
                layer, data.labels, perms, method, Cs=config.Cs, max_iter=config.max_iter, tol=config.tol
            )
            scores = fit.scores(layer.x, folds).numpy()
            row = _summarise(scores[:, 0], scores[:, 1:], perms, boot, data, config.ci)
            row["c_reg"] = float(fit.c_reg[0])
            rows.append({"model": data.model_name, "layer": data.layers[j], "method": method, **row})
            directions[(method, data.layers[j])] = Direction(
                fit.direction(),
                layer=data.layers[j],
                point=data.point,
                position=data.position,
                method=method,
                model_fingerprint=data.model_fingerprint,
                data_hash=data.data_hash,
                lineage_id=data.lineage_id,
                metrics={k: row[k] for k in ("auc", "acc", "p_perm", "c_reg")},
            )
    provenance = {
        "model_name": data.model_name,
        "model_fingerprint": data.model_fingerprint,
        "lineage_id": data.lineage_id,
        "data_hash": data.data_hash,
        "inputs_id": data.inputs_id,
    }
    return ProbeResult(pd.DataFrame(rows, columns=list(COLUMNS)), directions, config, provenance)


def _summarise(
    scores: np.ndarray,
    null_scores: np.ndarray,
    perms: np.ndarray,
    boot: np.ndarray,
    data: ProbeData,
    ci: float,
) -> dict[str, float]:
    """AUC, accuracy, bootstrap CI and permutation null of one probe's cross-validated scores."""
    scores = scores.astype(np.float64)
    auc = float(rank_auc(scores[:, None], data.labels[:, None])[0])
    nan = math.nan
    row = {
        "auc": auc,
        "acc": float(((scores > 0) == data.labels).mean()),
        "n_examples": data.n_examples,
        "n_words": data.n_words,
        "auc_lo": nan,
        "auc_hi": nan,
        "null_auc_mean": nan,
        "null_auc_q95": nan,
        "p_perm": nan,
    }
    if boot.shape[1]:
        aucs = weighted_auc(scores, data.labels, boot)
        tail = (1 - ci) / 2
        row.update(auc_lo=float(np.quantile(aucs, tail)), auc_hi=float(np.quantile(aucs, 1 - tail)))
    if null_scores.shape[1]:
        null = rank_auc(null_scores, perms)
        row.update(
            null_auc_mean=float(null.mean()),
            null_auc_q95=float(np.quantile(null, 0.95)),
            p_perm=float((1 + (null >= auc).sum()) / (1 + null.size)),
        )
    return row


def directions_for(result: ProbeResult, method: str, layers: Sequence[int] | None = None) -> list[Direction]:
    """The fitted Directions of one method, in layer order (all layers unless `layers` is given)."""
    keys = sorted(k for k in result.directions if k[0] == method and (layers is None or k[1] in layers))
    if not keys:
        raise UserError(f"No directions for method {method!r}; fitted: {sorted({k[0] for k in result.directions})}.")
    return [result.directions[k] for k in keys]
