"""The closed-form probes of `probes.linear`: difference of class means, and shrinkage LDA with sklearn's
Ledoit–Wolf intensity (estimated on the true labels, reused for permuted ones), for every fold at once.

>>> X = torch.randn(100, 4); y = (torch.arange(100) % 2).float(); X[:, 1] += 2 * y
>>> layer = Layer.prepare(X, torch.arange(100) % 4)
>>> [int(fit.direction().abs().argmax()) for fit in (diff_means(layer, y[:, None]), lda(layer, y[:, None]))]
[1, 1]
"""

from __future__ import annotations

import math

import torch

from probes.layer import Layer, LayerFit, layer_fit


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


def diff_means(layer: Layer, y: torch.Tensor) -> LayerFit:
    """Difference of class means of the residualised, unscaled activations; threshold at the midpoint."""
    frames = layer.frames(layer.masks)
    d = layer.x.shape[1]
    mu1, mu0, _, _ = _class_means(torch.cat([layer.x.double(), frames.c1], 1), y, layer.masks)
    # Class means of the residuals x − c1 @ coef[s]: linear in the class means of x and of c1.
    r1, r0 = (mu[:d] - torch.einsum("skd,ksp->dsp", frames.coef, mu[d:]) for mu in (mu1, mu0))
    w = (r1 - r0).permute(1, 0, 2)  # (S, d, P)
    b = -(w * (r1 + r0).permute(1, 0, 2) / 2).sum(1)
    return layer_fit(*frames.to_raw(w, b, scaled=False), torch.full((y.shape[1],), math.nan))


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


def lda(layer: Layer, y: torch.Tensor) -> LayerFit:
    """Σ⁻¹δ on the standardised residuals, Σ the within-class covariance shrunk by Ledoit–Wolf."""
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
    return layer_fit(*frames.to_raw(w, b), torch.full((P,), math.nan))
