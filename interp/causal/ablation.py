"""Directional ablation: project a direction (or a subspace) out of the residual stream, or pin it to a mean.

>>> with ablate(rm, direction, Site.grid(range(rm.n_layers))):  # doctest: +SKIP
...     scores = reward_scores(rm, pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch

from interp._util.errors import UserError
from interp.causal.hooks import edit_sites, no_op
from interp.causal.vectors import as_vector, orthonormal_basis, unit
from interp.hooks.site import Site
from interp.models import ModelHandle


def ablate(handle: ModelHandle, directions: Any, sites: Site | Sequence[Site]) -> AbstractContextManager[None]:
    """Remove the component along a direction, or along an orthonormalised k-dim subspace: h - (h Q^T) Q.

    `directions` is one direction (a 1-D tensor or an object with `.vector`), a (k, d_model) tensor, or a
    list of directions. A zero direction changes nothing and installs no hook.
    """
    basis = orthonormal_basis(directions, handle.d_model)
    if basis.shape[0] == 0:
        return no_op(handle, sites)

    def edit(rows: torch.Tensor) -> torch.Tensor:
        q = basis.to(rows.device)
        return rows - (rows @ q.T) @ q

    return edit_sites(handle, sites, edit)


def mean_ablate(
    handle: ModelHandle, direction: Any, mean: float | torch.Tensor, sites: Site | Sequence[Site]
) -> AbstractContextManager[None]:
    """Set the component along a unit direction to a fixed mean: h - (h·d - m) d.

    `mean` is the mean projection m itself (a number), or a mean activation vector whose projection
    on d is used (e.g. the mean residual over a reference set of inputs).
    """
    d = unit(direction, handle.d_model)
    if d is None:
        return no_op(handle, sites)
    if isinstance(mean, torch.Tensor) and mean.numel() > 1:
        m = float(as_vector(mean, handle.d_model) @ d)
    else:
        try:
            m = float(mean)
        except (TypeError, ValueError) as err:
            raise UserError(
                f"The mean must be a number or a mean activation vector, not {type(mean).__name__}."
            ) from err

    def edit(rows: torch.Tensor) -> torch.Tensor:
        v = d.to(rows.device)
        return rows - (rows @ v - m)[:, None] * v

    return edit_sites(handle, sites, edit)
