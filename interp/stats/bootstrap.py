"""The one bootstrap: the resampled unit is an argument, a replicate is a weight per observation.

`bootstrap_weights(units, n_boot, seed, within=...)` draws, in each replicate, the distinct units (a label per
observation: the prompt, the RM, the seed pair, the word) with replacement, as many as there are, within each
stratum of `within` (e.g. RMs within family, words within class); an observation's weight is how often its
unit was drawn. Any weighted statistic of the observations then gives the bootstrap distribution, so one
draw serves means, differences of group means, crossed designs (multiply the weights of two units) and
refitted probes. `percentile_interval` turns the replicates into an interval; `mean_interval` is the common
case, the mean of one value per unit.

>>> import numpy as np
>>> w = bootstrap_weights(["p1", "p1", "p2", "p3"], n_boot=2, seed=0)  # two rows per replicate share p1's draw
>>> w.shape, bool((w[:, 0] == w[:, 1]).all()), w[:, [0, 2, 3]].sum(axis=1).tolist()
((2, 4), True, [3.0, 3.0])
>>> low, high = mean_interval(np.arange(10.0), n_boot=2000, seed=0)
>>> bool(2.5 < low < 4.5 < high < 6.5)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


def bootstrap_weights(
    units: ArrayLike,
    n_boot: int,
    seed: int | np.random.Generator = 0,
    within: ArrayLike | None = None,
) -> np.ndarray:
    """(n_boot, n_observations) multiplicities of a bootstrap of `units` (one label per observation),
    drawn with replacement within each `within` stratum (strata and units in order of first appearance;
    one `rng.integers` call per stratum, so a generator passed as `seed` gives reproducible joint draws)."""
    codes = pd.factorize(np.asarray(units))[0]
    strata = np.zeros(len(codes), dtype=np.int64) if within is None else pd.factorize(np.asarray(within))[0]
    if len(strata) != len(codes):
        raise ValueError(f"units and within differ in length ({len(codes)} vs {len(strata)}).")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    weights = np.zeros((n_boot, len(codes)))
    for stratum in range(strata.max(initial=-1) + 1):
        rows = np.flatnonzero(strata == stratum)
        members, position = np.unique(codes[rows], return_inverse=True)  # codes number units by first appearance
        if np.isin(members, codes[strata != stratum]).any():
            raise ValueError("A unit lies in more than one stratum; each unit must belong to one stratum.")
        n = len(members)
        draws = rng.integers(0, n, size=(n_boot, n))
        counts = np.bincount((draws + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n)
        weights[:, rows] = counts.reshape(n_boot, n)[:, position]
    return weights


def percentile_interval(replicates: ArrayLike, level: float = 0.95) -> tuple[Any, Any]:
    """Central `level` percentile interval of bootstrap replicates along the first axis (floats for 1-d input).

    >>> percentile_interval(np.arange(101.0), 0.5)
    (25.0, 75.0)
    """
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(replicates, dtype=float), [tail, 1 - tail], axis=0)
    return (float(low), float(high)) if low.ndim == 0 else (low, high)


def mean_interval(
    values: ArrayLike,
    n_boot: int = 2000,
    seed: int | np.random.Generator = 0,
    level: float = 0.95,
    units: ArrayLike | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values`, resampling `units` (default: each value is one).

    >>> mean_interval([2.0, 2.0, 2.0], n_boot=50)
    (2.0, 2.0)
    """
    x = np.asarray(values, dtype=float)
    weights = bootstrap_weights(np.arange(len(x)) if units is None else units, n_boot, seed)
    low, high = percentile_interval(weights @ x / weights.sum(axis=1), level)
    return float(low), float(high)
