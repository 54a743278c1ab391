"""Turn what users pass as a direction (a Tensor, an array, anything with `.vector`) into checked vectors.

>>> import torch
>>> basis = orthonormal_basis([torch.tensor([3.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])], d_model=3)
>>> basis.shape, torch.allclose(basis @ basis.T, torch.eye(2), atol=1e-6)
(torch.Size([2, 3]), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from interp._util.errors import UserError


def as_vector(direction: Any, d_model: int) -> torch.Tensor:
    """A 1-D fp32 CPU tensor of length `d_model` from a Tensor, array-like, or an object with `.vector`."""
    raw = getattr(direction, "vector", direction)
    try:
        vec = torch.as_tensor(raw).detach().to("cpu", torch.float32)
    except (TypeError, ValueError, RuntimeError) as err:
        raise UserError(
            f"Cannot read a direction from a {type(direction).__name__}; pass a 1-D tensor "
            "or an object with a .vector tensor."
        ) from err
    if vec.ndim != 1:
        raise UserError(
            f"A direction must be 1-D, but this one has shape {tuple(vec.shape)}; pass one vector "
            "(or a list of vectors for a subspace)."
        )
    if vec.shape[0] != d_model:
        raise UserError(
            f"The direction has dimension {vec.shape[0]} but the model's residual stream has "
            f"{d_model}; use a direction fitted on this model."
        )
    if not torch.isfinite(vec).all():
        raise UserError("The direction contains NaN or infinite values; refit it.")
    return vec


def as_matrix(directions: Any, d_model: int) -> torch.Tensor:
    """(k, d_model) from one direction, a (k, d_model) tensor, or a sequence of directions."""
    raw = getattr(directions, "vector", directions)
    if isinstance(raw, torch.Tensor) and raw.ndim == 2:
        return torch.stack([as_vector(row, d_model) for row in raw])
    if isinstance(raw, Sequence) and not isinstance(raw, str) and raw and not isinstance(raw[0], float | int):
        return torch.stack([as_vector(d, d_model) for d in raw])
    return as_vector(raw, d_model)[None]


def orthonormal_basis(directions: Any, d_model: int, tol: float = 1e-6) -> torch.Tensor:
    """Orthonormal rows spanning the directions, (rank, d_model); rank 0 when every direction is zero."""
    matrix = as_matrix(directions, d_model)
    _, singular, vh = torch.linalg.svd(matrix, full_matrices=False)
    if singular.numel() == 0 or singular[0] == 0:
        return matrix[:0]
    return vh[singular > tol * singular[0]]


def unit(direction: Any, d_model: int) -> torch.Tensor | None:
    """The direction scaled to unit norm, or None for a zero direction."""
    vec = as_vector(direction, d_model)
    norm = vec.norm()
    return None if norm == 0 else vec / norm
