"""The nnsight backend: `nnsight.NNsight` wrapping the handle's own decoder stack (the same HF modules).

nnsight instruments each module it touches by installing a pass-through forward (its `Controller`),
which behaves exactly like the original outside a trace, so wrapping the live model is harmless.
`resid_pre` is `layers[i].input` (the hidden states the layer was called with), `resid_post` is
`layers[i].output`; `tracer.stop()` ends the pass after the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from nnsight import NNsight

from interp.hooks.site import Point
from interp.hooks.types import Take
from interp.models import ModelHandle
from interp.render import Encoded


def envoy(handle: ModelHandle) -> Any:
    """An nnsight envoy around `handle.body` (cheap: ~1 ms)."""
    return NNsight(handle.body)


def _inputs(handle: ModelHandle, enc: Encoded) -> dict[str, Any]:
    enc = enc.to(handle.model.device)
    return {
        "input_ids": enc.input_ids,
        "attention_mask": enc.attention_mask,
        "position_ids": enc.position_ids,
        "use_cache": False,
    }


@torch.no_grad()
def run(handle: ModelHandle, enc: Encoded, wanted: Sequence[tuple[int, Point]], take: Take) -> None:
    """Read each wanted point inside one trace, in execution order, and stop after the last."""
    model = envoy(handle)
    with model.trace(**_inputs(handle, enc)) as tracer:
        for layer, point in wanted:
            module = model.layers[layer]
            take(layer, point, module.input if point == "resid_pre" else module.output)
        tracer.stop()


@torch.no_grad()
def final_hidden(handle: ModelHandle, enc: Encoded) -> torch.Tensor:
    """The body's `last_hidden_state` (after the final norm), read from the traced call's result."""
    model = envoy(handle)
    with model.trace(**_inputs(handle, enc)) as tracer:
        out = tracer.result.last_hidden_state.save()
    return out
