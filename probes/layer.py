"""One layer's activations prepared for fitting (`Layer`), the training-set frames a probe is fit in (`Frames`),
the fitted scorers of every fold (`LayerFit`), and the AUC they are judged by (`rank_auc`).

See `probes.linear` for the procedure these serve.

>>> layer = Layer.prepare(torch.randn(12, 3), torch.arange(12) % 3)
>>> layer.n_folds, tuple(layer.masks.shape), tuple(layer.frames(layer.masks).scale.shape)
(3, (12, 4), (4, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from interp._util.errors import UserError

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
        """Activations X (n, d) with each example's test fold (0..F-1) and optional covariates (n, k)."""
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


def layer_fit(weight: torch.Tensor, cov: torch.Tensor, bias: torch.Tensor, c_reg: torch.Tensor) -> LayerFit:
    """A LayerFit from per-set raw scorers (`Frames.to_raw`): weight (S, P, d), cov (S, P, k), bias (S, P)."""
    return LayerFit(weight.transpose(0, 1).contiguous(), bias.T.contiguous(), c_reg, cov.transpose(0, 1).contiguous())
