"""Matched null directions for a causal claim about a difference-of-means direction at one layer.

A difference-of-means direction lies in the high-variance subspace of the activations, so isotropic random
directions are a weak null for it. The matched nulls here stand beside it instead:

- `shuffled_label`: difference-of-means directions of the same activations with the labels permuted (at the
  group level, e.g. per word, when groups are given), so the null goes through the same fitting procedure;
- `covariance_matched`: draws from N(0, Σ), Σ the activation covariance at that layer;
- `isotropic`: uniformly random directions (the old, weak null, kept for comparison);
- `placebo`: the difference of means of a coherent contrast irrelevant to values (`PLACEBO_WORDS`).

Pass `norm` (the real direction's norm) so a null removes or adds as much as the direction it stands beside.

>>> nulls = isotropic_directions(4, n=3, seed=0)
>>> nulls.kind, tuple(nulls.vectors.shape), torch.allclose(nulls.vectors.norm(dim=1), torch.ones(3))
('isotropic', (3, 4), True)
>>> null_quantiles([0, 1, 2, 3, 4], level=0.5)
(1.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from interp._util.errors import UserError
from interp.causal.directions import random_directions

Labels = Sequence[int] | np.ndarray | torch.Tensor  # 0/1 (or class) labels, one per row
Activations = torch.Tensor | np.ndarray | Sequence[Sequence[float]]  # (n_examples, d)
Groups = Sequence[str] | np.ndarray | None  # a group (e.g. word) per row

KINDS = ("shuffled_label", "covariance_matched", "isotropic", "placebo")

# fmt: off
PLACEBO_WORDS: tuple[tuple[str, ...], tuple[str, ...]] = (
    # concrete nouns: everyday objects with no value connotation
    (
        "table", "stone", "spoon", "chair", "bottle", "pencil", "window", "brick", "lamp", "carpet",
        "bucket", "kettle", "ladder", "hammer", "button", "shelf", "plate", "basket", "candle", "pebble",
        "rope", "nail", "sock", "door", "cup", "box", "wire", "wheel", "towel", "fork",
    ),
    # abstract nouns: technical and formal terms, neither agentic nor communal
    (
        "theory", "method", "concept", "pattern", "process", "structure", "function", "ratio", "quantity",
        "factor", "element", "category", "format", "sequence", "angle", "volume", "period", "topic",
        "notion", "aspect", "feature", "variable", "context", "instance", "version", "definition",
        "dimension", "formula", "fraction", "hypothesis",
    ),
)
# fmt: on


@dataclass(frozen=True)
class NullDirections:
    """`n` null directions of one kind as rows of a float32 (n, d) tensor."""

    kind: str
    vectors: torch.Tensor

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"Null kind must be one of {KINDS}, not {self.kind!r}.")
        if self.vectors.ndim != 2:
            raise UserError(f"Null directions must be an (n, d) tensor, not shape {tuple(self.vectors.shape)}.")


def shuffled_label_directions(
    activations: Activations,
    labels: Labels,
    n: int = 20,
    seed: int = 0,
    groups: Groups = None,
    norm: float | None = None,
) -> NullDirections:
    """Difference-of-means directions (class 1 − class 0) of `activations` (n_examples, d) under `n`
    permutations of the 0/1 `labels`; left raw unless `norm` is given.

    With `groups` (e.g. a word id per row) the labels are permuted across groups, so every row of a group
    keeps one label and each class keeps its number of groups.

    >>> x = torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
    >>> shuffled_label_directions(x, torch.arange(40) % 2, n=4, norm=2.0).vectors.norm(dim=1).round().tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    x = _activations(activations)
    perms = permuted_labels(labels, n, seed, groups, n_rows=x.shape[0])
    y = torch.from_numpy(perms.T.astype(np.float64))  # (n, n_examples)
    diff = (y @ x) / y.sum(1, keepdim=True) - ((1 - y) @ x) / (1 - y).sum(1, keepdim=True)
    return NullDirections("shuffled_label", _scaled(diff, norm))


def permuted_labels(
    labels: Labels, n: int, seed: int = 0, groups: Groups = None, n_rows: int | None = None
) -> np.ndarray:
    """(n_examples, n) 0/1 labels, each column a permutation of `labels` (across groups when given).

    >>> permuted_labels([0, 0, 1, 1, 1, 1], 2, groups=["a", "a", "b", "b", "c", "c"]).T.tolist()
    [[1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 0, 0]]
    """
    _check_count(n)
    y = _labels(labels, len(labels) if n_rows is None else n_rows)
    rng = np.random.default_rng(seed)
    if groups is None:
        return np.stack([rng.permutation(y) for _ in range(n)], 1)
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise UserError(f"There are {g.size} group ids for {y.size} labels; give one group id per row.")
    keys, index = np.unique(g, return_inverse=True)
    group_labels = np.zeros(len(keys), dtype=np.int64)
    group_labels[index] = y
    if not np.array_equal(group_labels[index], y):
        raise UserError("Some group has rows with both labels; give every row of a group (word) the same label.")
    return np.stack([rng.permutation(group_labels)[index] for _ in range(n)], 1)


def covariance_matched_directions(
    activations: Activations, n: int = 20, seed: int = 0, norm: float | None = None, shrinkage: float = 0.0
) -> NullDirections:
    """`n` draws from N(0, Σ), Σ the centred covariance of `activations` (n_examples, d) shrunk toward
    tr(Σ)/d · I by `shrinkage` ∈ [0, 1]; scaled to `norm` if given.

    Σ's eigendecomposition comes from the SVD of the centred activations, so n_examples < d is fine (the
    draws then lie in the span of the centred activations unless `shrinkage` > 0).

    >>> x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([3.0, 1.0, 0.0])
    >>> covariance_matched_directions(x, n=5, norm=1.0).vectors[:, 2].abs().max().item() < 1e-6
    True
    """
    _check_count(n)
    if not 0.0 <= shrinkage <= 1.0:
        raise UserError(f"Covariance shrinkage must lie in [0, 1], not {shrinkage}.")
    x = _activations(activations)
    rows, d = x.shape
    _, s, vh = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    eig = s**2 / (rows - 1)  # eigenvalues of Σ along the rows of vh; Σ is 0 off their span
    if float(eig.sum()) == 0.0:
        raise UserError("The activations have no variance (every row is the same); pass varied activations.")
    floor = shrinkage * float(eig.sum()) / d
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    inside = z @ vh.T  # coordinates along Σ's eigenvectors with non-zero eigenvalue
    draws = (inside * ((1 - shrinkage) * eig + floor).sqrt()) @ vh
    if floor > 0:
        draws += floor**0.5 * (z - inside @ vh)  # the isotropic floor off the activations' span
    return NullDirections("covariance_matched", _scaled(draws, norm))


def isotropic_directions(d: int, n: int = 20, seed: int = 0, norm: float = 1.0) -> NullDirections:
    """`n` uniformly random directions in R^d of length `norm`."""
    _check_count(n)
    return NullDirections("isotropic", _scaled(random_directions(d, n, seed).double(), norm))


def placebo_direction(
    activations_a: Activations, activations_b: Activations, norm: float | None = None
) -> torch.Tensor:
    """mean(a) − mean(b) of two activation sets (n_a, d), (n_b, d), e.g. concrete vs abstract nouns
    (`PLACEBO_WORDS`); scaled to `norm` if given.

    >>> placebo_direction(torch.tensor([[2.0, 0.0], [4.0, 0.0]]), torch.tensor([[0.0, 1.0]])).tolist()
    [3.0, -1.0]
    """
    a, b = _activations(activations_a, min_rows=1), _activations(activations_b, min_rows=1)
    if a.shape[1] != b.shape[1]:
        raise UserError(f"The placebo sets have different widths ({a.shape[1]} vs {b.shape[1]}); use one layer.")
    return _scaled((a.mean(0) - b.mean(0))[None], norm)[0]


def null_quantiles(effects: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central `level` band of a null's effects (linear interpolation, as `study.null_band`)."""
    values = np.asarray(effects, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise UserError("A null band needs a non-empty list of finite effects; check the null's conditions.")
    if not 0.0 < level < 1.0:
        raise UserError(f"The null band's level must lie in (0, 1), not {level}.")
    tail = (1 - level) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def _activations(x: Activations, min_rows: int = 2) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    t = t.to("cpu", torch.float64)
    if t.ndim != 2 or t.shape[0] < min_rows or t.shape[1] < 1:
        raise UserError(
            f"Activations must be an (n_examples, d) array with at least {min_rows} rows, not {tuple(t.shape)}."
        )
    if not bool(torch.isfinite(t).all()):
        raise UserError("The activations contain NaN or infinite values; recapture them (fp16 Gemma gives NaN).")
    return t


def _labels(labels: Labels, n_rows: int) -> np.ndarray:
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    if y.size != n_rows:
        raise UserError(f"There are {y.size} labels for {n_rows} activation rows; give one label per row.")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise UserError("Labels must be two classes coded 0 and 1, with at least one row of each.")
    return y.astype(np.int64)


def _check_count(n: int) -> None:
    if n < 1:
        raise UserError(f"Ask for at least one null direction, not n={n}.")


def _scaled(vectors: torch.Tensor, norm: float | None) -> torch.Tensor:
    """float32 rows, each rescaled to length `norm` when given."""
    if norm is not None:
        if not (np.isfinite(norm) and norm > 0):
            raise UserError(f"A null direction's norm must be a positive number, not {norm}.")
        lengths = vectors.norm(dim=1, keepdim=True)
        if bool((lengths == 0).any()):
            raise UserError("A null direction came out as zero and cannot be scaled; pass varied activations.")
        vectors = vectors * (norm / lengths)
    return vectors.to(torch.float32).contiguous()
