"""Run a span of decoder layers on given hidden states, continuing a prompt's cached prefix.

An edit at the answer and readout positions leaves the prompt's prefix untouched, so each prompt's keys and
values are computed once (`interp.sweep.prefix.PrefixCache`) and every condition runs only the tail tokens
(answer + template tail), and only through the layers after the edit. `run_span(handle, states, first,
stop, prefix)` feeds `states` (the input of decoder layer `first`) to the body, passes the input of every
layer outside [first, stop) through unchanged, and returns the input of layer `stop` (`stop == n_layers`:
the state entering the final norm) and of the layers in `keep`. Layers that run attend to the prefix's
cached keys and values; positions continue from the prefix. The body's own forward builds masks and rotary
embeddings, so sliding-window layers (Gemma) behave as in a full forward.

>>> import tempfile, torch
>>> from interp.models import rm_from_base
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))
>>> ids = torch.tensor([[5, 6, 7]])
>>> full = rm.body(input_ids=ids).last_hidden_state
>>> mid, _ = run_span(rm, rm.body.get_input_embeddings()(ids), 0, 2)
>>> end, _ = run_span(rm, mid, 2, rm.n_layers)
>>> torch.allclose(rm.body.norm(end), full, atol=1e-5)
True
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from transformers import DynamicCache

from interp._util.errors import UserError
from interp.hooks.backend_torch import layer_input
from interp.models import ModelHandle
from interp.sweep.prefix import PrefixCache


def _passthrough(hidden_states: torch.Tensor, *_args: Any, **_kwargs: Any) -> torch.Tensor:
    return hidden_states


@contextmanager
def _only(handle: ModelHandle, first: int, stop: int) -> Iterator[None]:
    """Layers outside [first, stop) return their input (instance attribute: weights stay registered)."""
    skipped = [layer for i, layer in enumerate(handle.layers) if not first <= i < stop]
    for layer in skipped:
        layer.forward = _passthrough
    try:
        yield
    finally:
        for layer in skipped:
            del layer.forward


def _entry(handle: ModelHandle, layer: int) -> torch.nn.Module:
    """The module whose input is the residual entering `layer` (the final norm for `layer == n_layers`)."""
    return handle.layers[layer] if layer < handle.n_layers else handle.body.norm


@torch.no_grad()
def run_span(
    handle: ModelHandle,
    states: torch.Tensor,
    first: int,
    stop: int,
    prefix: PrefixCache | None = None,
    keep: Sequence[int] = (),
    cache: DynamicCache | None = None,
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """The input of layer `stop` (batch, tail, d) after layers [first, stop) ran on `states`, and the inputs of
    the layers in `keep` (each in [first, stop]).

    Every row continues the one prompt prefix of `prefix` (None: the rows are whole sequences). Rows are
    unpadded (equal length). `cache` (a fresh `DynamicCache`, only without `prefix`) collects the keys and
    values the running layers compute.
    """
    if not 0 <= first <= stop <= handle.n_layers or any(not first <= k <= stop for k in keep):
        raise UserError(f"Cannot run layers [{first}, {stop}) keeping {list(keep)} of a {handle.n_layers}-layer model.")
    rows, width = states.shape[:2]
    device = handle.model.device
    grabbed: dict[int, torch.Tensor] = {}

    def grab(layer: int) -> Any:
        def hook(_module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            grabbed[layer] = layer_input(args, kwargs)

        return hook

    hooks = [_entry(handle, k).register_forward_pre_hook(grab(k), with_kwargs=True) for k in {*keep, stop}]
    if prefix is None:
        mask = torch.ones(rows, width, dtype=torch.long, device=device)
        positions = torch.arange(width, device=device).expand(rows, -1)
        past = cache
    else:
        if bool((prefix.lengths != prefix.lengths[0]).any()) or len(prefix.prefixes) != 1:
            raise UserError("A span continues one prompt prefix; build a PrefixCache of that prompt alone.")
        mask = torch.cat([prefix.mask.expand(rows, -1), torch.ones(rows, width, dtype=torch.long, device=device)], 1)
        positions = prefix.lengths[0] + torch.arange(width, device=device).expand(rows, -1)
        past = prefix.for_rows(torch.zeros(rows, dtype=torch.long, device=device))
    try:
        with _only(handle, first, stop):
            handle.body(
                inputs_embeds=states.to(device, handle.model.dtype),
                attention_mask=mask,
                position_ids=positions,
                past_key_values=past,
                use_cache=past is not None,
            )
    finally:
        for h in hooks:
            h.remove()
    return grabbed[stop], {k: grabbed[k] for k in keep}


def edited_prefix(
    handle: ModelHandle, prefix: PrefixCache, states: torch.Tensor, first: int, stop: int, below: PrefixCache
) -> tuple[PrefixCache, torch.Tensor]:
    """`prefix` with the keys and values of layers [first, stop) recomputed from `states` (1, prefix, d), the
    input of layer `first` (e.g. an edited residual), and those of the layers below taken from `below`; also
    returns the prefix's input of layer `stop`. Layers from `stop` on keep `prefix`'s."""
    cache = DynamicCache(config=handle.model.config)
    out, _ = run_span(handle, states, first, stop, cache=cache)
    combined = copy.copy(prefix.cache)
    combined.layers = [
        (cache if first <= i < stop else below.cache if i < first else prefix.cache).layers[i]
        for i in range(handle.n_layers)
    ]
    made = copy.copy(prefix)
    made.cache = combined
    return made, out
