"""The default backend: plain PyTorch hooks on the decoder layers (`handle.layers[i]`).

`resid_pre` is the `hidden_states` entering layer i (a forward pre-hook), `resid_post` the layer's output
(a forward hook). Works for causal LMs and sequence-classification RMs alike; costs nothing measurable
over a plain forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from interp.hooks.site import Point
from interp.hooks.types import StopForward, Take, layer_input, layer_output
from interp.models import ModelHandle
from interp.render import Encoded
from interp.score import body_forward


def _pre_hook(layer: int, take: Take, stop: bool) -> Any:
    def hook(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        take(layer, "resid_pre", layer_input(args, kwargs))
        if stop:
            raise StopForward

    return hook


def _post_hook(layer: int, take: Take, stop: bool) -> Any:
    def hook(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
        take(layer, "resid_post", layer_output(output))
        if stop:
            raise StopForward

    return hook


@torch.no_grad()
def run(handle: ModelHandle, enc: Encoded, wanted: Sequence[tuple[int, Point]], take: Take) -> None:
    """Hook the wanted layers, run the body, stop after the last wanted point; hooks always removed."""
    handles: list[RemovableHandle] = []
    try:
        for i, (layer, point) in enumerate(wanted):
            module = handle.layers[layer]
            last = i == len(wanted) - 1
            if point == "resid_pre":
                handles.append(module.register_forward_pre_hook(_pre_hook(layer, take, last), with_kwargs=True))
            else:
                handles.append(module.register_forward_hook(_post_hook(layer, take, last)))
        body_forward(handle, enc)
    except StopForward:
        pass
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def final_hidden(handle: ModelHandle, enc: Encoded) -> torch.Tensor:
    """The body's `last_hidden_state` (after the final norm)."""
    return body_forward(handle, enc).last_hidden_state
