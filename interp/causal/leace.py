"""LEACE erasure (concept-erasure's `LeaceEraser`): remove every linear trace of a concept from the sites.

>>> eraser = fit_leace(train_acts, train_labels)  # doctest: +SKIP
>>> with leace(rm, eraser, [Site(12)]):  # doctest: +SKIP
...     scores = reward_scores(rm, pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import torch
from concept_erasure import LeaceEraser

from interp._util.errors import UserError
from interp.causal.hooks import edit_sites
from interp.causal.nulls import Labels
from interp.hooks.site import Site
from interp.models import ModelHandle


def concept_matrix(labels: Labels, n: int) -> torch.Tensor:
    """Labels as LEACE's concept matrix: one column for binary labels, one-hot columns for more classes."""
    y = torch.as_tensor(labels)
    if y.shape[0] != n:
        raise UserError(f"There are {y.shape[0]} labels for {n} activation rows; give one label per row.")
    if y.ndim == 2:
        return y.float()
    classes = torch.unique(y)
    if len(classes) < 2:
        raise UserError("LEACE needs at least two classes in the labels; every row has the same label.")
    if len(classes) == 2:
        return (y == classes[1]).float()[:, None]
    return (y[:, None] == classes[None]).float()


def fit_leace(activations: torch.Tensor, labels: Labels) -> LeaceEraser:
    """Fit a LEACE eraser (fp32) from activations (n, d) and class labels (n,) or a concept matrix (n, k)."""
    x = torch.as_tensor(activations).detach().float()
    if x.ndim != 2:
        raise UserError(f"LEACE needs activations of shape (n, d), not {tuple(x.shape)}.")
    return LeaceEraser.fit(x, concept_matrix(labels, x.shape[0]))


def leace(handle: ModelHandle, eraser: LeaceEraser, sites: Site | Sequence[Site]) -> AbstractContextManager[None]:
    """Apply a fitted LEACE eraser to the residual stream at the sites' positions."""
    if eraser.proj_left.shape[0] != handle.d_model:
        raise UserError(
            f"The eraser has dimension {eraser.proj_left.shape[0]} but the model's residual stream "
            f"has {handle.d_model}; fit it on activations of this model."
        )

    def edit(rows: torch.Tensor) -> torch.Tensor:
        on = LeaceEraser(
            eraser.proj_left.to(rows.device, torch.float32),
            eraser.proj_right.to(rows.device, torch.float32),
            None if eraser.bias is None else eraser.bias.to(rows.device, torch.float32),
        )
        return on(rows)

    return edit_sites(handle, sites, edit)
