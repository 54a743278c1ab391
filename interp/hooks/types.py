"""What the capture backends and every residual-stream hook share: the backend protocol, the exception that
ends a forward pass early, and how a decoder layer's hook finds its hidden states.

A backend runs one encoded batch through the model's decoder stack and hands each requested
`(layer, point)` hidden state, shape (batch, seq, d_model), to a `take` callback in execution order; it
stops the pass right after the last one (by raising `StopForward` from that hook and catching it). It
also returns the final-norm hidden states for reward scoring. Backends (`interp.hooks.backend`): `torch`
(plain forward hooks), `nnsight`, `transformer_lens`.

>>> import torch
>>> hidden = torch.zeros(2, 3, 4)
>>> layer_output((hidden, None)) is hidden, layer_input((), {"hidden_states": hidden}) is hidden
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

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


def layer_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    """The hidden states a decoder layer was called with (first positional argument or `hidden_states=`)."""
    return args[0] if args else kwargs["hidden_states"]


def layer_output(output: Any) -> torch.Tensor:
    """A decoder layer's hidden-state output (older transformers return a tuple whose first item it is)."""
    return output[0] if isinstance(output, tuple) else output
