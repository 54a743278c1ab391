"""Probe datasets as arrays: activations (n_examples, n_layers, d_model), 0/1 labels and the word of each
example, with cross-validation folds grouped by word so that no word is in both train and test.

>>> data, u = planted(n_words=40, per_word=5, n_layers=3, d_model=16, layer=1, seed=0)
>>> data.X.shape, data.n_words, sorted(set(data.labels.tolist()))
((200, 3, 16), 40, [0, 1])
>>> folds = data.fold_ids(n_splits=5, seed=0)
>>> all(len(set(data.groups[folds == f]) & set(data.groups[folds != f])) == 0 for f in range(5))
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold

from interp._util.errors import UserError
from interp.hooks.site import POINTS


@dataclass(frozen=True, eq=False)
class ProbeData:
    """One model's activations on a set of labelled one-word inputs.

    `X[i, j]` is example i's residual at layer `layers[j]`; `labels[i]` is 1 for class_names[1] (e.g. agency)
    and 0 for class_names[0] (e.g. communion); `groups[i]` is the word, the unit of every split, shuffle and
    bootstrap. `inputs_id` names the inputs (e.g. the store's key) and enters `data_hash`; the fingerprint
    and `lineage_id` say which model produced X and which lineage (shared coordinate frame) it belongs to.
    `covariates[i]` (n, k), named by `covariate_names`, are per-example nuisance variables a probe should not
    get credit for (`probes.controls`: word frequency and token length); fits regress them out in each
    training fold. They derive from the words and the tokenizer, so they do not enter `data_hash`.
    """

    X: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    model_fingerprint: str
    lineage_id: str = ""
    model_name: str = ""
    layers: tuple[int, ...] = ()
    point: str = "resid_post"
    position: str = "readout"
    inputs_id: str = ""
    class_names: tuple[str, str] = ("communion", "agency")
    covariates: np.ndarray | None = None
    covariate_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        x = self.X.detach().cpu().numpy() if isinstance(self.X, torch.Tensor) else np.asarray(self.X)
        if x.ndim != 3:
            raise UserError(f"Probe activations must have shape (n_examples, n_layers, d_model), not {x.shape}.")
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[0]
        if not np.isfinite(x).all():
            raise UserError(f"Probe activations hold {int((~np.isfinite(x)).sum())} non-finite values; recapture them.")
        labels = np.asarray(self.labels).reshape(-1)
        groups = np.asarray(self.groups).astype(str).reshape(-1)
        if labels.shape[0] != n or groups.shape[0] != n:
            raise UserError(
                f"Got {n} examples but {labels.shape[0]} labels and {groups.shape[0]} groups; pass one each."
            )
        if not np.isin(labels, (0, 1)).all():
            raise UserError("Probe labels must be 0 or 1 (e.g. communion=0, agency=1).")
        labels = labels.astype(np.int64)
        present = sorted(set(labels.tolist()))
        if len(present) < 2:
            raise UserError(
                f"Probe data has a single class (every label is {present[0] if present else '-'}); "
                "give examples of both categories."
            )
        layers = tuple(int(v) for v in self.layers) if self.layers else tuple(range(x.shape[1]))
        if len(layers) != x.shape[1]:
            raise UserError(f"`layers` names {len(layers)} layers but X has {x.shape[1]}; pass one index per layer.")
        if self.point not in POINTS:
            raise UserError(f"Probe point must be one of {POINTS}, not {self.point!r}.")
        for name, value in (("X", x), ("labels", labels), ("groups", groups), ("layers", layers)):
            object.__setattr__(self, name, value)
        if self.covariates is not None:
            object.__setattr__(self, "covariates", self._checked_covariates(np.asarray(self.covariates, float)))
        per_word = np.zeros((self.n_words, 2), dtype=np.int64)
        np.add.at(per_word, (self.word_index, labels), 1)
        mixed = self.words[(per_word > 0).all(axis=1)]
        if mixed.size:
            raise UserError(f"The word {mixed[0]!r} carries both labels; a word must belong to one category.")

    def _checked_covariates(self, c: np.ndarray) -> np.ndarray:
        c = c.reshape(c.shape[0], -1) if c.ndim else c
        names = tuple(str(v) for v in self.covariate_names)
        if c.ndim != 2 or c.shape[0] != self.n_examples or len(names) != c.shape[1]:
            raise UserError(
                f"Covariates must be (n_examples, k) with one name each; got shape {c.shape} for "
                f"{self.n_examples} examples and names {names}."
            )
        if not np.isfinite(c).all():
            raise UserError(f"Covariates hold {int((~np.isfinite(c)).sum())} non-finite values; recompute them.")
        object.__setattr__(self, "covariate_names", names)
        return c

    @property
    def n_examples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_layers(self) -> int:
        return int(self.X.shape[1])

    @property
    def d_model(self) -> int:
        return int(self.X.shape[2])

    @cached_property
    def _word_index(self) -> tuple[np.ndarray, np.ndarray]:
        return np.unique(self.groups, return_inverse=True)

    @property
    def words(self) -> np.ndarray:
        """The distinct words, sorted."""
        return self._word_index[0]

    @property
    def word_index(self) -> np.ndarray:
        """For each example, the index of its word in `words`."""
        return self._word_index[1]

    @property
    def n_words(self) -> int:
        return int(self.words.shape[0])

    @cached_property
    def word_labels(self) -> np.ndarray:
        """The label of each word in `words`."""
        out = np.zeros(self.n_words, dtype=np.int64)
        out[self.word_index] = self.labels
        return out

    @cached_property
    def data_hash(self) -> str:
        """A short hash of what the probe was fit on: inputs_id, words, labels, layers and site."""
        h = hashlib.sha256()
        for part in (self.inputs_id, self.point, self.position, repr(self.layers), repr(self.class_names)):
            h.update(part.encode() + b"\0")
        h.update("\0".join(self.groups.tolist()).encode())
        h.update(self.labels.tobytes())
        return h.hexdigest()[:16]

    def layer(self, j: int) -> torch.Tensor:
        """Activations at the j-th stored layer as a float32 (n, d) tensor (a copy, contiguous)."""
        return torch.from_numpy(np.ascontiguousarray(self.X[:, j, :]))

    def fold_ids(self, n_splits: int = 5, seed: int = 0) -> np.ndarray:
        """Test-fold index of each example, folds grouped by word and stratified by label."""
        if n_splits < 2:
            raise UserError(f"Cross-validation needs n_splits >= 2, got {n_splits}.")
        per_class = np.bincount(self.word_labels, minlength=2)
        if self.n_words < n_splits or per_class.min() < 2:
            raise UserError(
                f"{self.n_words} words ({per_class[0]} vs {per_class[1]} per class) are too few for "
                f"{n_splits}-fold grouped CV; use at least 2 words per class and {n_splits} in all."
            )
        folds = np.empty(self.n_examples, dtype=np.int64)
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for f, (_, test) in enumerate(cv.split(np.zeros(self.n_examples), self.labels, self.groups)):
            folds[test] = f
        for f in range(n_splits):
            if len(set(self.labels[folds != f].tolist())) < 2:
                raise UserError(f"Fold {f} leaves a single class to train on; use fewer folds or more words.")
        return folds

    def splits(self, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train_indices, test_indices) per fold; no word is ever on both sides."""
        folds = self.fold_ids(n_splits, seed)
        return [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(n_splits)]

    def permuted_labels(self, n_perm: int, seed: int = 0) -> np.ndarray:
        """(n, n_perm) labels from shuffling the word labels across words (the word is the unit)."""
        rng = np.random.default_rng(seed)
        perms = np.empty((self.n_words, n_perm), dtype=np.int64)
        for p in range(n_perm):
            perms[:, p] = rng.permutation(self.word_labels)
        return perms[self.word_index]


def planted(
    n_words: int = 200,
    per_word: int = 10,
    n_layers: int = 30,
    d_model: int = 576,
    layer: int = 17,
    strength: float = 8.0,
    word_sd: float = 0.3,
    seed: int = 0,
) -> tuple[ProbeData, torch.Tensor]:
    """Synthetic probe data with a known unit direction `u` planted at one layer.

    Every example is N(0, I) noise plus a per-word offset N(0, word_sd² I); at `layer` the class shifts it by
    ±strength/2 along u. Returns (data, u). Words are `w0`, `w1`, ...; even-numbered words are class 1.
    """
    g = torch.Generator().manual_seed(seed)
    words = np.repeat(np.arange(n_words), per_word)
    y = (words % 2 == 0).astype(np.int64)
    x = torch.randn(n_words * per_word, n_layers, d_model, generator=g)
    x += word_sd * torch.randn(n_words, n_layers, d_model, generator=g)[torch.from_numpy(words)]
    u = torch.randn(d_model, generator=g)
    u /= u.norm()
    x[:, layer, :] += strength * (torch.from_numpy(y).float()[:, None] - 0.5) * u
    data = ProbeData(
        X=x.numpy(),
        labels=y,
        groups=np.char.add("w", words.astype(str)),
        model_fingerprint=f"planted-{seed}",
        lineage_id="planted",
        model_name="planted",
        inputs_id=f"planted-{n_words}x{per_word}-{seed}",
    )
    return data, u
