"""The one bootstrap: units drawn with replacement within strata, as weights; intervals; the crossed RM × prompt CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from interp.stats.bootstrap import bootstrap_weights, mean_interval, percentile_interval
from interp.stats.tests import bootstrap_cis


def test_weights_resample_whole_units_within_strata() -> None:
    units = np.array(["a", "a", "b", "c", "d", "d", "d", "e"])
    strata = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # a, b, c in stratum 0; d, e in stratum 1
    w = bootstrap_weights(units, 500, seed=3, within=strata)
    assert w.shape == (500, 8) and w.dtype == np.float64
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 4] == w[:, 5]).all() and (w[:, 5] == w[:, 6]).all()
    np.testing.assert_array_equal(w[:, [0, 2, 3]].sum(axis=1), 3)  # three units drawn in stratum 0
    np.testing.assert_array_equal(w[:, [4, 7]].sum(axis=1), 2)
    assert set(np.unique(w[:, 0])) == {0.0, 1.0, 2.0, 3.0}
    assert abs(w[:, 0].mean() - 1.0) < 0.15  # each unit is drawn once on average
    np.testing.assert_array_equal(w, bootstrap_weights(units, 500, seed=3, within=strata))
    assert not np.array_equal(w, bootstrap_weights(units, 500, seed=4, within=strata))


def test_a_generator_continues_its_stream() -> None:
    rng = np.random.default_rng(0)
    first, second = bootstrap_weights(range(5), 10, rng), bootstrap_weights(range(5), 10, rng)
    assert not np.array_equal(first, second)
    both = bootstrap_weights(range(5), 20, 0)
    np.testing.assert_array_equal(first, both[:10])  # one rng.integers call of shape (n_boot, n) per stratum


def test_mean_interval_is_the_plain_resampled_mean() -> None:
    x = np.random.default_rng(1).normal(size=13)
    draws = x[np.random.default_rng(7).integers(0, 13, size=(4000, 13))].mean(axis=1)
    assert mean_interval(x, 4000, 7) == pytest.approx(tuple(np.quantile(draws, [0.025, 0.975])), abs=1e-12)


def test_clusters_are_resampled_whole() -> None:
    # two prompts' values per RM: resampling RMs is resampling the RM means
    values = np.array([1.0, 3.0, 10.0, 12.0, 4.0, 8.0])
    units = ["r1", "r1", "r2", "r2", "r3", "r3"]
    by_rm = np.array([2.0, 11.0, 6.0])
    assert mean_interval(values, 3000, 5, units=units) == pytest.approx(mean_interval(by_rm, 3000, 5), abs=1e-12)


def test_mean_interval_is_near_the_t_interval_for_a_normal_sample() -> None:
    x = np.random.default_rng(2).normal(5.0, 2.0, size=60)
    low, high = mean_interval(x, 20_000, 0)
    t_low, t_high = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    half = (t_high - t_low) / 2
    assert abs(low - t_low) < 0.1 * half and abs(high - t_high) < 0.1 * half


def test_percentile_interval_per_column() -> None:
    low, high = percentile_interval(np.column_stack([np.arange(101.0), 2 * np.arange(101.0)]), 0.5)
    np.testing.assert_allclose(low, [25.0, 50.0])
    np.testing.assert_allclose(high, [75.0, 150.0])


def test_bad_units_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one stratum"):
        bootstrap_weights(["a", "a", "b"], 5, within=[0, 1, 1])
    with pytest.raises(ValueError, match="differ in length"):
        bootstrap_weights(["a", "b"], 5, within=[0])


def _medians(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (f"m{m}", "ab"[m % 2], f"{framing}{p}", framing, cat, rng.normal(50, 5))
        for m in range(5)
        for framing in ("negative", "positive")
        for p in range(4)
        for cat in ("agency", "communion")
    ]
    return pd.DataFrame(rows, columns=["model", "family", "prompt", "framing", "category", "median_rank"])


def test_crossed_cis_equal_resampling_rms_and_prompts_by_hand() -> None:
    medians = _medians(0)
    got = bootstrap_cis(medians, n_boot=200, seed=11).set_index(["quantity", "family", "framing", "category"])
    models, prompts = sorted(medians["model"].unique()), sorted(medians["prompt"].unique())
    family = np.array(["ab"[int(m[1]) % 2] for m in models])
    framing = np.array([p.rstrip("0123456789") for p in prompts])
    rng = np.random.default_rng(11)
    wm = bootstrap_weights(models, 200, rng, within=family)
    wp = bootstrap_weights(prompts, 200, rng, within=framing)
    cell = medians.set_index(["model", "prompt", "category"])["median_rank"]
    draws = []
    for b in range(200):  # the resampled data set, row by row, and its cell means
        ms, ps = np.repeat(models, wm[b].astype(int)), np.repeat(prompts, wp[b].astype(int))
        frame = pd.DataFrame([(m, p, c, cell[m, p, c]) for m in ms for p in ps for c in ("agency", "communion")])
        frame.columns = ["model", "prompt", "category", "rank"]
        frame["family"] = frame["model"].map(dict(zip(models, family, strict=True)))
        frame["framing"] = frame["prompt"].map(dict(zip(prompts, framing, strict=True)))
        draws.append(frame.groupby(["family", "framing", "category"])["rank"].mean())
    means = pd.concat(draws, axis=1)
    point = medians.groupby(["family", "framing", "category"])["median_rank"].mean()
    assert len(means) == len(point) == 8
    for (fam, fr, cat), replicate in means.iterrows():
        row = got.loc[("mean", fam, fr, cat)]
        assert row["estimate"] == pytest.approx(point[fam, fr, cat], abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(np.quantile(replicate, [0.025, 0.975])))


def test_crossed_cis_collapse_when_units_do_not_vary() -> None:
    medians = _medians(1)
    medians["median_rank"] = medians["family"].map({"a": 10.0, "b": 20.0}) + (medians["category"] == "agency")
    cis = bootstrap_cis(medians, n_boot=100)
    np.testing.assert_allclose(cis["ci_low"], cis["estimate"])
    np.testing.assert_allclose(cis["ci_high"], cis["estimate"])
    diff = cis.query("quantity == 'difference'")
    np.testing.assert_allclose(diff["estimate"], 10.0)
