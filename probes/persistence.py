"""Persistence of agency/communion directions between members of one lineage (base LM → RM → checkpoints).

Two ProbeData on the same inputs (same words, labels, layers, site) from models of one lineage are compared
layer by layer, in the raw residual frame both models share. Unit of analysis: the word (grouped folds,
word-level label shuffles). Beside every number sits its baseline:

- cos: cosine of the two models' all-data probe directions. Baselines: `cos_random_q95`, the exact
  95th percentile of |cos| with a uniformly random direction in R^d; `cos_shuffled_mean/_q95`, the cosine
  of the two models' directions fit to the *same* shuffled word labels (n_null shuffles) — how alike any two
  directions fit the same way in these two nearly identical residual streams are, whatever the labels.
- auc_a_to_b / auc_b_to_a (and acc_*): model A's cross-fitted probes (each fold's probe scores only the
  words it never saw) applied to model B's activations, and the reverse; auc_a, auc_b are each model's own
  held-out AUC. Baseline `transfer_null_q95`: the 95th percentile of A→B AUC for probes fit to shuffled labels.
- subspaces (per layer, method-free): the concept subspace of a model is the span of the top-k principal
  directions of its per-word mean activations (grand-mean centred, every word weighted equally) — a PCA of
  the word-conditional means, i.e. where this lexicon's words differ at that layer, the class split being
  one such difference. Reported: principal angles between A's and B's subspaces as `subspace_overlap`
  (mean cos² of the k angles, 1 = identical span) and the smallest/largest angle; baseline
  `subspace_overlap_random_q95` from n_null pairs of random k-dim subspaces (expected value k/d).
- cka: linear CKA (Kornblith et al. 2019) of the two centred residual streams over examples. Baselines:
  `cka_shuffled_mean`, its exact expectation when B's rows are randomly permuted
  (tr(AᵀA)·tr(BᵀB) / ((n−1)·‖AᵀA‖_F·‖BᵀB‖_F)), and `cka_shuffled_max` over n_cka_shuffle simulated
  permutations.

Raw-frame PCA and CKA weigh each dimension by its variance, so a few high-variance residual dimensions can
dominate both; the random baselines do not remove that shared structure — the shuffled-label ones do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.progress import track

from interp._util.errors import UserError
from interp.causal.directions import check_dims, principal_angles, random_abs_cosine_quantile, random_directions
from probes.data import ProbeData
from probes.fit import FitConfig
from probes.layer import Layer, LayerFit, rank_auc
from probes.linear import METHODS, fit_with_perms


@dataclass(frozen=True)
class PersistenceConfig(FitConfig):
    """Methods, folds, subspace size k and baseline sizes; `seed` drives folds and shuffles."""

    k: int = 3
    n_null: int = 20
    n_cka_shuffle: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k < 1 or self.n_null < 1 or self.n_cka_shuffle < 0:
            raise UserError("Persistence needs k >= 1, n_null >= 1 and n_cka_shuffle >= 0.")


@dataclass(frozen=True)
class Persistence:
    """`directions`: one row per layer × method; `layers`: one row per layer (CKA, subspaces)."""

    directions: pd.DataFrame
    layers: pd.DataFrame
    config: PersistenceConfig

    def save(self, folder: str | Path) -> Path:
        """Write persistence_directions.csv, persistence_layers.csv and persistence_config.json."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.directions.to_csv(out / "persistence_directions.csv", index=False)
        self.layers.to_csv(out / "persistence_layers.csv", index=False)
        (out / "persistence_config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        return out


def check_comparable(a: ProbeData, b: ProbeData) -> None:
    """Raise a UserError unless a and b come from one lineage, share d_model, and cover the same inputs."""
    if a.lineage_id and b.lineage_id:
        if a.lineage_id != b.lineage_id:
            raise UserError(
                f"Models {a.model_name or a.model_fingerprint!r} and {b.model_name or b.model_fingerprint!r} belong "
                f"to different lineages ({a.lineage_id!r} vs {b.lineage_id!r}); compare only a base with its own RM."
            )
    elif a.model_fingerprint != b.model_fingerprint:
        raise UserError("Cannot tell whether the two models share a lineage (a lineage_id is missing); set it.")
    check_dims(a.d_model, b.d_model, "two models' residual streams")
    if a.data_hash != b.data_hash:
        raise UserError(
            "The two activation sets are not on the same inputs (words, labels, layers or site differ); "
            "capture both models on one input set."
        )


def linear_cka(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray) -> float:
    """Linear CKA of two (n, d) representations of the same n examples (columns centred inside).

    >>> x = torch.randn(100, 8)
    >>> round(linear_cka(x, x), 6), round(linear_cka(x, 3 * x @ torch.linalg.qr(torch.randn(8, 8))[0]), 6)
    (1.0, 1.0)
    """
    a, b = _centred(x), _centred(y)
    if a.shape[0] != b.shape[0]:
        raise UserError(f"CKA needs the same examples in both; got {a.shape[0]} and {b.shape[0]} rows.")
    return _cka(a, b, a.T @ a, b.T @ b)


def _centred(x: torch.Tensor | np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    t = torch.as_tensor(x).to(dtype)
    return t - t.mean(0)


def _cka(a: torch.Tensor, b: torch.Tensor, gram_a: torch.Tensor, gram_b: torch.Tensor) -> float:
    return float((a.T @ b).pow(2).sum() / (gram_a.norm() * gram_b.norm()))


def concept_subspace(x: torch.Tensor, word_index: np.ndarray, k: int) -> torch.Tensor:
    """Top-k principal directions (k, d) of the per-word mean activations of x (n, d)."""
    n_words = int(word_index.max()) + 1
    if not 1 <= k <= min(n_words - 1, x.shape[1]):
        raise UserError(
            f"k={k} is more than the data allow: {n_words} words in d={x.shape[1]} give at most "
            f"{min(n_words - 1, x.shape[1])} concept directions."
        )
    idx = torch.from_numpy(word_index)
    sums = torch.zeros(n_words, x.shape[1], dtype=torch.float64).index_add_(0, idx, x.double())
    means = sums / torch.bincount(idx, minlength=n_words)[:, None]
    _, _, vh = torch.linalg.svd(means - means.mean(0), full_matrices=False)
    return vh[:k]


def compare(
    a: ProbeData, b: ProbeData, config: PersistenceConfig = PersistenceConfig(), *, progress: bool = True
) -> Persistence:
    """Compare models a and b layer by layer; see the module docstring for every column."""
    check_comparable(a, b)
    folds = a.fold_ids(config.n_splits, config.seed)
    perms = a.permuted_labels(config.n_null, config.seed + 1)
    rand_q95 = random_abs_cosine_quantile(a.d_model, 0.95)
    rand_overlap = _random_overlap(a.d_model, config.k, config.n_null, config.seed)
    gen = torch.Generator().manual_seed(config.seed + 3)
    rows, layer_rows = [], []
    for j in track(range(a.n_layers), description="persistence", disable=not progress):
        la, lb = Layer.prepare(a.layer(j), folds), Layer.prepare(b.layer(j), folds)
        for method in config.methods:
            fa, fb = (fit_with_perms(lay, a.labels, perms, method, Cs=config.Cs) for lay in (la, lb))
            row = _direction_row(fa, fb, la, lb, a.labels, perms)
            rows.append({"layer": a.layers[j], "method": method, **row, "cos_random_q95": rand_q95})
        layer_rows.append({"layer": a.layers[j], **_layer_row(la, lb, a.word_index, config, gen), **rand_overlap})
    return Persistence(pd.DataFrame(rows), pd.DataFrame(layer_rows), config)


def persistence_along(
    checkpoints: Sequence[ProbeData],
    method: str = "diff_means",
    config: PersistenceConfig = PersistenceConfig(),
    *,
    progress: bool = True,
) -> pd.DataFrame:
    """Layer × checkpoint table of each checkpoint's direction against the first one's (the base).

    One row per (layer, checkpoint) with `step` (position in the list), `checkpoint` (model_name) and the
    direction columns of `compare` (cos with the base direction, its baselines, base → checkpoint transfer).
    """
    if len(checkpoints) < 2:
        raise UserError("persistence_along needs the base and at least one checkpoint.")
    if method not in METHODS:
        raise UserError(f"Unknown probe method {method!r}; use one of {METHODS}.")
    base = checkpoints[0]
    for ckpt in checkpoints[1:]:
        check_comparable(base, ckpt)
    folds = base.fold_ids(config.n_splits, config.seed)
    perms = base.permuted_labels(config.n_null, config.seed + 1)
    rand_q95 = random_abs_cosine_quantile(base.d_model, 0.95)
    rows = []
    for j in track(range(base.n_layers), description="checkpoints", disable=not progress):
        lb = Layer.prepare(base.layer(j), folds)
        fb = fit_with_perms(lb, base.labels, perms, method, Cs=config.Cs)
        for step, ckpt in enumerate(checkpoints):
            lc = Layer.prepare(ckpt.layer(j), folds) if step else lb
            fc = fit_with_perms(lc, base.labels, perms, method, Cs=config.Cs) if step else fb
            row = _direction_row(fb, fc, lb, lc, base.labels, perms)
            rows.append(
                {
                    "layer": base.layers[j],
                    "step": step,
                    "checkpoint": ckpt.model_name or str(step),
                    "method": method,
                    **row,
                    "cos_random_q95": rand_q95,
                }
            )
    return pd.DataFrame(rows)


def _cosines(wa: torch.Tensor, wb: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.cosine_similarity(wa.double(), wb.double(), dim=-1).numpy()


def _direction_row(
    fa: LayerFit, fb: LayerFit, la: Layer, lb: Layer, labels: np.ndarray, perms: np.ndarray
) -> dict[str, float]:
    cos = _cosines(fa.weight[:, -1], fb.weight[:, -1])
    own_a, own_b = fa.scores(la.x, la.fold).numpy(), fb.scores(lb.x, lb.fold).numpy()
    a_on_b, b_on_a = fa.scores(lb.x, la.fold).numpy(), fb.scores(la.x, lb.fold).numpy()
    y = labels[:, None]
    auc = {
        k: float(rank_auc(s[:, :1], y)[0])
        for k, s in (("a", own_a), ("b", own_b), ("a_to_b", a_on_b), ("b_to_a", b_on_a))
    }
    acc = {
        k: float(((s[:, 0] > 0) == labels).mean())
        for k, s in (("a", own_a), ("b", own_b), ("a_to_b", a_on_b), ("b_to_a", b_on_a))
    }
    return {
        "cos": float(cos[0]),
        "cos_shuffled_mean": float(cos[1:].mean()),
        "cos_shuffled_q95": float(np.quantile(cos[1:], 0.95)),
        **{f"auc_{k}": v for k, v in auc.items()},
        **{f"acc_{k}": v for k, v in acc.items()},
        "transfer_null_q95": float(np.quantile(rank_auc(a_on_b[:, 1:], perms), 0.95)),
    }


def _layer_row(
    la: Layer, lb: Layer, word_index: np.ndarray, config: PersistenceConfig, gen: torch.Generator
) -> dict[str, float]:
    a, b = _centred(la.x, torch.float32), _centred(lb.x, torch.float32)
    gram_a, gram_b = a.T @ a, b.T @ b
    n = a.shape[0]
    shuffled = [_cka(a, b[torch.randperm(n, generator=gen)], gram_a, gram_b) for _ in range(config.n_cka_shuffle)]
    angles = principal_angles(
        concept_subspace(la.x, word_index, config.k), concept_subspace(lb.x, word_index, config.k)
    )
    return {
        "cka": _cka(a, b, gram_a, gram_b),
        "cka_shuffled_mean": float(
            torch.trace(gram_a) * torch.trace(gram_b) / ((n - 1) * gram_a.norm() * gram_b.norm())
        ),
        "cka_shuffled_max": max(shuffled) if shuffled else float("nan"),
        "k": config.k,
        "subspace_overlap": float(np.mean(np.cos(angles) ** 2)),
        "angle_min_deg": float(np.degrees(angles[0])),
        "angle_max_deg": float(np.degrees(angles[-1])),
    }


def _random_overlap(d: int, k: int, n: int, seed: int) -> dict[str, float]:
    """95th percentile of the subspace overlap (mean cos² of principal angles) of random k-dim subspaces."""
    if k > d:
        raise UserError(f"k={k} is more than the data allow: the residual stream has only d={d} dimensions.")
    pairs = random_directions(d, 2 * k * n, seed).reshape(n, 2, k, d)
    overlaps = [np.mean(np.cos(principal_angles(p[0], p[1])) ** 2) for p in pairs]
    return {"subspace_overlap_random_q95": float(np.quantile(overlaps, 0.95))}
