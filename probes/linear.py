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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch
from scipy.stats import rankdata

from interp._util.errors import UserError
from probes.lbfgs import minimise_logistic

METHODS = ("logistic", "diff_means", "lda")
DEFAULT_CS = (1e-4, 1e-3, 1e-2, 1e-1)

ArrayLike = torch.Tensor | np.ndarray


def rank_auc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUC of each column of scores (n, P) against 0/1 labels (n, P), ties counted half (Mann–Whitney).

    >>> rank_auc(np.array([[0.1], [0.4], [0.35], [0.8]]), np.array([[0], [0], [1], [1]])).tolist()
    [0.75]
    """
    s = np.asarray(scores, dtype=np.float64).reshape(len(scores), -1)
    y = np.asarray(labels).reshape(len(labels), -1).astype(bool)
    ranks = rankdata(s, axis=0)
    n1 = y.sum(0)
    n0 = y.shape[0] - n1
    return np.asarray(((ranks * y).sum(0) - n1 * (n1 + 1) / 2) / (n1 * n0))


@dataclass(frozen=True, eq=False)
class LayerFit:
    """Scorers x @ weight[p, f] + c @ cov_weight[p, f] + bias[p, f] for label column p and fold f (f = F: all
    data); c are the covariates the fit residualised out (k = 0 without)."""

    weight: torch.Tensor  # (P, F + 1, d), raw coordinate frame
    bias: torch.Tensor  # (P, F + 1)
    c_reg: torch.Tensor  # (P,) the L2 strength C chosen for the all-data model (logistic), NaN otherwise
    cov_weight: torch.Tensor  # (P, F + 1, k)

    @property
    def n_folds(self) -> int:
        return int(self.weight.shape[1]) - 1

    def scores(self, X: ArrayLike, fold_id: ArrayLike, covariates: ArrayLike | None = None) -> torch.Tensor:
        """Cross-fitted decision values (n, P): each example is scored by the model that never saw its word.

        X may be another model's activations on the same inputs (transfer); a fit with covariates needs them."""
        x = torch.as_tensor(X, dtype=torch.float32)
        fold = torch.as_tensor(fold_id)
        k = self.cov_weight.shape[-1]
        if k and covariates is None:
            raise UserError("This probe was fit with covariates regressed out; pass the covariates to score it.")
        c = torch.as_tensor(covariates if k else np.zeros((len(x), 0)), dtype=torch.float32).reshape(len(x), k)
        out = torch.empty(x.shape[0], self.weight.shape[0])
        for f in range(self.n_folds):
            rows = fold == f
            out[rows] = x[rows] @ self.weight[:, f].T + c[rows] @ self.cov_weight[:, f].T + self.bias[:, f]
        return out

    def direction(self, p: int = 0) -> torch.Tensor:
        """The all-data weight vector on x for label column p (unnormalised)."""
        return self.weight[p, -1]


@dataclass(frozen=True, eq=False)
class Frames:
    """Training-set frames: per set s, the OLS coefficients (S, k + 1, d) of the activations on
    c1 = [1, covariates] over the set's rows and the residuals' standard deviation (S, d) there. The features
    of set s are (x − c1 @ coef[s]) / scale[s]."""

    c1: torch.Tensor  # (n, k + 1), float64
    coef: torch.Tensor
    scale: torch.Tensor

    def features(self, x: torch.Tensor, s: int, scaled: bool = True) -> torch.Tensor:
        """Every example in set s's frame, float64 (n, d)."""
        r = x.double() - self.c1 @ self.coef[s]
        return r / self.scale[s] if scaled else r

    def to_raw(
        self, w: torch.Tensor, b: torch.Tensor, scaled: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Map scorers features_s @ w[s] + b[s] (w: (S, d, K), b: (S, K)) to raw weights (S, K, d), covariate
        weights (S, K, k) and biases (S, K), float32."""
        w_raw = w.double() / self.scale[:, :, None] if scaled else w.double()
        v = -(self.coef @ w_raw)
        bias = b.double() + v[:, 0]
        return (
            w_raw.transpose(1, 2).float().contiguous(),
            v[:, 1:].transpose(1, 2).float().contiguous(),
            bias.float(),
        )


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer's raw activations x (n, d), each example's test fold, the training masks (n, F + 1) of the
    fold models and the all-data model, and the covariates (n, k) regressed out inside every training set."""

    x: torch.Tensor
    fold: torch.Tensor
    masks: torch.Tensor  # bool
    covariates: torch.Tensor  # float64, k may be 0

    @classmethod
    def prepare(cls, X: ArrayLike, fold_id: ArrayLike, covariates: ArrayLike | None = None) -> Layer:
        x = torch.as_tensor(X, dtype=torch.float32)
        n = x.shape[0]
        fold = torch.as_tensor(fold_id).long()
        if fold.shape != (n,) or int(fold.min()) != 0:
            raise UserError(f"Need one fold id (0..F-1) per example; got {tuple(fold.shape)} for {n}.")
        c = torch.zeros(n, 0) if covariates is None else torch.as_tensor(covariates)
        c = c.to(torch.float64).reshape(c.shape[0], -1)
        if c.shape[0] != n or not bool(torch.isfinite(c).all()):
            raise UserError(f"Need finite covariates, one row per example; got shape {tuple(c.shape)} for {n}.")
        n_folds = int(fold.max()) + 1
        masks = torch.stack([fold != f for f in range(n_folds)] + [torch.ones_like(fold, dtype=torch.bool)], 1)
        return cls(x, fold, masks, c)

    @property
    def n_folds(self) -> int:
        return int(self.masks.shape[1]) - 1

    def frames(self, masks: torch.Tensor) -> Frames:
        """The frames of the training sets given as the boolean columns of masks (n, S)."""
        n, S = masks.shape
        c1 = torch.cat([torch.ones(n, 1, dtype=torch.float64), self.covariates], 1)
        x, m = self.x.double(), masks.double()
        mc = (m[:, :, None] * c1[:, None, :]).reshape(n, -1)
        gram = (mc.T @ c1).reshape(S, c1.shape[1], c1.shape[1])
        cross = (mc.T @ x).reshape(S, c1.shape[1], -1)
        coef = torch.linalg.pinv(gram, hermitian=True) @ cross
        var = (m.T @ x.square() - (coef * cross).sum(1)) / m.sum(0)[:, None]
        scale = var.clamp_min(0).sqrt()
        ok = scale > 1e-6 * scale.amax(1, keepdim=True).clamp_min(1e-30)
        return Frames(c1, coef, torch.where(ok, scale, torch.ones_like(scale)))


def _layer_fit(weight: torch.Tensor, cov: torch.Tensor, bias: torch.Tensor, c_reg: torch.Tensor) -> LayerFit:
    """A LayerFit from per-set raw scorers (`Frames.to_raw`): weight (S, P, d), cov (S, P, k), bias (S, P)."""
    return LayerFit(weight.transpose(0, 1).contiguous(), bias.T.contiguous(), c_reg, cov.transpose(0, 1).contiguous())


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
        return _diff_means(layer, y)
    if method == "lda":
        return _lda(layer, y)
    if method == "logistic":
        grid = tuple(sorted(Cs)) if c_fixed is None else (float(c_fixed),)
        if not grid or min(grid) <= 0:
            raise UserError(f"Logistic C values must be positive, got {grid}.")
        return _logistic(layer, y, grid, max_iter, tol, chunk)
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


def _class_means(
    x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per fold and label column: class means (d, F1, P) and counts (F1, P)."""
    n, d = x.shape
    m = masks.to(x.dtype)
    w1 = m[:, :, None] * y.to(x.dtype)[:, None, :]
    w0 = m[:, :, None] * (1 - y.to(x.dtype))[:, None, :]
    n1, n0 = w1.sum(0), w0.sum(0)
    mu1 = (x.T @ w1.reshape(n, -1)).reshape(d, *n1.shape) / n1
    mu0 = (x.T @ w0.reshape(n, -1)).reshape(d, *n0.shape) / n0
    return mu1, mu0, n1, n0


def _diff_means(layer: Layer, y: torch.Tensor) -> LayerFit:
    frames = layer.frames(layer.masks)
    d = layer.x.shape[1]
    mu1, mu0, _, _ = _class_means(torch.cat([layer.x.double(), frames.c1], 1), y, layer.masks)
    # Class means of the residuals x − c1 @ coef[s]: linear in the class means of x and of c1.
    r1, r0 = (mu[:d] - torch.einsum("skd,ksp->dsp", frames.coef, mu[d:]) for mu in (mu1, mu0))
    w = (r1 - r0).permute(1, 0, 2)  # (S, d, P)
    b = -(w * (r1 + r0).permute(1, 0, 2) / 2).sum(1)
    return _layer_fit(*frames.to_raw(w, b, scaled=False), torch.full((y.shape[1],), math.nan))


def _ledoit_wolf(cov: torch.Tensor, sq_norms: torch.Tensor) -> float:
    """Ledoit–Wolf shrinkage intensity (sklearn's formula) from a covariance and its centred rows' ‖x‖²."""
    n, d = sq_norms.numel(), cov.shape[0]
    mu = float(torch.trace(cov)) / d
    delta_ = float((cov * cov).sum())
    beta_ = float((sq_norms.double() ** 2).sum())
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - d * mu**2) / d
    beta = min(beta, delta)
    return 0.0 if beta <= 0 else beta / delta


def _lda(layer: Layer, y: torch.Tensor) -> LayerFit:
    frames = layer.frames(layer.masks)
    F1, d, P = layer.masks.shape[1], layer.x.shape[1], y.shape[1]
    w = torch.empty(F1, d, P, dtype=torch.float64)
    b = torch.empty(F1, P, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    for s in range(F1):
        rows = layer.masks[:, s]
        z, ys = frames.features(layer.x, s)[rows], y[rows].double()  # z is centred: OLS with an intercept
        nf = z.shape[0]
        n1 = ys.sum(0)
        n0 = nf - n1
        mu1, mu0 = z.T @ ys / n1, z.T @ (1 - ys) / n0
        delta = mu1 - mu0
        between = n1 * n0 / nf**2  # total cov = within cov + between · δδᵀ, per column
        zf = z.float()
        total = (zf.T @ zf).double() / nf  # the d × d product in float32, as it is the costly one
        within = total - between[0] * torch.outer(delta[:, 0], delta[:, 0])
        dist = (z - torch.where(ys[:, :1].bool(), mu1[:, 0], mu0[:, 0])).square().sum(1)
        alpha = _ledoit_wolf(within, dist)
        shrunk = (1 - alpha) * total + alpha * float(torch.trace(within)) / d * eye
        chol, info = torch.linalg.cholesky_ex(shrunk)
        if int(info) != 0:
            chol = torch.linalg.cholesky(shrunk + 1e-8 * float(torch.trace(total)) / d * eye)
        sol = torch.cholesky_solve(delta, chol)
        # Sherman–Morrison: from the shrunk total covariance back to the shrunk within-class one.
        sol = sol / (1 - (1 - alpha) * between * (delta * sol).sum(0))
        w[s] = sol
        b[s] = -(sol * (mu1 + mu0) / 2).sum(0) + torch.log(n1 / n0)
    return _layer_fit(*frames.to_raw(w, b), torch.full((P,), math.nan))


@dataclass(frozen=True, eq=False)
class _Designs:
    """Logistic designs of S training sets: per set, every example's coordinates [z V, 1] (S, n, R + 1) in an
    orthonormal basis V of the span of the set's standardised training rows (zero-padded to R), the
    eigenvalues (S, R) of those rows' Gram matrix there, and V itself (S, d, R; width 0 unless asked for)."""

    frames: Frames
    masks: torch.Tensor
    design: torch.Tensor
    eig: torch.Tensor
    basis: torch.Tensor

    @classmethod
    def build(cls, layer: Layer, masks: torch.Tensor, with_basis: bool) -> _Designs:
        frames = layer.frames(masks)
        parts = [_span(frames.features(layer.x, s).float(), masks[:, s], with_basis) for s in range(masks.shape[1])]
        R = max(p[0].shape[1] for p in parts)
        S, n, d = masks.shape[1], *layer.x.shape
        design, eig = torch.zeros(S, n, R + 1), torch.zeros(S, R)
        basis = torch.zeros(S, d, R if with_basis else 0, dtype=torch.float64)
        for s, (coords, values, v) in enumerate(parts):
            r = values.numel()
            design[s, :, :r], eig[s, :r] = coords, values
            basis[s, :, : v.shape[1]] = v
        design[:, :, R] = 1
        return cls(frames, masks, design, eig, basis)

    def solve(
        self, y: torch.Tensor, Cs: tuple[float, ...], max_iter: int, tol: float, chunk: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit every set × label column × C; returns every example's scores (S, n, P, G) and the coefficients
        (S, R + 1, P, G) in the basis."""
        S, n, D = self.design.shape
        G = len(Cs)
        n_s = self.masks.sum(0)
        rows = [torch.nonzero(self.masks[:, s]).flatten() for s in range(S)]
        N = int(n_s.max())
        xt, wts = torch.zeros(S, N, D), torch.zeros(S, N, 1)
        for s, r in enumerate(rows):
            xt[s, : r.numel()], wts[s, : r.numel()] = self.design[s, r], 1.0 / r.numel()
        lam = 1.0 / (torch.tensor(Cs)[None, :] * n_s[:, None])  # (S, G): sklearn's C-weighted sum as a mean
        scores, coef = [], []
        for start in range(0, y.shape[1], chunk):
            part = y[:, start : start + chunk].repeat_interleave(G, 1)  # columns (p, g)
            K = part.shape[1]
            targets = torch.zeros(S, N, K)
            for s, r in enumerate(rows):
                targets[s, : r.numel()] = part[r]
            lam_k = lam.repeat(1, K // G)[:, None, :]
            pen = torch.cat([lam_k.expand(S, D - 1, K), torch.zeros(S, 1, K)], 1)
            bound = torch.cat(
                [0.25 * self.eig[:, :, None] / n_s[:, None, None] + lam_k, torch.full((S, 1, K), 0.25)], 1
            )
            w = minimise_logistic(xt, targets, wts, pen, 1.0 / bound, max_iter, tol)
            scores.append((self.design @ w).reshape(S, n, -1, G))
            coef.append(w.reshape(S, D, -1, G))
        return torch.cat(scores, 2), torch.cat(coef, 2)


def _span(z: torch.Tensor, rows: torch.Tensor, with_basis: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coordinates (n, r) of every row of z in an orthonormal basis V (d, r) of the span of z[rows], the
    eigenvalues (r,) of z[rows]' Gram matrix, and V (width 0 unless asked for), through the smaller Gram matrix."""
    zt = z[rows]
    if zt.shape[0] < zt.shape[1]:  # through the kernel z ztᵀ: V = ztᵀ U / √λ
        kernel = z @ zt.T
        values, vectors = torch.linalg.eigh(kernel[rows].double())
        keep = values > 1e-6 * values[-1].clamp_min(1e-30)
        u = (vectors[:, keep] / values[keep].sqrt()).float()
        basis = zt.T.double() @ u.double() if with_basis else torch.zeros(z.shape[1], 0, dtype=torch.float64)
        return kernel @ u, values[keep].float(), basis
    values, vectors = torch.linalg.eigh(zt.T @ zt)  # float32: the d × d eigenproblem is the costly one
    keep = values > 1e-6 * values[-1].clamp_min(1e-30)
    basis = vectors[:, keep] if with_basis else vectors[:, :0]
    return z @ vectors[:, keep].float(), values[keep].float(), basis


def _best_c(held: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per label column, the index of the C (first of ties: the smallest) with the best pooled AUC of held
    (m, P, G) against y (m, P)."""
    m, P, G = held.shape
    auc = rank_auc(held.reshape(m, P * G).numpy(), y.repeat_interleave(G, 1).numpy())
    return torch.from_numpy(auc.reshape(P, G).argmax(1))


def _logistic(layer: Layer, y: torch.Tensor, Cs: tuple[float, ...], max_iter: int, tol: float, chunk: int) -> LayerFit:
    F, G, P = layer.n_folds, len(Cs), y.shape[1]
    fold = layer.fold
    # Sets of one size share a batch (padding costs): the fold models, the all-data model, the inner models.
    outer = [_Designs.build(layer, layer.masks[:, :F], True), _Designs.build(layer, layer.masks[:, F:], True)]
    fits = [d.solve(y, Cs, max_iter, tol, chunk) for d in outer]
    best = torch.zeros(F + 1, P, dtype=torch.long)
    if G > 1:
        if F < 3:
            raise UserError(f"Choosing C by nested cross-validation needs n_splits >= 3, not {F}; or fix one C.")
        pairs = list(combinations(range(F), 2))
        inner = _Designs.build(layer, torch.stack([(fold != f) & (fold != g) for f, g in pairs], 1), False)
        inner_scores, _ = inner.solve(y, Cs, max_iter, tol, chunk)
        for f in range(F):
            held = torch.empty(layer.x.shape[0], P, G)
            for i, pair in enumerate(pairs):
                if f in pair:
                    rows = fold == (pair[1] if pair[0] == f else pair[0])
                    held[rows] = inner_scores[i, rows]
            best[f] = _best_c(held[fold != f], y[fold != f])
        held = torch.empty(layer.x.shape[0], P, G)
        for f in range(F):
            held[fold == f] = fits[0][0][f, fold == f]
        best[F] = _best_c(held, y)
    parts = []
    for designs, (_, coef), chosen_c in zip(outer, fits, (best[:F], best[F:]), strict=True):
        S = chosen_c.shape[0]
        chosen = coef.permute(0, 2, 3, 1)[torch.arange(S)[:, None], torch.arange(P)[None, :], chosen_c]  # (S, P, D)
        w = designs.basis @ chosen[:, :, :-1].transpose(1, 2).double()
        parts.append(designs.frames.to_raw(w, chosen[:, :, -1]))
    weight, cov, bias = (torch.cat(t) for t in zip(*parts, strict=True))
    return _layer_fit(weight, cov, bias, torch.tensor(Cs)[best[F]])
