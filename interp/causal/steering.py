"""Additive steering: h + α·d at the sites' positions.

>>> with steer(rm, direction, alpha=4.0, sites=[Site(10)]):  # doctest: +SKIP
...     scores = reward_scores(rm, pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch

from interp.causal.hooks import edit_sites, no_op
from interp.causal.vectors import as_vector
from interp.hooks.site import Site
from interp.models import ModelHandle


def steer(
    handle: ModelHandle, direction: Any, alpha: float, sites: Site | Sequence[Site]
) -> AbstractContextManager[None]:
    """Add `alpha` times the direction (as given, not renormalised) to the residual stream.

    At alpha 0 or a zero direction no hook is installed, so outputs are bit-identical to a plain forward.
    """
    vec = as_vector(direction, handle.d_model)
    if alpha == 0 or not bool(vec.any()):
        return no_op(handle, sites)
    shift = float(alpha) * vec

    def edit(rows: torch.Tensor) -> torch.Tensor:
        return rows + shift.to(rows.device)

    return edit_sites(handle, sites, edit)
