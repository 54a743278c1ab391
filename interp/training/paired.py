"""Paired statistics over seed pairs: is a per-seed effect (planted minus unplanted RM) reliably non-zero?

RMs are trained in seed pairs (one from the planted base, one from the unplanted base, same head draw and
data order), so the unit of a claim is the seed pair: each contributes one difference, e.g. the rank gain of
the planted words (unplanted-base mean rank minus planted-base mean rank; positive = the planted direction).
`paired_effect` summarises the differences with a paired t-test and its 95% CI, a sign-flip permutation test
and a bootstrap CI over seed pairs; `seeds_needed` says how many seed pairs a paired t-test needs to detect
an effect of a given size with a given power.

>>> result = paired_effect([1.0, 2.0, 1.5, 2.5, 1.2])
>>> result.detected, result.n_rms, round(result.effect, 2), result.p_permutation
(True, 5, 1.64, 0.0625)
>>> seeds_needed(effect=1.0, sd=1.0)
10
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from interp._util.errors import UserError
from interp.stats.bootstrap import mean_interval

EXACT_LIMIT = 100_000
RANDOM_FLIPS = 20_000
BOOTSTRAP = 10_000
MAX_SEEDS = 10_000


@dataclass(frozen=True)
class PairedEffect:
    """Mean over seed pairs of a per-seed difference, with paired t, permutation and bootstrap inference."""

    effect: float
    ci_low: float
    ci_high: float
    p: float
    p_permutation: float
    bootstrap_low: float
    bootstrap_high: float
    n_rms: int
    sd: float
    unit: str = "RM (seed pair)"
    test: str = "paired t (95% CI), sign-flip permutation, bootstrap over seed pairs"

    @property
    def detected(self) -> bool:
        """The paired t 95% CI lies wholly above 0 (an effect in the planted direction)."""
        return self.ci_low > 0

    def as_row(self, dose: float | None = None) -> dict[str, float | int | bool | str | None]:
        """A table row of plain Python values, optionally tagged with the plant's dose."""
        return {
            "dose": None if dose is None else float(dose),
            "effect": self.effect,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p": self.p,
            "p_permutation": self.p_permutation,
            "bootstrap_low": self.bootstrap_low,
            "bootstrap_high": self.bootstrap_high,
            "unit": "RM",
            "n_rms": self.n_rms,
            "sd": self.sd,
            "detected": self.detected,
        }


def _sign_flip_p(d: np.ndarray, seed: int) -> float:
    """Two-sided sign-flip p of |sum|: exact over all 2**n flips when few enough, else random flips."""
    n = len(d)
    if 2**n <= EXACT_LIMIT:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
        sums = np.abs(signs @ d)
        observed = sums[-1]  # the all-plus row
    else:
        signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(RANDOM_FLIPS, n))
        sums = np.abs(signs @ d)
        observed = abs(float(d.sum()))
    # Sums that tie the observed one in exact arithmetic can differ from it by rounding alone.
    count = int(np.sum(sums >= observed - 100 * np.finfo(float).eps * observed))
    return count / 2**n if 2**n <= EXACT_LIMIT else (1 + count) / (1 + RANDOM_FLIPS)


def paired_effect(differences: Sequence[float] | np.ndarray, seed: int = 0) -> PairedEffect:
    """Paired inference on one difference per seed pair (mean, t CI and p, permutation p, bootstrap CI)."""
    d = np.asarray(differences, dtype=float).ravel()
    if len(d) < 2:
        raise UserError(f"A paired effect needs at least 2 seed pairs (got {len(d)}); train more seed pairs.")
    if not np.all(np.isfinite(d)):
        bad = ", ".join(str(i) for i in np.flatnonzero(~np.isfinite(d)))
        raise UserError(f"Per-seed differences must be finite (not at position {bad}); rerun or drop those seeds.")
    p_permutation = _sign_flip_p(d, seed)
    if np.all(d == d[0]):
        value = float(d[0])
        p = 0.0 if value != 0 else 1.0
        return PairedEffect(value, value, value, p, p_permutation, value, value, len(d), 0.0)
    test = stats.ttest_1samp(d, 0.0)
    low, high = test.confidence_interval(0.95)
    boot_low, boot_high = mean_interval(d, BOOTSTRAP, seed)
    return PairedEffect(
        float(d.mean()),
        float(low),
        float(high),
        float(test.pvalue),
        p_permutation,
        float(boot_low),
        float(boot_high),
        len(d),
        float(d.std(ddof=1)),
    )


def seeds_needed(effect: float, sd: float, power: float = 0.8, alpha: float = 0.05) -> int | None:
    """Fewest seed pairs (>= 2) for a two-sided paired t-test at `alpha` to detect `effect` with `power`.

    Power is exact (noncentral t with n - 1 degrees of freedom and noncentrality effect / sd * sqrt(n)).
    None when the effect is 0 or more than 9,999 seed pairs would be needed; 2 when sd is 0.
    """
    if not (math.isfinite(effect) and math.isfinite(sd) and sd >= 0):
        raise UserError(f"Effect and sd must be finite and sd non-negative (got {effect} and {sd}).")
    if not (0 < power < 1 and 0 < alpha < 1):
        raise UserError(f"Power and alpha must lie strictly between 0 and 1 (got {power} and {alpha}).")
    if effect == 0:
        return None
    if sd == 0:
        return 2
    n = np.arange(2, MAX_SEEDS)
    df = n - 1
    critical = stats.t.isf(alpha / 2, df)
    shift = abs(effect) / sd * np.sqrt(n)
    # The lower tail as the upper tail of -shift: nct.cdf returns nan far in its lower tail.
    achieved = stats.nct.sf(critical, df, shift) + stats.nct.sf(critical, df, -shift)
    enough = np.flatnonzero(achieved >= power)
    return int(n[enough[0]]) if len(enough) else None
