"""Additive steering: h + α·d at the sites' positions.

>>> with steer(rm, direction, alpha=4.0, sites=[Site(10)]):  # doctest: +SKIP
...     scores = reward_scores(rm, pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import torch

from interp.causal.hooks import edit_sites, no_op
from interp.causal.vectors import DirectionLike, as_vector, sites_for
from interp.hooks.site import Site
from interp.models import ModelHandle


def steer(
    handle: ModelHandle, direction: DirectionLike, alpha: float, sites: Site | Sequence[Site] | None = None
) -> AbstractContextManager[None]:
    """Add `alpha` times the direction (a Direction's unit vector, or a 1-D tensor as given) to the residual stream.

    `sites` may be any layers; left out, it is the Direction's own site. At alpha 0 or a zero direction no hook
    is installed, so outputs are bit-identical to a plain forward.
    """
    sites = sites_for(direction, sites)
    vec = as_vector(direction, handle.d_model)
    if alpha == 0 or not bool(vec.any()):
        return no_op(handle, sites)
    shift = float(alpha) * vec

    def edit(rows: torch.Tensor) -> torch.Tensor:
        return rows + shift.to(rows.device)

    return edit_sites(handle, sites, edit)
