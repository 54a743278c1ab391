"""Per-layer probes: planted recovery, chance under shuffled labels, agreement with sklearn, AUC helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from interp._util.errors import UserError
from interp.causal.directions import Direction
from interp.hooks.site import Site
from interp.stats.bootstrap import bootstrap_weights
from probes.data import ProbeData, planted
from probes.fit import ProbeConfig, ProbeResult, directions_for, fit_probes, weighted_auc
from probes.layer import Layer, rank_auc
from probes.linear import METHODS, fit_layer, fit_with_perms

pytestmark = pytest.mark.usefixtures("one_thread")

PLANTED = 3


@pytest.fixture(scope="module")
def planted_data() -> tuple[ProbeData, torch.Tensor]:
    return planted(n_words=100, per_word=6, n_layers=5, d_model=48, layer=PLANTED, seed=0)


@pytest.fixture(scope="module")
def result(planted_data: tuple[ProbeData, torch.Tensor]) -> ProbeResult:
    return fit_probes(planted_data[0], ProbeConfig(n_perm=30, n_boot=200), progress=False)


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0))


def test_planted_direction_and_layer_are_recovered(
    planted_data: tuple[ProbeData, torch.Tensor], result: ProbeResult
) -> None:
    u = planted_data[1]
    for method in METHODS:
        assert result.best_layer(method) == PLANTED
        assert float(result.directions[(method, PLANTED)].vector @ u) > 0.95
        row = result.table[(result.table.method == method) & (result.table.layer == PLANTED)].iloc[0]
        assert row.auc > 0.99 and row.acc > 0.95
        assert row.auc > row.null_auc_q95 and row.p_perm == pytest.approx(1 / 31)
        assert row.auc_lo <= row.auc <= row.auc_hi
    noise = result.table[result.table.layer != PLANTED]
    assert noise.auc.between(0.35, 0.65).all()
    assert list(result.table.columns[:10]) == [
        "model", "layer", "method", "auc", "auc_lo", "auc_hi", "acc", "null_auc_mean", "null_auc_q95", "p_perm"
    ]  # fmt: skip


def test_shuffled_labels_are_at_chance_inside_the_null_band(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    data, _ = planted_data
    shuffled = ProbeData(X=data.X, labels=data.permuted_labels(1, seed=11)[:, 0], groups=data.groups,
                         model_fingerprint="fp")  # fmt: skip
    table = fit_probes(shuffled, ProbeConfig(n_perm=30, n_boot=100), progress=False).table
    assert (table.auc <= table.null_auc_q95).all() and (table.p_perm > 0.05).all()
    # Grouped CV under the null sits a little below 0.5; the null band, not 0.5, is the reference.
    assert abs(table.auc.mean() - table.null_auc_mean.mean()) < 0.03
    assert table.null_auc_mean.between(0.4, 0.55).all() and (table.auc_lo < 0.5).all()


def test_directions_carry_provenance(
    planted_data: tuple[ProbeData, torch.Tensor], result: ProbeResult, tmp_path: Path
) -> None:
    data, _ = planted_data
    d = result.directions[("lda", PLANTED)]
    assert (d.site, d.method) == (Site(PLANTED, "resid_post", "readout"), "lda")
    assert (d.model_fingerprint, d.data_hash, d.lineage_id) == (data.model_fingerprint, data.data_hash, "planted")
    assert d.metrics["auc"] == pytest.approx(float(result.table.query("method == 'lda'").auc.iloc[PLANTED]))
    assert [x.site.layer for x in directions_for(result, "logistic")] == list(range(5))
    out = result.save(tmp_path / "probes")
    back = Direction.load(out / "directions" / f"lda_L{PLANTED}")
    assert torch.equal(back.vector, d.vector)
    assert (out / "probes.csv").read_text().count("\n") == 16
    meta = json.loads((out / "config.json").read_text())
    assert meta["provenance"]["data_hash"] == data.data_hash and meta["config"]["n_perm"] == 30
    with pytest.raises(UserError):
        result.best_layer("svm")


def test_logistic_matches_sklearn_at_fixed_c(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    data = planted_data[0]
    x = data.X[:, PLANTED]
    layer = Layer.prepare(x, data.fold_ids())
    scaler = StandardScaler().fit(x)
    for c in (1e-3, 1e-1):
        fit = fit_layer(layer, data.labels, "logistic", c_fixed=c, tol=1e-6)
        sk = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(scaler.transform(x), data.labels)
        w_sk = torch.from_numpy(sk.coef_[0] / scaler.scale_)
        assert cos(fit.direction(), w_sk) > 0.9999
        assert float(fit.direction().norm() / w_sk.norm()) == pytest.approx(1.0, rel=1e-3)
        b_sk = sk.intercept_[0] - float(scaler.mean_ @ (sk.coef_[0] / scaler.scale_))
        assert float(fit.bias[0, -1]) == pytest.approx(b_sk, abs=1e-3)


def test_fold_models_see_no_held_out_word(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    data = planted_data[0]
    folds = data.fold_ids()
    x = data.X[:, PLANTED].astype(np.float64)
    fit = fit_layer(Layer.prepare(data.X[:, PLANTED], folds), data.labels, "diff_means")
    for f in range(5):
        train = (folds != f) & (data.labels == 1), (folds != f) & (data.labels == 0)
        expected = x[train[0]].mean(0) - x[train[1]].mean(0)
        np.testing.assert_allclose(fit.weight[0, f].numpy(), expected, rtol=1e-4, atol=1e-5)
    scores = fit.scores(data.X[:, PLANTED], folds)[:, 0].numpy()
    for i in (0, 123, 599):
        f = folds[i]
        assert scores[i] == pytest.approx(
            float(data.X[i, PLANTED] @ fit.weight[0, f].numpy() + fit.bias[0, f]), rel=1e-5
        )


def test_lda_agrees_with_sklearn_shrinkage_lda(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    data = planted_data[0]
    layer = Layer.prepare(data.X[:, PLANTED], data.fold_ids())
    for j in (0, PLANTED):
        layer = Layer.prepare(data.X[:, j], data.fold_ids())
        sk = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(data.X[:, j], data.labels)
        assert cos(fit_layer(layer, data.labels, "lda").direction(), torch.from_numpy(sk.coef_[0])) > 0.98


def test_batched_columns_equal_separate_fits(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    data = planted_data[0]
    layer = Layer.prepare(data.X[:, 1], data.fold_ids())
    perms = data.permuted_labels(3, seed=5)
    for method in ("diff_means", "logistic"):
        both = fit_with_perms(layer, data.labels, perms, method)
        alone = fit_layer(layer, perms[:, 2], method)  # logistic: each column picks its own C
        torch.testing.assert_close(both.weight[3], alone.weight[0], rtol=1e-3, atol=1e-4)
        torch.testing.assert_close(both.c_reg[3], alone.c_reg[0], equal_nan=True)


def test_auc_helpers_match_sklearn_including_ties_and_weights() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # many ties
    assert rank_auc(s[:, None], y[:, None])[0] == pytest.approx(roc_auc_score(y, s))
    w = rng.integers(0, 4, size=(300, 3)).astype(float)
    for b in range(3):
        rep = np.repeat(np.arange(300), w[:, b].astype(int))
        assert weighted_auc(s, y, w)[b] == pytest.approx(roc_auc_score(y[rep], s[rep]))


def test_probe_bootstrap_resamples_whole_words_within_class(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    data = planted_data[0]
    w = bootstrap_weights(data.word_index, 20, seed=0, within=data.labels)  # the draw behind fit_probes' CI
    for b in range(20):
        per_word = {g: set(w[b, data.groups == g].tolist()) for g in data.words[:10]}
        assert all(len(v) == 1 for v in per_word.values())
        for c in (0, 1):
            assert w[b, data.labels == c].sum() == (data.labels == c).sum()


def test_bad_config_is_a_user_error(planted_data: tuple[ProbeData, torch.Tensor]) -> None:
    with pytest.raises(UserError):
        ProbeConfig(methods=("svm",))
    with pytest.raises(UserError):
        ProbeConfig(ci=1.5)
    with pytest.raises(UserError):
        fit_layer(Layer.prepare(planted_data[0].X[:, 0], planted_data[0].fold_ids()), planted_data[0].labels,
                  "logistic", Cs=(0.0,))  # fmt: skip
