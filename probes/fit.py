"""Per-layer probes with nested word-grouped cross-validation, lexical controls, a word-level permutation
null, a max-over-layers null and word bootstrap CIs.

Unit of analysis: the word. Outer folds are grouped by word (StratifiedGroupKFold), so every held-out score
comes from a probe that never saw that word; the scaler, the lexical residualisation and logistic's C are
fitted inside each training fold, C by an inner cross-validation over that fold's words only
(`probes.linear`). Per layer and method, three probes on the same folds:

- controlled (the headline columns, when the data carry covariates and `control` is on): the covariates
  (`probes.controls`: the word's Zipf frequency and token length) regressed out of the activations inside
  each training fold, the held-out fold mapped the same way;
- raw (`raw_*`): the activations as they are (its permutation null only with `raw_null`: the null of the
  controlled probe differs from it by two of d dimensions, and refitting it would double the run time);
- lexical (`lexical_*`): the same method on the covariates alone — what frequency and length decode by
  themselves (one value per method, repeated on every layer).

Without covariates (or with `control=False`) the headline is the raw probe, `control` reads "none" and the
lexical columns are NaN. `best_layer` picks the layer with the best headline AUC, so by default the
controlled one. Columns, for the headline (and likewise with `raw_` / `lexical_`):

- auc / acc: AUC and accuracy (threshold 0 of the decision value) of the pooled out-of-fold scores;
- auc_lo, auc_hi: percentile bootstrap CI of that AUC, resampling words with replacement within class;
- null_auc_mean, null_auc_q95, p_perm: the same cross-validated AUC with the word labels permuted across
  words (n_perm times, same folds, the whole procedure including the nested choice of C repeated);
  p = (1 + #{null >= auc}) / (1 + n_perm), one-sided. Under the null, grouped CV scores tend to fall
  *below* 0.5 when words are strongly structured (held-out and training folds hold complementary label
  shares), so compare with the null band rather than with 0.5;
- null_max_q95, p_max: the max-over-layers null. Each permutation is shared by every layer, and its null
  AUC maximised over layers; p_max = (1 + #{max null >= auc}) / (1 + n_perm). At the best layer this is the
  p-value of "the best layer decodes above chance" with the choice of the layer included (elsewhere a
  family-wise adjusted p, Westfall–Young max-T);
- c_reg: logistic's C for the all-data probe (NaN for the other methods); control: what was regressed out;
- the Direction: the normalised weight on x of the headline probe fit on all examples, in the raw residual
  frame (for a controlled probe, fit on the residualised activations).

>>> from probes.data import planted
>>> data, u = planted(n_words=60, per_word=5, n_layers=3, d_model=24, layer=2, seed=0)
>>> res = fit_probes(data, ProbeConfig(methods=("diff_means",), n_perm=20, n_boot=100), progress=False)
>>> res.best_layer("diff_means"), float(res.table.auc.iloc[2]) > 0.9, float(res.table.p_max.iloc[2])
(2, True, 0.047619047619047616)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.progress import track

from interp._util.errors import UserError
from interp._util.runinfo import versions
from interp.causal.directions import Direction
from interp.hooks.site import Site
from interp.stats.bootstrap import bootstrap_weights
from probes.data import ProbeData
from probes.layer import Layer, LayerFit, rank_auc
from probes.linear import DEFAULT_CS, METHODS, fit_with_perms

STATS = ("auc", "auc_lo", "auc_hi", "acc", "null_auc_mean", "null_auc_q95", "p_perm")
MAX_NULL = ("null_max_q95", "p_max")
COLUMNS = (
    "model",
    "layer",
    "method",
    *STATS,
    *MAX_NULL,
    "c_reg",
    "control",
    *(f"raw_{k}" for k in (*STATS, *MAX_NULL)),
    *(f"lexical_{k}" for k in STATS),
    "n_examples",
    "n_words",
)


@dataclass(frozen=True)
class FitConfig:
    """The probe methods, outer folds and logistic's C grid; shared by probes and persistence."""

    methods: tuple[str, ...] = METHODS
    n_splits: int = 5
    Cs: tuple[float, ...] = DEFAULT_CS

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise UserError(f"Unknown probe method(s) {bad or '(none)'}; use some of {METHODS}.")


@dataclass(frozen=True)
class ProbeConfig(FitConfig):
    """What to fit and how many resamples; `seed` drives folds, permutations and bootstrap. `control`: regress
    the data's covariates (if it has any) out inside each training fold and make that probe the headline.
    `raw_null`: refit the raw probe under the permutations too when it is not the headline (the raw_null_*,
    raw_p_perm and raw_p_max columns; about doubles the run time), else those columns are NaN."""

    n_perm: int = 100
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    max_iter: int = 500
    tol: float = 1e-4
    control: bool = True
    raw_null: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_perm < 0 or self.n_boot < 0 or not 0 < self.ci < 1:
            raise UserError("n_perm and n_boot must be >= 0 and ci strictly between 0 and 1.")


@dataclass(frozen=True)
class ProbeResult:
    """The tidy table (one row per layer × method), the all-data Direction of each, and what produced them."""

    table: pd.DataFrame
    directions: dict[tuple[str, int], Direction] = field(repr=False)
    config: ProbeConfig
    provenance: dict[str, str] = field(default_factory=dict)

    def best_layer(self, method: str, raw: bool = False) -> int:
        """The layer with the highest held-out headline AUC for `method` (the controlled probe's when the fit
        had controls), or the raw probe's with `raw=True`; its `p_max` (`raw_p_max`) is the claim's p-value."""
        rows = self.table[self.table.method == method]
        if rows.empty:
            raise UserError(f"No probes were fit with method {method!r}; fitted: {sorted(set(self.table.method))}.")
        return int(rows.loc[rows["raw_auc" if raw else "auc"].idxmax(), "layer"])

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


def fit_probes(data: ProbeData, config: ProbeConfig = ProbeConfig(), *, progress: bool = True) -> ProbeResult:
    """Fit every configured probe at every stored layer of `data`; see the module docstring."""
    folds = data.fold_ids(config.n_splits, config.seed)
    perms = data.permuted_labels(config.n_perm, config.seed + 1)
    boot = bootstrap_weights(data.word_index, config.n_boot, config.seed + 2, within=data.labels).T  # words in class
    covariates = data.covariates if config.control else None
    control = "none" if covariates is None else "+".join(data.covariate_names)
    nan_stats = dict.fromkeys(STATS, math.nan)
    lexical = {m: nan_stats for m in config.methods}
    if covariates is not None:
        lex_layer = Layer.prepare(covariates, folds)
        lexical = {m: _probe(lex_layer, m, data, folds, perms, boot, config)[0] for m in config.methods}
    rows: list[dict[str, object]] = []
    weights: list[torch.Tensor] = []
    nulls: dict[tuple[str, str], list[np.ndarray]] = {}
    for j in track(range(data.n_layers), description="probes", disable=not progress):
        x = data.layer(j)
        raw = Layer.prepare(x, folds)
        controlled = None if covariates is None else Layer.prepare(x, folds, covariates)
        for method in config.methods:
            raw_perms = perms if controlled is None or config.raw_null else perms[:, :0]
            raw_row, raw_null, raw_fit = _probe(raw, method, data, folds, raw_perms, boot, config)
            row, null, fit = (raw_row, raw_null, raw_fit)
            if controlled is not None:
                row, null, fit = _probe(controlled, method, data, folds, perms, boot, config)
            nulls.setdefault((method, ""), []).append(null)
            nulls.setdefault((method, "raw_"), []).append(raw_null)
            weights.append(fit.direction())
            rows.append(
                {
                    "model": data.model_name,
                    "layer": data.layers[j],
                    "method": method,
                    **row,
                    "c_reg": float(fit.c_reg[0]),
                    "control": control,
                    **{f"raw_{k}": raw_row[k] for k in STATS},
                    **{f"lexical_{k}": v for k, v in lexical[method].items()},
                    "n_examples": data.n_examples,
                    "n_words": data.n_words,
                }
            )
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for (method, prefix), per_layer in nulls.items():
        at = table.method == method
        table.loc[at, [prefix + k for k in MAX_NULL]] = _max_null(table.loc[at, prefix + "auc"].to_numpy(), per_layer)
    directions = {
        (str(r.method), int(r.layer)): Direction(
            w,
            Site.parse(f"L{r.layer}.{data.point}.{data.position}"),
            method=str(r.method),
            model_fingerprint=data.model_fingerprint,
            data_hash=data.data_hash,
            lineage_id=data.lineage_id,
            metrics={k: float(getattr(r, k)) for k in ("auc", "acc", "p_perm", "p_max", "c_reg", "raw_auc")},
        )
        for r, w in zip(table.itertuples(), weights, strict=True)
    }
    provenance = {
        "model_name": data.model_name,
        "model_fingerprint": data.model_fingerprint,
        "lineage_id": data.lineage_id,
        "data_hash": data.data_hash,
        "inputs_id": data.inputs_id,
        "control": control,
    }
    return ProbeResult(table, directions, config, provenance)


def _probe(
    layer: Layer,
    method: str,
    data: ProbeData,
    folds: np.ndarray,
    perms: np.ndarray,
    boot: np.ndarray,
    config: ProbeConfig,
) -> tuple[dict[str, float], np.ndarray, LayerFit]:
    """One probe with its permutation null: the summary row, the null AUCs (n_perm,) and the fit."""
    fit = fit_with_perms(layer, data.labels, perms, method, Cs=config.Cs, max_iter=config.max_iter, tol=config.tol)
    scores = fit.scores(layer.x, folds, layer.covariates).numpy().astype(np.float64)
    null = rank_auc(scores[:, 1:], perms) if perms.shape[1] else np.zeros(0)
    return _summarise(scores[:, 0], null, boot, data, config.ci), null, fit


def _summarise(scores: np.ndarray, null: np.ndarray, boot: np.ndarray, data: ProbeData, ci: float) -> dict[str, float]:
    """AUC, accuracy, bootstrap CI and permutation null of one probe's cross-validated scores."""
    auc = float(rank_auc(scores[:, None], data.labels[:, None])[0])
    row = {"auc": auc, "acc": float(((scores > 0) == data.labels).mean())}
    row.update(auc_lo=math.nan, auc_hi=math.nan, null_auc_mean=math.nan, null_auc_q95=math.nan, p_perm=math.nan)
    if boot.shape[1]:
        aucs = weighted_auc(scores, data.labels, boot)
        tail = (1 - ci) / 2
        row.update(auc_lo=float(np.quantile(aucs, tail)), auc_hi=float(np.quantile(aucs, 1 - tail)))
    if null.size:
        row.update(
            null_auc_mean=float(null.mean()),
            null_auc_q95=float(np.quantile(null, 0.95)),
            p_perm=float((1 + (null >= auc).sum()) / (1 + null.size)),
        )
    return row


def _max_null(aucs: np.ndarray, per_layer: list[np.ndarray]) -> np.ndarray:
    """(n_layers, 2): the 95th percentile of the max-over-layers null and each layer's p against it."""
    null = np.stack(per_layer)
    if not null.shape[1]:
        return np.full((len(aucs), 2), math.nan)
    top = null.max(0)
    p = (1 + (top[None, :] >= aucs[:, None]).sum(1)) / (1 + top.size)
    return np.column_stack([np.full(len(aucs), np.quantile(top, 0.95)), p])


def directions_for(result: ProbeResult, method: str, layers: Sequence[int] | None = None) -> list[Direction]:
    """The fitted Directions of one method, in layer order (all layers unless `layers` is given)."""
    keys = sorted(k for k in result.directions if k[0] == method and (layers is None or k[1] in layers))
    if not keys:
        raise UserError(f"No directions for method {method!r}; fitted: {sorted({k[0] for k in result.directions})}.")
    return [result.directions[k] for k in keys]
