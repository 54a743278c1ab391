"""The logistic probe of `probes.linear`: L2 logistic regression for every training set × label column × C at
once, solved in the span of each set's training rows, with C chosen per label column by nested
cross-validation on pooled held-out AUC (ties: the smallest C).

>>> X = torch.randn(120, 5); y = (torch.arange(120) % 2).float(); X[:, 2] += 2 * y
>>> fit = logistic(Layer.prepare(X, torch.arange(120) % 4), y[:, None], (0.01, 1.0), 500, 1e-4, 32)
>>> int(fit.direction().abs().argmax()), fit.c_reg.tolist()[0] in (0.01, 1.0)
(2, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import torch

from interp._util.errors import UserError
from probes.layer import Frames, Layer, LayerFit, layer_fit, rank_auc
from probes.lbfgs import minimise_logistic


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


def logistic(layer: Layer, y: torch.Tensor, Cs: tuple[float, ...], max_iter: int, tol: float, chunk: int) -> LayerFit:
    """Fold models and the all-data model for every label column of y (n, P), C chosen by nested CV."""
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
    return layer_fit(weight, cov, bias, torch.tensor(Cs)[best[F]])
