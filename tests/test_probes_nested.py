"""Probes fit inside each training fold (scaler, residualisation, nested C), lexical controls, the max-layer null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

from interp._util.errors import UserError
from probes.data import ProbeData, planted
from probes.fit import ProbeConfig, ProbeResult, fit_probes
from probes.layer import Layer, rank_auc
from probes.linear import METHODS, fit_layer, fit_with_perms

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ("zipf", "n_tokens")


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0))


def lexical_data(
    n_words: int = 80, per_word: int = 4, d: int = 16, seed: int = 0
) -> tuple[ProbeData, np.ndarray, np.ndarray]:
    """(data, u, v), two layers. Class-1 words are longer (2-3 vs 1-2 tokens) and the activations encode length
    along u at both layers; layer 1 also carries the class along v (a semantic signal). Zipf frequency is noise."""
    rng = np.random.default_rng(seed)
    word_labels = np.arange(n_words) % 2
    length = 1 + word_labels + rng.integers(0, 2, n_words)
    zipf = rng.normal(4, 1, n_words)
    u, v = np.linalg.qr(rng.normal(size=(d, 2)))[0].T
    words = np.repeat(np.arange(n_words), per_word)
    x = rng.normal(size=(len(words), 2, d)) + 0.3 * rng.normal(size=(n_words, 2, d))[words]
    x += 3.0 * length[words][:, None, None] * u
    x[:, 1] += 4.0 * (word_labels[words][:, None] - 0.5) * v
    covariates = np.column_stack([zipf, length])[words]
    groups = np.char.add("w", words.astype(str))
    return ProbeData(x, word_labels[words], groups, "fp", covariates=covariates, covariate_names=NAMES), u, v


@pytest.fixture(scope="module")
def lexical() -> tuple[ProbeData, ProbeResult]:
    data = lexical_data()[0]
    return data, fit_probes(data, ProbeConfig(n_perm=30, n_boot=100), progress=False)


def test_a_length_only_label_is_raw_and_lexical_but_not_controlled(lexical: tuple[ProbeData, ProbeResult]) -> None:
    table = lexical[1].table.set_index(["layer", "method"])
    for method in METHODS:
        row = table.loc[(0, method)]
        assert row.control == "zipf+n_tokens"
        assert row.raw_auc > 0.75 and row.raw_auc_lo > 0.6  # the raw probe decodes the label through length
        assert row.lexical_auc > 0.75 and row.lexical_p_perm < 0.05  # so does a probe on the covariates alone
        assert abs(row.auc - 0.5) < 0.06 and row.p_perm > 0.05  # nothing is left once length is regressed out
        assert np.isnan(row.raw_p_perm)  # the raw null is refit only with raw_null=True


def test_a_semantic_signal_survives_the_control(lexical: tuple[ProbeData, ProbeResult]) -> None:
    data, result = lexical
    table = result.table.set_index(["layer", "method"])
    for method in METHODS:
        row = table.loc[(1, method)]
        assert row.auc > 0.7 and row.auc - table.loc[(0, method)].auc > 0.2
        assert row.p_perm == pytest.approx(1 / 31) and row.p_max == pytest.approx(1 / 31)
        assert result.best_layer(method) == 1
    # the controlled direction holds no length: its weight on u is tiny next to its weight on v
    _, u, v = lexical_data()
    w = result.directions[("diff_means", 1)].vector.double().numpy()
    assert abs(w @ u) < 0.1 * abs(w @ v)
    assert data.covariate_names == NAMES


def test_raw_null_and_no_control_columns(lexical: tuple[ProbeData, ProbeResult]) -> None:
    data, controlled = lexical
    with_null = fit_probes(data, ProbeConfig(("diff_means",), n_perm=30, n_boot=100, raw_null=True), progress=False)
    off = fit_probes(data, ProbeConfig(("diff_means",), n_perm=30, n_boot=100, control=False), progress=False)
    ours = controlled.table[controlled.table.method == "diff_means"].reset_index(drop=True)
    # raw_null fills the raw null columns and changes nothing else
    raw_null = ["raw_null_auc_mean", "raw_null_auc_q95", "raw_p_perm", "raw_null_max_q95", "raw_p_max"]
    assert ours[raw_null].isna().all().all() and with_null.table[raw_null].notna().all().all()
    pd.testing.assert_frame_equal(with_null.table.drop(columns=raw_null), ours.drop(columns=raw_null))
    assert with_null.table.raw_p_max.tolist() == pytest.approx(off.table.p_max.tolist())
    # without control the headline is the raw probe, the lexical baseline is absent
    assert (off.table.control == "none").all() and off.table.lexical_auc.isna().all()
    assert off.table.auc.tolist() == pytest.approx(ours.raw_auc.tolist())
    assert off.table.auc.tolist() == pytest.approx(off.table.raw_auc.tolist())
    assert off.best_layer("diff_means") == controlled.best_layer("diff_means", raw=True)


@pytest.mark.parametrize("method", METHODS)
def test_fold_models_never_see_their_test_fold(method: str) -> None:
    """Scaler, residualisation and C of fold f's model come from the other folds only: rewriting fold f's
    activations and covariates leaves that model unchanged (and changes the all-data one)."""
    data = lexical_data(n_words=40, per_word=3, seed=1)[0]
    folds = data.fold_ids(5, 0)
    perms = data.permuted_labels(3, seed=2)
    x, c = data.X[:, 1].copy(), np.asarray(data.covariates).copy()
    before = fit_with_perms(Layer.prepare(x, folds, c), data.labels, perms, method)
    rows = folds == 2
    rng = np.random.default_rng(5)
    x[rows] = 50 * rng.normal(size=x[rows].shape) + 7
    c[rows] = rng.normal(size=c[rows].shape) * 10
    after = fit_with_perms(Layer.prepare(x, folds, c), data.labels, perms, method)
    for name in ("weight", "bias", "cov_weight"):
        a, b = getattr(before, name), getattr(after, name)
        torch.testing.assert_close(a[:, 2], b[:, 2], rtol=1e-4, atol=1e-5)
        assert not torch.allclose(a[:, -1], b[:, -1], rtol=1e-2)  # the all-data model did see them


def test_choosing_c_on_the_reported_folds_would_inflate_auc() -> None:
    """Under the null, the AUC of the best C on the reported folds (the old way) is measurably above the nested
    AUC, which stays at the null level."""
    rng = np.random.default_rng(0)
    words = np.repeat(np.arange(40), 3)
    x = rng.normal(size=(40, 4))[words] @ rng.normal(size=(4, 64)) * 3 + rng.normal(size=(120, 64))
    data = ProbeData(x[:, None], words % 2, np.char.add("w", words.astype(str)), "fp")
    folds = data.fold_ids(5, 0)
    y = np.concatenate([data.labels[:, None], data.permuted_labels(60, seed=1)], 1)
    layer, grid = Layer.prepare(x, folds), (1e-4, 1e-2, 1.0, 100.0)
    nested = rank_auc(fit_layer(layer, y, "logistic", Cs=grid).scores(x, folds).numpy(), y)
    per_c = np.stack([rank_auc(fit_layer(layer, y, "logistic", c_fixed=c).scores(x, folds).numpy(), y) for c in grid])
    leaky = per_c.max(0)
    assert leaky.mean() - nested.mean() > 0.015
    assert nested.mean() < 0.5 and leaky.mean() > 0.5


def test_max_over_layers_null_accounts_for_picking_the_best_layer() -> None:
    data, _ = planted(n_words=40, per_word=3, n_layers=20, d_model=8, layer=0, strength=0.0, seed=0)
    config = ProbeConfig(methods=("diff_means",), n_perm=99, n_boot=0)
    result = fit_probes(data, config, progress=False)
    table, best = result.table, result.best_layer("diff_means")
    row = table[table.layer == best].iloc[0]
    assert row.p_perm <= 0.1 and row.p_max >= 0.2  # alone the best null layer looks significant; as the max, not
    assert (table.p_max >= table.p_perm).all() and row.null_max_q95 > row.null_auc_q95
    # the max is taken per permutation draw, one draw shared by every layer
    folds, perms = data.fold_ids(5, 0), data.permuted_labels(99, 1)
    null = np.stack(
        [
            rank_auc(fit_with_perms(Layer.prepare(data.layer(j), folds), data.labels, perms, "diff_means")
                     .scores(data.layer(j), folds).numpy()[:, 1:], perms)
            for j in range(data.n_layers)
        ]
    ).max(0)  # fmt: skip
    assert row.p_max == pytest.approx((1 + (null >= row.auc).sum()) / 100)
    assert row.null_max_q95 == pytest.approx(np.quantile(null, 0.95))


def test_fits_are_deterministic(lexical: tuple[ProbeData, ProbeResult]) -> None:
    data, first = lexical
    again = fit_probes(data, ProbeConfig(n_perm=30, n_boot=100), progress=False)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert all(torch.equal(first.directions[k].vector, again.directions[k].vector) for k in first.directions)


def test_covariates_are_checked_and_needed_to_score() -> None:
    data = lexical_data(n_words=20, per_word=2)[0]
    with pytest.raises(UserError, match="one name each"):
        ProbeData(data.X, data.labels, data.groups, "fp", covariates=data.covariates, covariate_names=("zipf",))
    with pytest.raises(UserError, match="non-finite"):
        ProbeData(data.X, data.labels, data.groups, "fp", covariates=np.full((40, 1), np.nan), covariate_names=("a",))
    folds = data.fold_ids(5, 0)
    fit = fit_layer(Layer.prepare(data.X[:, 0], folds, data.covariates), data.labels, "diff_means")
    with pytest.raises(UserError, match="pass the covariates"):
        fit.scores(data.X[:, 0], folds)
    with pytest.raises(UserError, match="n_splits >= 3"):
        fit_layer(Layer.prepare(data.X[:, 0], folds % 2), data.labels, "logistic")


def test_fold_model_is_sklearn_fit_on_the_training_fold_alone() -> None:
    """Fold f's model at a fixed C: covariates regressed out (OLS), then StandardScaler, then L2 logistic
    regression, all fit on the rows outside fold f (sklearn), mapped back to raw x and covariate weights."""
    data = lexical_data(n_words=40, per_word=5, seed=2)[0]
    folds, x, c = data.fold_ids(5, 0), data.X[:, 1].astype(np.float64), np.asarray(data.covariates)
    fit = fit_layer(Layer.prepare(data.X[:, 1], folds, c), data.labels, "logistic", c_fixed=0.05, tol=1e-6)
    train = folds != 3
    ols = LinearRegression().fit(c[train], x[train])
    resid = x[train] - ols.predict(c[train])
    scaler = StandardScaler().fit(resid)
    sk = LogisticRegression(C=0.05, tol=1e-10, max_iter=10_000).fit(scaler.transform(resid), data.labels[train])
    w = sk.coef_[0] / scaler.scale_
    assert cos(fit.weight[0, 3], torch.from_numpy(w)) > 0.9999
    np.testing.assert_allclose(fit.cov_weight[0, 3].numpy(), -(ols.coef_.T @ w), rtol=2e-3, atol=1e-4)
    scores = fit.scores(data.X[:, 1], folds, c)[:, 0].numpy()
    expected = sk.decision_function(scaler.transform(x - ols.predict(c)))
    np.testing.assert_allclose(scores[folds == 3], expected[folds == 3], rtol=2e-3, atol=2e-3)


def test_nested_c_is_the_inner_cv_choice_on_the_training_folds() -> None:
    """Fold f's C is the one whose pooled AUC over the other folds, each scored by a model fit without f and
    it, is best; rebuilt here from fixed-C fits on the training folds alone."""
    data = lexical_data(n_words=40, per_word=3, seed=3)[0]
    folds, x, c = data.fold_ids(5, 0), data.X[:, 1], np.asarray(data.covariates)
    y = np.concatenate([data.labels[:, None], data.permuted_labels(4, seed=1)], 1)
    grid = (1e-4, 1e-2, 1.0)
    nested = fit_layer(Layer.prepare(x, folds, c), y, "logistic", Cs=grid)
    for f in (0, 4):
        keep = folds != f
        inner_folds = np.unique(folds[keep], return_inverse=True)[1]
        inner = Layer.prepare(x[keep], inner_folds, c[keep])
        aucs = [
            rank_auc(fit_layer(inner, y[keep], "logistic", c_fixed=C).scores(x[keep], inner_folds, c[keep]), y[keep])
            for C in grid
        ]
        chosen = np.argmax(np.stack(aucs), 0)  # per label column, ties to the smallest C
        for p in range(y.shape[1]):
            alone = fit_layer(inner, y[keep, p], "logistic", c_fixed=grid[chosen[p]])
            torch.testing.assert_close(nested.weight[p, f], alone.weight[0, -1], rtol=2e-3, atol=2e-4)
