"""What every capture backend provides, and the private exception that ends a forward pass early.

A backend runs one encoded batch through the model's decoder stack and hands each requested
`(layer, point)` hidden state, shape (batch, seq, d_model), to a `take` callback in execution order; it
stops the pass right after the last one (by raising `StopForward` from that hook and catching it). It
also returns the final-norm hidden states for reward scoring. Backends: `torch` (plain forward hooks),
`nnsight`, `transformer_lens`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import torch

from interp.hooks.site import Point
from interp.models import ModelHandle
from interp.render import Encoded

BackendName = Literal["torch", "nnsight", "transformer_lens"]
BACKENDS: tuple[BackendName, ...] = ("torch", "nnsight", "transformer_lens")
Take = Callable[[int, Point, torch.Tensor], None]


class StopForward(Exception):
    """Raised from the hook of the last site a capture needs, so later layers never run."""


class Backend(Protocol):
    """One engine that reads the residual stream."""

    def run(self, handle: ModelHandle, enc: Encoded, wanted: Sequence[tuple[int, Point]], take: Take) -> None:
        """Call `take(layer, point, hidden)` for each wanted point, in execution order, then stop."""

    def final_hidden(self, handle: ModelHandle, enc: Encoded) -> torch.Tensor:
        """The decoder stack's final-norm output, (batch, seq, d_model)."""


def get_backend(name: str) -> Backend:
    """The backend called `name` (imported lazily: nnsight and TransformerLens are slow to import)."""
    from interp.errors import UserError

    if name == "torch":
        from interp.hooks import backend_torch

        return backend_torch
    if name == "nnsight":
        from interp.hooks import backend_nnsight

        return backend_nnsight
    if name == "transformer_lens":
        from interp.hooks import backend_tlens

        return backend_tlens
    raise UserError(f"Unknown backend '{name}'; use one of: {', '.join(BACKENDS)}.")
