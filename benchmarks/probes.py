"""Probe fitting speed at SmolLM2's shape and planted-direction recovery, one run.

Activations are random, of SmolLM2-135M's shape (2,000 examples of 200 words × 30 layers × 576 dims), with
a unit direction planted at layer 17 (`probes.data.planted`). Timed: `fit_probes` for all three methods
(logistic with a 4-value C grid, difference of means, LDA) with grouped 5-fold CV at every layer, first
without the null and bootstrap, then with them. The sklearn way (StandardScaler + LogisticRegressionCV on
the same grouped folds, LinearDiscriminantAnalysis(lsqr, auto) and class means per fold) is timed on a few
layers and scaled to 30.

    python -m benchmarks.probes --quick     # null: 20 permutations, 200 bootstraps; sklearn on 1 layer
    python -m benchmarks.probes             # null: 100 permutations, 1,000 bootstraps; sklearn on 3 layers

Both sides run on `--threads` threads (torch and BLAS; default 1). The per-layer matrices are small, and on
a shared, busy machine two spinning OpenMP threads were measured ~8× slower than one (CPU time is printed
too, so a busy machine shows as wall ≫ CPU).

The last line printed is a JSON object with `seconds_all_layers_cv` and `planted_cosine` (the smallest
cosine of a method's recovered direction with the planted one).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from probes.data import ProbeData, planted
from probes.fit import ProbeConfig, fit_probes
from probes.linear import DEFAULT_CS, METHODS

PLANTED_LAYER = 17


def _sklearn_layer(x: np.ndarray, data: ProbeData, splits: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """What the three probes cost the usual way on one layer (CV scores and an all-data fit each)."""
    y = data.labels
    logistic = LogisticRegressionCV(
        Cs=list(DEFAULT_CS), cv=splits, scoring="roc_auc", l1_ratios=(0.0,), use_legacy_attributes=False
    )
    make_pipeline(StandardScaler(), logistic).fit(x, y)
    for train, _ in [*splits, (np.arange(len(y)), None)]:
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x[train], y[train])
        _ = x[train][y[train] == 1].mean(0) - x[train][y[train] == 0].mean(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller null, bootstrap and sklearn sample")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads for both sides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        run(args.quick)


def run(quick: bool) -> None:
    """Time, check recovery and print the summary; the last line is the JSON object."""
    n_perm, n_boot, sk_layers = (20, 200, 1) if quick else (100, 1000, 3)
    data, u = planted(n_words=200, per_word=10, n_layers=30, d_model=576, layer=PLANTED_LAYER, seed=0)
    print(
        f"shape {data.X.shape}, {data.n_words} words, torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    small, _ = planted(n_words=40, per_word=5, n_layers=2, d_model=32, layer=1, seed=1)
    fit_probes(small, ProbeConfig(n_perm=2, n_boot=2), progress=False)  # warm-up

    wall, cpu = time.perf_counter(), time.process_time()
    result = fit_probes(data, ProbeConfig(n_perm=0, n_boot=0), progress=False)
    seconds_cv, cpu_cv = time.perf_counter() - wall, time.process_time() - cpu
    print(f"all layers × 3 methods, 5-fold grouped CV: {seconds_cv:.2f} s wall, {cpu_cv:.2f} s CPU")

    wall = time.perf_counter()
    full = fit_probes(data, ProbeConfig(n_perm=n_perm, n_boot=n_boot), progress=False)
    seconds_null = time.perf_counter() - wall
    print(f"... plus {n_perm}-permutation null and {n_boot}-word-bootstrap CIs: {seconds_null:.2f} s")

    splits = data.splits(5, 0)
    wall = time.perf_counter()
    for j in range(sk_layers):
        _sklearn_layer(data.X[:, j, :].copy(), data, splits)
    sklearn_30 = (time.perf_counter() - wall) / sk_layers * data.n_layers
    print(f"sklearn, scaled from {sk_layers} layer(s) to 30: {sklearn_30:.1f} s")

    cosines = {m: float(result.directions[(m, PLANTED_LAYER)].vector @ u) for m in METHODS}
    best = {m: result.best_layer(m) for m in METHODS}
    rows = full.table[full.table.layer == PLANTED_LAYER].set_index("method")
    others = full.table[full.table.layer != PLANTED_LAYER]
    print(f"planted layer {PLANTED_LAYER}: cosine {cosines}, best layer {best}")
    print(
        f"planted-layer AUC {rows.auc.round(4).to_dict()}, p {rows.p_perm.round(4).to_dict()}; "
        f"other layers: AUC ≤ null q95 in {(others.auc <= others.null_auc_q95).mean():.0%} of rows"
    )
    print(
        json.dumps(
            {
                "seconds_all_layers_cv": round(seconds_cv, 3),
                "cpu_seconds_all_layers_cv": round(cpu_cv, 3),
                "seconds_with_null_and_ci": round(seconds_null, 3),
                "n_perm": n_perm,
                "n_boot": n_boot,
                "sklearn_seconds_all_layers_est": round(sklearn_30, 2),
                "speedup_vs_sklearn": round(sklearn_30 / seconds_cv, 1),
                "planted_cosine": round(min(cosines.values()), 4),
                "planted_cosine_by_method": {m: round(c, 4) for m, c in cosines.items()},
                "planted_best_layer_by_method": best,
                "planted_layer": PLANTED_LAYER,
                "shape": list(data.X.shape),
                "torch_threads": torch.get_num_threads(),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
