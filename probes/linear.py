"""Batched linear probes for one layer: L2 logistic regression, difference of means, shrinkage LDA.

Every fitter takes one layer's activations with each example's test fold (`Layer.prepare`) and a label
matrix Y (n, P) — column 0 the true labels, further columns e.g. word-level permutations — and returns
raw-frame linear scorers `x @ w + b` for every fold (fit without that fold's words) and for all the data
(index F). One call gives cross-fitted held-out scores, a permutation null and the final direction.

- logistic: sklearn's objective C·Σ log-loss + ½‖w‖² on standardised features (mean and scale of all
  examples, label-free) with an unpenalised intercept, solved for all folds × label columns × C values at
  once by L-BFGS with an exact line search, its initial inverse Hessian the Böhning bound (¼·ZᵀZ/n + λ)⁻¹,
  which is diagonal in the PCA basis of all examples. C is picked per label column by the pooled held-out
  AUC over the grouped folds; ties go to the smallest C (strongest penalty), as in sklearn's
  LogisticRegressionCV. (Held-out log-loss would prefer weak penalties that only sharpen calibration.)
- diff_means: mean(class 1) − mean(class 0) in the raw frame, threshold at the midpoint.
- lda: Σ⁻¹δ on standardised features, Σ the pooled within-class covariance shrunk towards a multiple of
  the identity with sklearn's Ledoit–Wolf intensity. The intensity is estimated for the true labels
  (column 0) and reused for the other columns, so Σ⁻¹δ for every column follows from one Cholesky solve
  per fold (the total covariance, then Sherman–Morrison for the rank-one between-class part). Under a
  permutation null the within-class and total covariances differ by a rank-one term only, so the reused
  intensity is the one the shuffled labels would give.

>>> import torch
>>> X = torch.randn(200, 8); y = (torch.arange(200) % 2).float(); X[:, 0] += 3 * y
>>> fit = fit_layer(Layer.prepare(X, torch.arange(200) % 5), y, "diff_means")
>>> fit.weight.shape, int(fit.direction().abs().argmax())
(torch.Size([1, 6, 8]), 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from interp.errors import UserError

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
    """Linear scorers x @ weight[p, f] + bias[p, f] for label column p and fold f (f = F: all data)."""

    weight: torch.Tensor  # (P, F + 1, d), raw coordinate frame
    bias: torch.Tensor  # (P, F + 1)
    c_reg: torch.Tensor  # (P,) the L2 strength C chosen (logistic), NaN for closed-form methods

    @property
    def n_folds(self) -> int:
        return int(self.weight.shape[1]) - 1

    def scores(self, X: ArrayLike, fold_id: ArrayLike) -> torch.Tensor:
        """Cross-fitted decision values (n, P): each example is scored by the model that never saw its word.

        X may be another model's activations on the same inputs (transfer)."""
        x = torch.as_tensor(X, dtype=torch.float32)
        fold = torch.as_tensor(fold_id)
        out = torch.empty(x.shape[0], self.weight.shape[0])
        for f in range(self.n_folds):
            rows = fold == f
            out[rows] = x[rows] @ self.weight[:, f].T + self.bias[:, f]
        return out

    def direction(self, p: int = 0) -> torch.Tensor:
        """The all-data weight vector for label column p (unnormalised)."""
        return self.weight[p, -1]


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer's activations prepared once for every fitter: raw x (n, d), standardised z (mean and scale
    of all examples), test-fold ids, training masks (n, F + 1) and the Gram matrix zᵀz of each test fold."""

    x: torch.Tensor
    z: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    fold: torch.Tensor
    masks: torch.Tensor
    held_grams: torch.Tensor  # (F, d, d)

    @classmethod
    def prepare(cls, X: ArrayLike, fold_id: ArrayLike) -> Layer:
        x = torch.as_tensor(X, dtype=torch.float32)
        fold = torch.as_tensor(fold_id).long()
        if fold.shape != (x.shape[0],) or int(fold.min()) != 0:
            raise UserError(f"Need one fold id (0..F-1) per example; got {tuple(fold.shape)} for {x.shape[0]}.")
        n_folds = int(fold.max()) + 1
        mean, scale = x.mean(0), x.std(0)
        scale = torch.where(scale > 1e-6 * scale.max().clamp_min(1e-30), scale, torch.ones_like(scale))
        z = (x - mean) / scale
        masks = torch.stack([fold != f for f in range(n_folds)] + [torch.ones_like(fold, dtype=torch.bool)], 1)
        grams = torch.stack([z[fold == f].T @ z[fold == f] for f in range(n_folds)])
        return cls(x, z, mean, scale, fold, masks.float(), grams)

    @property
    def n_folds(self) -> int:
        return int(self.held_grams.shape[0])

    def to_raw(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map scorers z @ w + b (w: (d, K)) to raw-frame (K, d) weights and (K,) biases."""
        w_raw = (w / self.scale[:, None]).to(torch.float32)
        return w_raw.T.contiguous(), (b - self.mean @ w_raw).to(torch.float32)


def fit_layer(
    layer: Layer,
    Y: ArrayLike,
    method: str,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    c_fixed: float | None = None,
    max_iter: int = 500,
    tol: float = 1e-4,
) -> LayerFit:
    """Fit `method` for every fold and label column of Y (n,) or (n, P); see the module docstring.

    For logistic, C is chosen from `Cs` per label column unless `c_fixed` pins it (to refit at a known C)."""
    y = torch.as_tensor(Y).float()
    y = y[:, None] if y.ndim == 1 else y
    if method == "diff_means":
        return _diff_means(layer.x, y, layer.masks)
    if method == "lda":
        return _lda(layer, y)
    if method == "logistic":
        grid = tuple(sorted(Cs)) if c_fixed is None else (float(c_fixed),)
        if not grid or min(grid) <= 0:
            raise UserError(f"Logistic C values must be positive, got {grid}.")
        return _logistic(layer, y, grid, max_iter, tol)
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
    procedure — for logistic each column chooses its own C — so a permutation null includes that choice.

    Logistic columns are solved `chunk` at a time to bound memory."""
    y = np.concatenate([labels[:, None], perms], 1)
    if method != "logistic":
        return fit_layer(layer, y, method)
    parts = [
        fit_layer(layer, y[:, i : i + chunk], method, Cs=Cs, max_iter=max_iter, tol=tol)
        for i in range(0, y.shape[1], chunk)
    ]
    return LayerFit(*(torch.cat([getattr(p, f) for p in parts]) for f in ("weight", "bias", "c_reg")))


def _class_means(x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per fold and label column: class means (d, F1, P) and counts (F1, P)."""
    n, d = x.shape
    w1 = masks[:, :, None] * y[:, None, :]
    w0 = masks[:, :, None] * (1 - y)[:, None, :]
    n1, n0 = w1.sum(0), w0.sum(0)
    mu1 = (x.T @ w1.reshape(n, -1)).reshape(d, *n1.shape) / n1
    mu0 = (x.T @ w0.reshape(n, -1)).reshape(d, *n0.shape) / n0
    return mu1, mu0, n1, n0


def _diff_means(x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor) -> LayerFit:
    mu1, mu0, _, _ = _class_means(x, y, masks)
    w = (mu1 - mu0).permute(2, 1, 0)  # (P, F1, d)
    b = -(w * (mu1 + mu0).permute(2, 1, 0) / 2).sum(-1)
    return LayerFit(w.contiguous(), b, torch.full((y.shape[1],), math.nan))


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
    z, masks = layer.z, layer.masks
    d, (F1, P) = z.shape[1], (masks.shape[1], y.shape[1])
    mu1, mu0, n1, n0 = (t.double() for t in _class_means(z, y, masks))
    grams = layer.held_grams.double()
    gram = grams.sum(0)
    sq = z.pow(2).sum(1).double()
    y0 = y[:, 0].bool()
    w = torch.empty(d, F1, P, dtype=torch.float64)
    b = torch.empty(F1, P, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    for f in range(F1):
        rows = masks[:, f].bool()
        nf = float(rows.sum())
        zr = z[rows].double()
        mean = zr.mean(0)
        delta = mu1[:, f] - mu0[:, f]
        between = n1[f] * n0[f] / nf**2  # total cov = within cov + between · δδᵀ, per column
        train_gram = gram - grams[f] if f < F1 - 1 else gram
        total = train_gram / nf - torch.outer(mean, mean)
        within = total - between[0] * torch.outer(delta[:, 0], delta[:, 0])
        # ‖x_i − μ_{y_i}‖² for the true labels, from ‖x_i‖² and x_i·μ_c.
        m1, m0, yr = mu1[:, f, 0], mu0[:, f, 0], y0[rows]
        dist = sq[rows] + torch.where(yr, m1 @ m1 - 2 * zr @ m1, m0 @ m0 - 2 * zr @ m0)
        alpha = _ledoit_wolf(within, dist)
        shrunk = (1 - alpha) * total + alpha * float(torch.trace(within)) / d * eye
        chol, info = torch.linalg.cholesky_ex(shrunk)
        if int(info) != 0:
            chol = torch.linalg.cholesky(shrunk + 1e-8 * float(torch.trace(total)) / d * eye)
        sol = torch.cholesky_solve(delta, chol)
        # Sherman–Morrison: from the shrunk total covariance back to the shrunk within-class one.
        sol = sol / (1 - (1 - alpha) * between * (delta * sol).sum(0))
        w[:, f] = sol
        b[f] = -(sol * (mu1[:, f] + mu0[:, f]) / 2).sum(0) + torch.log(n1[f] / n0[f])
    w_raw, b_raw = layer.to_raw(w.reshape(d, -1), b.reshape(-1))  # columns ordered (f, p)
    weight = w_raw.reshape(F1, P, d).transpose(0, 1).contiguous()
    return LayerFit(weight, b_raw.reshape(F1, P).T.contiguous(), torch.full((P,), math.nan))


def _logistic(layer: Layer, y: torch.Tensor, Cs: tuple[float, ...], max_iter: int, tol: float) -> LayerFit:
    z, masks, fold = layer.z, layer.masks, layer.fold
    n, d = z.shape
    F1, P, G = masks.shape[1], y.shape[1], len(Cs)
    s, V = torch.linalg.eigh(layer.held_grams.sum(0) / n)
    xa = torch.cat([z @ V, torch.ones(n, 1)], 1)
    nf = masks.sum(0)
    # Columns are ordered (p, f, g); lam = 1 / (C n_f) turns sklearn's C-weighted sum into a mean.
    lam = (1.0 / (torch.tensor(Cs)[None, :] * nf[:, None])).reshape(-1).repeat(P)
    K = lam.numel()
    targets = y.repeat_interleave(F1 * G, 1)
    weights = (masks / nf).repeat_interleave(G, 1).repeat(1, P)
    pen = torch.cat([lam.expand(d, K), torch.zeros(1, K)])
    precond = 1.0 / torch.cat([0.25 * s.clamp_min(0)[:, None] + lam[None, :], torch.full((1, K), 0.25)])
    wr = _lbfgs(xa, targets, weights, pen, precond, max_iter, tol).reshape(d + 1, P, F1, G)
    best = torch.zeros(P, dtype=torch.long)
    if G > 1:
        held_out = torch.empty(n, P, G)
        for f in range(F1 - 1):
            rows = fold == f
            held_out[rows] = (xa[rows] @ wr[:, :, f, :].reshape(d + 1, P * G)).reshape(-1, P, G)
        auc = rank_auc(held_out.reshape(n, P * G).numpy(), y.repeat_interleave(G, 1).numpy())
        best = torch.from_numpy(auc.reshape(P, G).argmax(1))
    sel = wr.permute(1, 3, 0, 2)[torch.arange(P), best]  # (P, d + 1, F1)
    w_std = V @ sel[:, :d].permute(1, 0, 2).reshape(d, P * F1)
    w_raw, b_raw = layer.to_raw(w_std, sel[:, d].reshape(-1))
    return LayerFit(w_raw.reshape(P, F1, d), b_raw.reshape(P, F1), torch.tensor(Cs)[best])


def _lbfgs(
    xa: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    pen: torch.Tensor,
    precond: torch.Tensor,
    max_iter: int,
    tol: float,
    memory: int = 10,
) -> torch.Tensor:
    """Minimise Σ_i weights_ik·logloss(xa_i·w_k, t_ik) + ½ Σ_j pen_jk·w_jk² for every column k by L-BFGS.

    The initial inverse Hessian is the scaled preconditioner; the line search is exact (1-D Newton) and
    costs no extra matrix product because the logits are linear in the step length. A column stops once
    its preconditioned gradient norm √(gᵀPg) falls below tol."""
    d1, K = xa.shape[1], targets.shape[1]
    w = torch.zeros(d1, K)
    z = torch.zeros(xa.shape[0], K)
    g = xa.T @ ((0.5 - targets) * weights)
    gamma = torch.ones(K)
    pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for _ in range(max_iter):
        a = ((precond * g * g).sum(0) > tol**2).nonzero().flatten()
        if a.numel() == 0:
            break
        q, alphas = g.clone(), []
        for s_k, y_k, rho in reversed(pairs):
            alphas.append(rho * (s_k * q).sum(0))
            q -= alphas[-1] * y_k
        r = gamma * precond * q
        for (s_k, y_k, rho), alpha in zip(pairs, reversed(alphas), strict=True):
            r += s_k * (alpha - rho * (y_k * r).sum(0))
        p = -r[:, a]
        zp = xa @ p
        t = _line_search(z[:, a], zp, targets[:, a], weights[:, a], pen[:, a], w[:, a], p)
        step = torch.zeros_like(w)
        step[:, a] = t * p
        w += step
        z[:, a] += t * zp
        g_new = g.clone()
        g_new[:, a] = xa.T @ ((torch.sigmoid(z[:, a]) - targets[:, a]) * weights[:, a]) + pen[:, a] * w[:, a]
        dg, g = g_new - g, g_new
        sy = (step * dg).sum(0)
        ok = sy > 1e-20
        gamma = torch.where(ok, sy / (dg * precond * dg).sum(0).clamp_min(1e-30), gamma)
        pairs = [*pairs[-memory + 1 :], (step, dg, torch.where(ok, 1 / sy.clamp_min(1e-20), 0.0))]
    return w


def _line_search(
    z: torch.Tensor,
    zp: torch.Tensor,
    t_: torch.Tensor,
    wt: torch.Tensor,
    pen: torch.Tensor,
    w: torch.Tensor,
    p: torch.Tensor,
    newton_steps: int = 4,
) -> torch.Tensor:
    """Per column, the step length along p minimising the objective: 1-D Newton from 1, then halving
    (columns that got worse only) until the objective is no larger than at 0, up to float32 rounding."""
    pw, pp = (pen * w * p).sum(0), (pen * p * p).sum(0)

    def phi(t: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        zz = z[:, cols] + t * zp[:, cols]
        loss = (wt[:, cols] * (torch.nn.functional.softplus(zz) - t_[:, cols] * zz)).sum(0)
        return loss + t * pw[cols] + 0.5 * t * t * pp[cols]

    t = torch.ones(z.shape[1])
    for _ in range(newton_steps):
        sg = torch.sigmoid(z + t * zp)
        d1 = (wt * (sg - t_) * zp).sum(0) + pw + t * pp
        d2 = (wt * sg * (1 - sg) * zp * zp).sum(0) + pp
        t = torch.where(d2 > 0, t - d1 / d2.clamp_min(1e-30), t).clamp(1e-6, 1e6)
    every = torch.arange(z.shape[1])
    start = phi(torch.zeros_like(t), every)
    bound = start + 1e-6 * start.abs() + 1e-12
    cols = every[phi(t, every) > bound]
    for _ in range(30):
        if cols.numel() == 0:
            break
        t[cols] = t[cols] / 2
        cols = cols[phi(t[cols], cols) > bound[cols]]
    return t
