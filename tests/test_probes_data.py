"""ProbeData: validation, grouped folds, word-level permutations, the planted generator."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from interp._util.errors import UserError
from probes.data import ProbeData, planted


def one_sentence(err: pytest.ExceptionInfo[UserError]) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith("."), msg
    assert not re.search(r"[.;]\s+[A-Z]", msg), f"more than one sentence: {msg}"
    return msg


def small(**kw: object) -> ProbeData:
    words = np.repeat([f"w{i}" for i in range(12)], 3)
    fields: dict[str, object] = {
        "X": np.random.default_rng(0).normal(size=(36, 2, 5)),
        "labels": np.repeat(np.arange(12) % 2, 3),
        "groups": words,
        "model_fingerprint": "fp",
    }
    fields.update(kw)
    return ProbeData(**fields)  # type: ignore[arg-type]


def test_grouped_splits_never_share_a_word() -> None:
    data, _ = planted(n_words=60, per_word=7, n_layers=2, d_model=8, layer=1, seed=3)
    for seed in (0, 1):
        splits = data.splits(n_splits=5, seed=seed)
        assert sorted(np.concatenate([test for _, test in splits]).tolist()) == list(range(data.n_examples))
        for train, test in splits:
            assert not set(data.groups[train]) & set(data.groups[test])
            assert set(data.labels[test].tolist()) == {0, 1}  # stratified: both classes in each test fold
    assert not np.array_equal(data.fold_ids(5, 0), data.fold_ids(5, 1))


def test_accepts_torch_and_converts_to_float32() -> None:
    data = small(X=torch.randn(36, 2, 5, dtype=torch.float64))
    assert data.X.dtype == np.float32 and data.X.flags.c_contiguous
    assert data.layers == (0, 1) and data.n_words == 12 and data.d_model == 5
    assert data.layer(1).shape == (36, 5) and data.layer(1).dtype == torch.float32


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"labels": np.ones(36, dtype=int)}, "single class"),
        ({"labels": np.full(36, 2)}, "0 or 1"),
        ({"X": np.zeros((36, 5))}, "shape"),
        ({"groups": np.array(["a"] * 35)}, "groups"),
        ({"layers": (1, 2, 3)}, "layers"),
        ({"point": "attn_out"}, "point"),
        ({"X": np.full((36, 2, 5), np.nan)}, "non-finite"),
        ({"groups": np.repeat([f"w{i}" for i in range(6)], 6)}, "carries both labels"),
    ],
)
def test_bad_probe_data_is_a_one_sentence_user_error(kw: dict[str, object], fragment: str) -> None:
    with pytest.raises(UserError) as err:
        small(**kw)
    assert fragment in one_sentence(err)


def test_too_few_words_for_the_folds() -> None:
    with pytest.raises(UserError) as err:
        small().fold_ids(n_splits=13)
    assert "too few" in one_sentence(err)
    with pytest.raises(UserError) as err:
        small().fold_ids(n_splits=1)
    one_sentence(err)


def test_word_level_permutations_keep_words_whole_and_class_counts() -> None:
    data = small()
    perms = data.permuted_labels(50, seed=4)
    assert perms.shape == (36, 50)
    for p in perms.T:
        per_word = {w: set(p[data.groups == w].tolist()) for w in data.words}
        assert all(len(v) == 1 for v in per_word.values())
        assert sum(v == {1} for v in per_word.values()) == 6
    assert len({tuple(p) for p in perms.T}) > 40
    np.testing.assert_array_equal(perms, data.permuted_labels(50, seed=4))


def test_data_hash_follows_inputs_not_activations() -> None:
    base, other = small(), small(X=np.ones((36, 2, 5)), model_fingerprint="rm")
    assert base.data_hash == other.data_hash
    assert small(inputs_id="frames-v2").data_hash != base.data_hash
    assert small(labels=1 - np.repeat(np.arange(12) % 2, 3)).data_hash != base.data_hash


def test_planted_direction_shifts_only_its_layer() -> None:
    data, u = planted(n_words=40, per_word=5, n_layers=3, d_model=16, layer=2, strength=6.0, seed=0)
    assert float(u.norm()) == pytest.approx(1.0)
    y = data.labels.astype(bool)
    for j in range(3):
        gap = float((data.X[y, j].mean(0) - data.X[~y, j].mean(0)) @ u.numpy())
        assert (gap > 5.0) if j == 2 else (abs(gap) < 1.0)
