"""Directional ablation: project a direction (or a subspace) out of the residual stream, or pin it to a mean.

A Direction given without sites is ablated at its own site:

>>> with ablate(rm, direction, Site.grid(range(rm.n_layers))), mean_ablate(rm, direction, 0.0):  # doctest: +SKIP
...     scores = reward_scores(rm, pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import torch

from interp._util.errors import UserError
from interp.causal.hooks import edit_sites, no_op
from interp.causal.vectors import DirectionLike, Subspace, as_vector, orthonormal_basis, sites_for, unit
from interp.hooks.site import Site
from interp.models import ModelHandle


def ablate(
    handle: ModelHandle, directions: Subspace, sites: Site | Sequence[Site] | None = None
) -> AbstractContextManager[None]:
    """Remove the component along a direction, or along an orthonormalised k-dim subspace: h - (h Q^T) Q.

    `directions` is a Direction, a 1-D (d_model,) or 2-D (k, d_model) tensor, or a list of these. `sites`
    may be any layers; left out, it is the site the Directions share. A zero direction installs no hook.
    """
    sites = sites_for(directions, sites)
    basis = orthonormal_basis(directions, handle.d_model)
    if basis.shape[0] == 0:
        return no_op(handle, sites)

    def edit(rows: torch.Tensor) -> torch.Tensor:
        q = basis.to(rows.device)
        return rows - (rows @ q.T) @ q

    return edit_sites(handle, sites, edit)


def mean_ablate(
    handle: ModelHandle,
    direction: DirectionLike,
    mean: float | torch.Tensor,
    sites: Site | Sequence[Site] | None = None,
) -> AbstractContextManager[None]:
    """Set the component along a unit direction to a fixed mean: h - (h·d - m) d.

    `mean` is the mean projection m itself (a number), or a mean activation vector whose projection
    on d is used (e.g. the mean residual over a reference set of inputs). `sites` as in `ablate`.
    """
    sites = sites_for(direction, sites)
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
