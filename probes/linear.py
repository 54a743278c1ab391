"""Batched linear probes for one layer, each fit inside every training fold in that fold's own frame:
L2 logistic regression with C chosen by nested cross-validation, difference of means, shrinkage LDA.

Every fitter takes one layer's activations with each example's test fold (`Layer.prepare`) and a label
matrix Y (n, P) — column 0 the true labels, further columns e.g. word-level permutations — and returns
scorers `x @ w + c @ v + b` for every fold (fit without that fold's words) and for all the data (index F).
One call gives cross-fitted held-out scores, a permutation null and the final direction.

The frame of a training set: whatever a probe learns from the activations it learns from its training
rows only. The covariates c given to `Layer.prepare` (e.g. word frequency and token length; none by
default) are regressed out of x by OLS with an intercept on the training rows, and the residuals are divided
by their standard deviation over those rows (population, as sklearn's StandardScaler); held-out rows go
through the same map. So no held-out example reaches the scaler, the residualisation or the choice of C.
In raw terms a scorer is x·w + c·v + b, with v = −(the covariates' OLS coefficients)·w (empty without
covariates).

- logistic: sklearn's objective C·Σ log-loss + ½‖w‖² on the standardised residuals with an unpenalised
  intercept, for every training set × label column × C value at once (`probes.lbfgs`). Each set is solved
  in the span of its own training rows, where the optimum lies, in the eigenbasis of their Gram matrix,
  which makes the Böhning bound ¼·ZᵀZ/n + λ diagonal (the initial inverse Hessian). C is chosen per label
  column by nested cross-validation: for the model of outer fold f, by the pooled AUC on each other outer
  fold g of the model trained without f and g (the outer folds serve as inner folds, so these are grouped
  by word too); for the all-data model, by the pooled held-out AUC of the outer-fold models. Ties go to the
  smallest C (strongest penalty), as in sklearn's LogisticRegressionCV. (Held-out log-loss would prefer
  weak penalties that only sharpen calibration.)
- diff_means: mean(class 1) − mean(class 0) of the residualised, unscaled activations; threshold at the
  midpoint.
- lda: Σ⁻¹δ on the standardised residuals, Σ the pooled within-class covariance shrunk towards a multiple
  of the identity with sklearn's Ledoit–Wolf intensity. The intensity is estimated for the true labels
  (column 0) and reused for the other columns, so Σ⁻¹δ for every column follows from one Cholesky solve
  per fold (the total covariance, then Sherman–Morrison for the rank-one between-class part). Under a
  permutation null the within-class and total covariances differ by a rank-one term only, so the reused
  intensity is the one the shuffled labels would give.

>>> X = torch.randn(200, 8); y = (torch.arange(200) % 2).float(); X[:, 0] += 3 * y
>>> fit = fit_layer(Layer.prepare(X, torch.arange(200) % 5), y, "diff_means")
>>> fit.weight.shape, int(fit.direction().abs().argmax())
(torch.Size([1, 6, 8]), 0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from interp._util.errors import UserError
from probes.closed_form import diff_means, lda
from probes.layer import ArrayLike, Layer, LayerFit
from probes.logistic import logistic

METHODS = ("logistic", "diff_means", "lda")
DEFAULT_CS = (1e-4, 1e-3, 1e-2, 1e-1)


def fit_layer(
    layer: Layer,
    Y: ArrayLike,
    method: str,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    c_fixed: float | None = None,
    max_iter: int = 500,
    tol: float = 1e-4,
    chunk: int = 32,
) -> LayerFit:
    """Fit `method` for every fold and label column of Y (n,) or (n, P); see the module docstring.

    For logistic, C is chosen from `Cs` per label column unless `c_fixed` pins it (to refit at a known C);
    label columns are solved `chunk` at a time to bound memory."""
    y = torch.as_tensor(Y).float()
    y = y[:, None] if y.ndim == 1 else y
    if method == "diff_means":
        return diff_means(layer, y)
    if method == "lda":
        return lda(layer, y)
    if method == "logistic":
        grid = tuple(sorted(Cs)) if c_fixed is None else (float(c_fixed),)
        if not grid or min(grid) <= 0:
            raise UserError(f"Logistic C values must be positive, got {grid}.")
        return logistic(layer, y, grid, max_iter, tol, chunk)
    raise UserError(f"Unknown probe method {method!r}; use one of {METHODS}.")


def fit_with_perms(
    layer: Layer,
    labels: np.ndarray,
    perms: np.ndarray,
    method: str,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    max_iter: int = 500,
    tol: float = 1e-4,
    chunk: int = 32,
) -> LayerFit:
    """Column 0 fits the true labels (n,), columns 1.. the permuted labels (n, P), each by the whole
    procedure — for logistic each column chooses its own C by nested CV — so a permutation null includes
    that choice."""
    y = np.concatenate([labels[:, None], perms], 1)
    return fit_layer(layer, y, method, Cs=Cs, max_iter=max_iter, tol=tol, chunk=chunk)
