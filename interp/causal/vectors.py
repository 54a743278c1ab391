"""Turn what users pass as a direction (a Direction or a Tensor) into checked vectors, and find its sites.

>>> import torch
>>> basis = orthonormal_basis([torch.tensor([3.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])], d_model=3)
>>> basis.shape, torch.allclose(basis @ basis.T, torch.eye(2), atol=1e-6)
(torch.Size([2, 3]), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from interp._util.errors import UserError
from interp.causal.directions import Direction
from interp.hooks.site import Site

DirectionLike = Direction | torch.Tensor
Subspace = DirectionLike | Sequence[DirectionLike]


def as_vector(direction: DirectionLike, d_model: int) -> torch.Tensor:
    """A 1-D fp32 CPU tensor of length `d_model` from a Direction (its vector) or a 1-D Tensor."""
    if isinstance(direction, Direction):
        direction = direction.vector
    if not isinstance(direction, torch.Tensor):
        raise UserError(
            f"A direction must be a Direction or a torch.Tensor, not a {type(direction).__name__}; "
            "wrap an array with torch.as_tensor."
        )
    vec = direction.detach().to("cpu", torch.float32)
    if vec.ndim != 1:
        raise UserError(
            f"A direction must be 1-D (d_model,), but this tensor has shape {tuple(vec.shape)}; pass one vector."
        )
    if vec.shape[0] != d_model:
        raise UserError(
            f"The direction has dimension {vec.shape[0]} but the model's residual stream has "
            f"{d_model}; use a direction fitted on this model."
        )
    if not torch.isfinite(vec).all():
        raise UserError("The direction contains NaN or infinite values; refit it.")
    return vec


def _listed(directions: Subspace) -> list[DirectionLike]:
    if isinstance(directions, Direction):
        return [directions]
    if isinstance(directions, torch.Tensor):
        if directions.ndim not in (1, 2):
            raise UserError(
                f"Directions must be a 1-D (d_model,) or 2-D (k, d_model) tensor, not shape "
                f"{tuple(directions.shape)}; reshape it."
            )
        return list(directions) if directions.ndim == 2 else [directions]
    if isinstance(directions, Sequence) and not isinstance(directions, str) and len(directions) > 0:
        return list(directions)
    raise UserError(
        f"Cannot read directions from a {type(directions).__name__}; pass a Direction, a tensor or a non-empty list."
    )


def as_matrix(directions: Subspace, d_model: int) -> torch.Tensor:
    """(k, d_model) from one direction, a (k, d_model) tensor, or a sequence of directions."""
    return torch.stack([as_vector(d, d_model) for d in _listed(directions)])


def orthonormal_basis(directions: Subspace, d_model: int, tol: float = 1e-6) -> torch.Tensor:
    """Orthonormal rows spanning the directions, (rank, d_model); rank 0 when every direction is zero."""
    matrix = as_matrix(directions, d_model)
    _, singular, vh = torch.linalg.svd(matrix, full_matrices=False)
    if singular.numel() == 0 or singular[0] == 0:
        return matrix[:0]
    return vh[singular > tol * singular[0]]


def unit(direction: DirectionLike, d_model: int) -> torch.Tensor | None:
    """The direction scaled to unit norm, or None for a zero direction."""
    vec = as_vector(direction, d_model)
    norm = vec.norm()
    return None if norm == 0 else vec / norm


def sites_for(directions: Subspace, sites: Site | Sequence[Site] | None) -> Site | Sequence[Site]:
    """`sites` when given (any layer, whatever the directions' own sites), else the one site the Directions share."""
    if sites is not None:
        return sites
    listed = _listed(directions)
    found = [d for d in listed if isinstance(d, Direction)]
    if len(found) < len(listed):
        raise UserError("A tensor carries no site, so pass sites to say where to intervene, e.g. Site(10).")
    own = list(dict.fromkeys(d.site for d in found))
    if len(own) > 1:
        names = ", ".join(s.name for s in own)
        raise UserError(f"These Directions come from different sites ({names}); pass sites to say where to intervene.")
    return own[0]
