"""Batched L2-penalised logistic regression: many independent problems solved by one L-BFGS loop.

Problem s, column k (x: (S, n, D), targets t: (S, n, K), weights: (S, n, 1) or (S, n, K), pen: (S, D, K)),
with w = w[s, :, k]:

    minimise  Σ_i weights[s, i, k] · logloss(x[s, i] · w, t[s, i, k])  +  ½ Σ_j pen[s, j, k] · w_j²

L-BFGS with an exact line search (1-D Newton: the logits are linear in the step length, so it costs no extra
matrix product) and a diagonal initial inverse Hessian `precond` (S, D, K), e.g. the inverse of the Böhning
bound ¼·xᵀWx + pen in a basis where that is diagonal. A column stops once its preconditioned gradient norm
√(gᵀPg) falls below tol; the loop stops when every column has.

>>> x = torch.tensor([[[-2.0, 1], [-1, 1], [1, 1], [2, 1]]])  # one feature and an intercept column
>>> t = torch.tensor([[[0.0], [0], [1], [1]]])
>>> w = minimise_logistic(x, t, torch.full((1, 4, 1), 0.25), torch.tensor([[[0.5], [0]]]), torch.ones(1, 2, 1))
>>> round(float(w[0, 0, 0]), 3), round(float(w[0, 1, 0]), 3)  # sklearn, C = 0.5: coef 0.715, intercept 0
(0.715, 0.0)
"""

from __future__ import annotations

import math

import torch


def minimise_logistic(
    x: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    pen: torch.Tensor,
    precond: torch.Tensor,
    max_iter: int = 500,
    tol: float = 1e-4,
    memory: int = 5,
) -> torch.Tensor:
    """The minimiser w (S, D, K) of every problem; see the module docstring."""
    xt = x.transpose(1, 2).contiguous()  # a transposed view makes the gradient product twice as slow
    w = torch.zeros_like(pen)
    z = torch.zeros(x.shape[0], x.shape[1], pen.shape[2])
    g = xt @ ((0.5 - targets) * weights)
    gamma = torch.ones(pen.shape[0], 1, pen.shape[2])
    loss = (weights * math.log(2)).sum(1, keepdim=True).expand_as(gamma)  # the data term at w = 0
    pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for _ in range(max_iter):
        active = (precond * g * g).sum(1, keepdim=True) > tol**2
        if not bool(active.any()):
            break
        q, alphas = g.clone(), []
        for s_k, y_k, rho in reversed(pairs):
            alphas.append(rho * (s_k * q).sum(1, keepdim=True))
            q -= alphas[-1] * y_k
        r = gamma * precond * q
        for (s_k, y_k, rho), alpha in zip(pairs, reversed(alphas), strict=True):
            r += s_k * (alpha - rho * (y_k * r).sum(1, keepdim=True))
        p = torch.where(active, -r, 0.0)
        zp = x @ p
        t, loss = _line_search(z, zp, targets, weights, pen, w, p, loss)
        step = t * p
        w += step
        z += t * zp
        g_new = xt @ ((torch.sigmoid(z) - targets) * weights) + pen * w
        dg, g = g_new - g, g_new
        sy = (step * dg).sum(1, keepdim=True)
        ok = sy > 1e-20
        gamma = torch.where(ok, sy / (dg * precond * dg).sum(1, keepdim=True).clamp_min(1e-30), gamma)
        pairs = [*pairs[-memory + 1 :], (step, dg, torch.where(ok, 1 / sy.clamp_min(1e-20), 0.0))]
    return w


def _line_search(
    z: torch.Tensor,
    zp: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    pen: torch.Tensor,
    w: torch.Tensor,
    p: torch.Tensor,
    loss: torch.Tensor,
    newton_steps: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per column, the step length t (S, 1, K) along p minimising the objective, and the data term at the
    new point (`loss`: the one at z). 1-D Newton from 1, then halving (columns that got worse only) until the
    objective is no larger than at 0, up to float32 rounding."""
    pw, pp = (pen * w * p).sum(1, keepdim=True), (pen * p * p).sum(1, keepdim=True)

    def phi(t: torch.Tensor) -> torch.Tensor:
        zz = z + t * zp
        loss = (weights * (torch.nn.functional.softplus(zz) - targets * zz)).sum(1, keepdim=True)
        return loss + t * pw + 0.5 * t * t * pp

    t = torch.ones_like(pw)
    for _ in range(newton_steps):
        sg = torch.sigmoid(z + t * zp)
        d1 = (weights * (sg - targets) * zp).sum(1, keepdim=True) + pw + t * pp
        d2 = (weights * sg * (1 - sg) * zp * zp).sum(1, keepdim=True) + pp
        t = torch.where(d2 > 0, t - d1 / d2.clamp_min(1e-30), t).clamp(1e-6, 1e6)
    bound = loss + 1e-6 * loss.abs() + 1e-12
    value = phi(t)
    worse = value > bound
    for _ in range(30):
        if not bool(worse.any()):
            break
        t = torch.where(worse, t / 2, t)
        value = torch.where(worse, phi(t), value)
        worse &= value > bound
    return t, value - t * pw - 0.5 * t * t * pp
