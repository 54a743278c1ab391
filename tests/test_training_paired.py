"""Paired statistics over seed pairs: truth is detected, shams are not, and every number matches an
independent computation (brute-force sign flips, scipy's one-sample t, simulated power)."""

from __future__ import annotations

import doctest
import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from interp._util.errors import UserError
from interp.training import paired
from interp.training.paired import paired_effect, seeds_needed


def brute_force_p(d: np.ndarray | list[float]) -> float:
    """Share of all 2**n sign vectors whose |signed sum| reaches the observed |sum|, in exact arithmetic on the
    values as written (so 0.1 + 0.2 - 0.3 is a true zero)."""
    exact = [Fraction(repr(float(x))) for x in d]
    observed = abs(sum(exact, Fraction(0)))
    flips = list(itertools.product([-1, 1], repeat=len(exact)))
    hits = sum(abs(sum((s * x for s, x in zip(signs, exact, strict=True)), Fraction(0))) >= observed for signs in flips)
    return hits / len(flips)


def test_planted_truth_is_detected_with_the_exact_permutation_p() -> None:
    d = np.random.default_rng(11).normal(1.0, 0.5, 8)
    result = paired_effect(d)
    assert result.detected
    assert result.ci_low <= 1.0 <= result.ci_high
    assert result.p < 0.01
    assert result.p_permutation == brute_force_p(d)
    assert result.bootstrap_low > 0 and result.bootstrap_low <= result.effect <= result.bootstrap_high
    assert result.effect == pytest.approx(d.mean()) and result.sd == pytest.approx(d.std(ddof=1))
    assert result.n_rms == 8


@pytest.mark.parametrize(
    "d",
    [
        [1.0, -0.5, 2.0, 0.3, -1.0, 0.8, 0.1, 1.2],
        [1.0, 1.0, -1.0, 2.0, -2.0, 3.0, 0.5, -0.5, 1.5],  # many exact ties among the flips
        [0.1, 0.2, -0.3, 0.7, 0.05, -0.15],  # ties only in exact arithmetic (0.1 + 0.2 - 0.3)
    ],
)
def test_exact_permutation_p_matches_brute_force_with_mixed_signs(d: list[float]) -> None:
    expected = brute_force_p(d)
    assert paired_effect(d).p_permutation == expected
    assert 2 / 2 ** len(d) < expected < 1


def test_random_flips_approximate_the_exact_p_and_count_the_observed_statistic() -> None:
    d = np.random.default_rng(3).normal(0.4, 1.0, 18)
    signs = ((np.arange(2**18)[:, None] >> np.arange(18)) & 1) * 2.0 - 1.0
    exact = float(np.mean(np.abs(signs @ d) >= abs(d.sum()) * (1 - 1e-12)))
    result = paired_effect(d, seed=4)
    assert abs(result.p_permutation - exact) < 4 * math.sqrt(exact * (1 - exact) / 20_000)
    assert result.p_permutation == paired_effect(d, seed=4).p_permutation
    assert round(result.p_permutation * 20_001) == pytest.approx(result.p_permutation * 20_001)
    assert paired_effect(np.full(30, 5.0) + np.arange(30) / 100).p_permutation == 1 / 20_001


def test_sham_differences_are_rarely_detected() -> None:
    results = [paired_effect(np.random.default_rng(s).normal(0.0, 1.0, 8), seed=s) for s in range(200)]
    assert np.mean([r.detected for r in results]) <= 0.06
    assert np.mean([r.p < 0.05 for r in results]) <= 0.09
    assert np.mean([r.p_permutation < 0.05 for r in results]) <= 0.09


def test_t_interval_and_p_are_scipys_one_sample_t() -> None:
    d = np.random.default_rng(7).normal(0.3, 1.2, 12)
    reference = stats.ttest_1samp(d, 0.0)
    ci = reference.confidence_interval()
    result = paired_effect(d)
    assert (result.ci_low, result.ci_high, result.p) == (float(ci.low), float(ci.high), float(reference.pvalue))


def test_bootstrap_is_seeded_and_near_the_t_interval() -> None:
    d = np.random.default_rng(8).normal(1.0, 1.0, 20)
    a, b, c = paired_effect(d, seed=1), paired_effect(d, seed=1), paired_effect(d, seed=2)
    assert (a.bootstrap_low, a.bootstrap_high) == (b.bootstrap_low, b.bootstrap_high)
    assert a.bootstrap_low != c.bootstrap_low
    half = (a.ci_high - a.ci_low) / 2
    assert abs(a.bootstrap_low - a.ci_low) < 0.25 * half and abs(a.bootstrap_high - a.ci_high) < 0.25 * half


@pytest.mark.parametrize(("value", "p", "detected"), [(0.1, 0.0, True), (-2.0, 0.0, False), (0.0, 1.0, False)])
def test_constant_differences_collapse_the_interval_without_warnings(value: float, p: float, detected: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_effect([value] * 5)
    assert (result.effect, result.ci_low, result.ci_high) == (value, value, value)
    assert (result.bootstrap_low, result.bootstrap_high, result.sd) == (value, value, 0.0)
    assert result.p == p and result.detected is detected
    assert result.p_permutation == (1.0 if value == 0 else 2 / 32)


@pytest.mark.parametrize(
    ("d", "match"),
    [([1.0], "at least 2 seed pairs"), ([], "at least 2 seed pairs"), ([1.0, float("nan"), 2.0], "position 1")],
)
def test_too_few_or_non_finite_differences_are_refused(d: list[float], match: str) -> None:
    with pytest.raises(UserError, match=match) as refused:
        paired_effect(d)
    assert "\n" not in str(refused.value) and str(refused.value).endswith(".")


def test_as_row_holds_plain_python_values() -> None:
    row = paired_effect([1.0, 2.0, 1.5, 2.5, 1.2]).as_row(dose=np.float64(0.5))
    assert list(row) == [
        "dose",
        "effect",
        "ci_low",
        "ci_high",
        "p",
        "p_permutation",
        "bootstrap_low",
        "bootstrap_high",
        "unit",
        "n_rms",
        "sd",
        "detected",
    ]
    assert type(row["dose"]) is float and row["dose"] == 0.5
    assert (row["unit"], row["n_rms"], row["detected"]) == ("RM", 5, True)
    assert type(row["n_rms"]) is int and type(row["detected"]) is bool
    assert all(type(row[k]) is float for k in ["effect", "ci_low", "ci_high", "p", "p_permutation", "sd"])
    assert paired_effect([1.0, 2.0]).as_row()["dose"] is None


def test_seeds_needed_matches_the_power_table_and_a_simulation() -> None:
    assert seeds_needed(1.0, 1.0) == 10  # paired t, d = 1, power 0.8, alpha 0.05 (Cohen's table)
    assert seeds_needed(0.5, 1.0) == 34
    assert seeds_needed(-1.0, 1.0) == 10
    rng = np.random.default_rng(0)

    def simulated_power(n: int) -> float:
        return float(np.mean(stats.ttest_1samp(rng.normal(1.0, 1.0, (40_000, n)), 0.0, axis=1).pvalue < 0.05))

    assert simulated_power(9) < 0.78 and simulated_power(10) > 0.79


def test_seeds_needed_falls_with_effect_and_rises_with_power() -> None:
    counts = [seeds_needed(e, 1.0) or 0 for e in (0.3, 0.5, 1.0, 2.0)]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 4 and min(counts) >= 2
    assert (seeds_needed(1.0, 1.0, power=0.95) or 0) > 10
    assert (seeds_needed(1.0, 1.0, alpha=0.01) or 0) > 10


def test_seeds_needed_edge_cases() -> None:
    assert seeds_needed(0.0, 1.0) is None
    assert seeds_needed(0.01, 1.0) is None  # about 78,000 seed pairs
    assert seeds_needed(1.0, 0.0) == 2
    assert seeds_needed(50.0, 1.0) == 2  # a huge effect, where scipy's lower-tail nct.cdf returns nan
    with pytest.raises(UserError, match="sd non-negative"):
        seeds_needed(1.0, -1.0)
    with pytest.raises(UserError, match="strictly between 0 and 1"):
        seeds_needed(1.0, 1.0, power=1.0)


def test_module_docstring_example_runs() -> None:
    assert doctest.testmod(paired).failed == 0
