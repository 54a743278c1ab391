"""Matched null directions: covariance-matched draws have the activations' covariance, shuffled-label
directions lose a planted signal, placebo words stay off the value lexicon."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import torch

from interp._util.errors import UserError
from interp.causal import nulls
from interp.causal.nulls import (
    PLACEBO_WORDS,
    covariance_matched_directions,
    isotropic_directions,
    null_quantiles,
    permuted_labels,
    placebo_direction,
    shuffled_label_directions,
)
from interp.causal.study import null_band
from interp.lexicons.readers import default_lexicon

pytestmark = pytest.mark.usefixtures("one_thread")

EIGENVALUES = np.array([10.0, 5.0, 1.0, 0.5, 0.1, 0.01])


def _anisotropic(rows: int, seed: int = 0) -> np.ndarray:
    """Rows with covariance Q diag(EIGENVALUES) Qᵀ (Q a random rotation) around a non-zero mean."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    return 5.0 + (rng.standard_normal((rows, 6)) * np.sqrt(EIGENVALUES)) @ q.T


def _rel_frobenius(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _planted(rows: int = 200, d: int = 64, shift: float = 4.0, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """N(0, I) rows; class 1 shifted by `shift` along e1."""
    g = torch.Generator().manual_seed(seed)
    y = np.arange(rows) % 2
    x = torch.randn(rows, d, generator=g, dtype=torch.float64)
    x[:, 0] += shift * torch.from_numpy(y)
    return x, y


def _diff_of_means(x: torch.Tensor, y: np.ndarray) -> torch.Tensor:
    mask = torch.from_numpy(y.astype(bool))
    return x[mask].mean(0) - x[~mask].mean(0)


def test_covariance_matched_draws_have_the_target_covariance():
    """4000 draws: the expected relative Frobenius error of their covariance is
    sqrt((tr Σ² + (tr Σ)²) / N) / ‖Σ‖_F = sqrt((126.3 + 275.9) / 4000) / 11.2 ≈ 0.03, so 0.1 is ~3 sd."""
    x = _anisotropic(1000)
    sigma = np.cov(x, rowvar=False)
    draws = covariance_matched_directions(torch.from_numpy(x), n=4000, seed=1).vectors.double().numpy()
    empirical = draws.T @ draws / len(draws)  # the draws have mean 0 by construction
    assert _rel_frobenius(empirical, sigma) < 0.1

    eigvals, eigvecs = np.linalg.eigh(sigma)
    top, bottom = (draws @ eigvecs[:, -1]).var(), (draws @ eigvecs[:, 0]).var()
    assert top / bottom > 100, (top, bottom)  # Σ's eigenvalue ratio is ~1000
    assert top == pytest.approx(eigvals[-1], rel=0.1)

    # the tolerance separates: isotropic draws of the same total variance miss Σ by far
    iso = isotropic_directions(6, n=4000, seed=1, norm=float(np.sqrt(np.trace(sigma)))).vectors.double().numpy()
    assert _rel_frobenius(iso.T @ iso / len(iso), sigma) > 0.5

    shrunk = covariance_matched_directions(torch.from_numpy(x), n=4000, seed=2, shrinkage=0.5).vectors.double()
    target = 0.5 * sigma + 0.5 * np.trace(sigma) / 6 * np.eye(6)
    assert _rel_frobenius(shrunk.numpy().T @ shrunk.numpy() / 4000, target) < 0.1


def test_rank_deficient_draws_stay_in_the_span_of_the_centred_activations():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((10, 50)) + 3.0)
    draws = covariance_matched_directions(x, n=30, seed=0, norm=1.0).vectors.double()
    basis = torch.linalg.svd(x - x.mean(0), full_matrices=False)[2][:9]  # rank n_examples − 1 after centring
    residual = draws - (draws @ basis.T) @ basis
    assert float(residual.norm(dim=1).max()) < 1e-5
    assert torch.allclose(draws.norm(dim=1), torch.ones(30, dtype=torch.float64), atol=1e-6)
    # with shrinkage the isotropic floor leaves the span
    shrunk = covariance_matched_directions(x, n=30, seed=0, norm=1.0, shrinkage=0.3).vectors.double()
    assert float((shrunk - (shrunk @ basis.T) @ basis).norm(dim=1).min()) > 0.1


def test_shuffled_label_directions_lose_a_planted_signal():
    x, y = _planted()
    e1 = torch.zeros(x.shape[1], dtype=torch.float64)
    e1[0] = 1.0
    real = _diff_of_means(x, y)
    assert abs(float(real @ e1 / real.norm())) > 0.9

    null = shuffled_label_directions(x, y, n=50, seed=0).vectors.double()
    cos = (null @ e1).abs() / null.norm(dim=1)
    assert float(cos.mean()) < 0.4, float(cos.mean())
    # each null is the raw difference of means under one permutation of the labels
    perms = permuted_labels(y, 50, seed=0)
    expected = torch.stack([_diff_of_means(x, perms[:, p]) for p in range(50)])
    assert torch.allclose(null, expected, atol=1e-5)


def test_group_level_permutation_keeps_groups_whole_and_class_sizes():
    rng = np.random.default_rng(0)
    groups = rng.permutation(np.repeat(np.arange(40), 5))  # 40 words, 5 rows each, interleaved
    labels = groups % 2
    perms = permuted_labels(labels, 30, seed=3, groups=groups)
    assert perms.shape == (200, 30)
    for column in perms.T:
        per_group = pd.Series(column).groupby(groups).nunique()
        assert (per_group == 1).all()
        assert column.sum() == 100
        assert pd.Series(column).groupby(groups).first().sum() == 20
    assert len({tuple(c) for c in perms.T}) == 30
    # a row-level shuffle splits words, which the group-level one must not
    rows = permuted_labels(labels, 30, seed=3)
    assert any((pd.Series(c).groupby(groups).nunique() > 1).any() for c in rows.T)
    x = torch.from_numpy(rng.standard_normal((200, 8)))
    grouped = shuffled_label_directions(x, labels, n=30, seed=3, groups=groups).vectors.double()
    assert torch.allclose(grouped[4], _diff_of_means(x, perms[:, 4]), atol=1e-5)


def test_same_seed_same_vectors_other_seed_other_vectors():
    x, y = _planted(rows=60, d=16)
    draws = {
        "shuffled": lambda s: shuffled_label_directions(x, y, n=5, seed=s).vectors,
        "covariance": lambda s: covariance_matched_directions(x, n=5, seed=s).vectors,
        "isotropic": lambda s: isotropic_directions(16, n=5, seed=s).vectors,
    }
    for name, draw in draws.items():
        assert torch.equal(draw(7), draw(7)), name
        assert not torch.allclose(draw(7), draw(8)), name


@pytest.mark.parametrize("norm", [0.25, 3.7, 120.0])
def test_vectors_are_scaled_to_the_given_norm(norm):
    x, y = _planted(rows=60, d=16)
    for made in (
        shuffled_label_directions(x, y, n=6, norm=norm),
        covariance_matched_directions(x, n=6, norm=norm, shrinkage=0.1),
        isotropic_directions(16, n=6, norm=norm),
    ):
        lengths = made.vectors.double().norm(dim=1)
        assert torch.allclose(lengths, torch.full((6,), norm, dtype=torch.float64), rtol=1e-6, atol=0), made.kind
    raw = shuffled_label_directions(x, y, n=6).vectors.double().norm(dim=1)
    assert not torch.allclose(raw, raw[:1].expand(6), rtol=1e-3)  # left raw without a norm


def test_placebo_words_are_off_the_value_lexicon():
    lexicon = {w.lower() for words in default_lexicon().categories.values() for w in words}
    concrete, abstract = PLACEBO_WORDS
    for words in (concrete, abstract):
        assert 25 <= len(words) <= 35
        assert len(set(words)) == len(words)
        assert all(w.isalpha() and w.islower() for w in words)
    assert not set(concrete) & set(abstract)
    assert not (set(concrete) | set(abstract)) & lexicon


def test_placebo_direction_is_the_difference_of_means():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 12)) + 1.0, rng.standard_normal((11, 12))
    direction = placebo_direction(torch.from_numpy(a), b)
    expected = torch.from_numpy(a.mean(0) - b.mean(0))
    assert direction.shape == (12,)
    assert torch.allclose(direction.double(), expected, atol=1e-6)
    scaled = placebo_direction(a, b, norm=2.5).double()
    assert torch.allclose(scaled, expected * 2.5 / expected.norm(), atol=1e-6)


def test_null_quantiles_agree_with_the_study_null_band():
    effects = np.random.default_rng(0).standard_normal(37)
    table = pd.DataFrame({"group": "random", "layer": 3, "alpha": 0.0, "framing": "f", "shrink": effects})
    band = null_band(table, "shrink", level=0.9)
    assert null_quantiles(list(effects), level=0.9) == pytest.approx((band.null_lo[0], band.null_hi[0]), abs=1e-12)
    lo, hi = null_quantiles(list(effects))
    assert lo < np.median(effects) < hi
    assert (effects < lo).sum() == 1 and (effects > hi).sum() == 1  # 2.5 % of 37 below, 2.5 % above


def test_module_doctests_pass():
    result = doctest.testmod(nulls)
    assert result.attempted >= 5 and result.failed == 0


X = torch.randn(12, 4, generator=torch.Generator().manual_seed(0))
Y = np.arange(12) % 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: shuffled_label_directions(X, np.arange(12) % 3), "two classes coded 0 and 1"),
        (lambda: shuffled_label_directions(X, np.zeros(12)), "two classes coded 0 and 1"),
        (lambda: shuffled_label_directions(X, Y[:11]), "11 labels for 12 activation rows"),
        (lambda: shuffled_label_directions(X, Y, groups=np.arange(11)), "11 group ids for 12 labels"),
        (lambda: shuffled_label_directions(X, Y, groups=np.arange(12) // 2), "both labels"),
        (lambda: shuffled_label_directions(X, Y, n=0), "at least one null direction, not n=0"),
        (lambda: covariance_matched_directions(X, n=0), "at least one null direction, not n=0"),
        (lambda: isotropic_directions(4, n=-1), "at least one null direction, not n=-1"),
        (lambda: covariance_matched_directions(X.clone().fill_(float("nan"))), "NaN or infinite"),
        (lambda: shuffled_label_directions(torch.where(X > 1, float("nan"), X), Y), "NaN or infinite"),
        (lambda: placebo_direction(X, torch.randn(3, 5)), "different widths"),
        (lambda: covariance_matched_directions(X, shrinkage=1.5), "shrinkage must lie in"),
        (lambda: covariance_matched_directions(torch.ones(5, 4)), "no variance"),
        (lambda: isotropic_directions(4, norm=0.0), "positive number"),
        (lambda: covariance_matched_directions(X[0]), "(n_examples, d)"),
        (lambda: null_quantiles([]), "non-empty list of finite effects"),
    ],
)
def test_bad_input_raises_one_clear_sentence(call, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        call()
    text = str(err.value)
    assert "\n" not in text and text.endswith(".") and text.count(". ") == 0, text
