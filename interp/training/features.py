"""Cached frozen features: one pass through the frozen bottom of the body, then the top layers only.

`build_cache(handle, rows, start)` runs every token row once through the unchanged model and keeps, per
row, the hidden states entering decoder layer `start` (every position, fp32) and the final-norm state at
the readout token (what a frozen linear head reads). `install_cache(handle, cache)` then makes the body
skip layers [0, start): the input embedding returns each row's cached states and the bottom layers pass
their input through, so the model's own forward (masks, rotary positions, top layers, final norm, head)
runs on the top layers only and scores exactly as the full model does (right-padded batches; the bottom
layers' weights stay in place, so `save_pretrained` still writes the whole model).

>>> rows = [(5, 6, 7), (5, 8)]
>>> key_for([5, 8, 0, 0], {r: None for r in rows})
(5, 8)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from interp._util.errors import UserError
from interp._util.progress import progress_bar
from interp.models import ModelHandle
from interp.render import pad_ids
from interp.score import body_readout
from interp.sweep.prefix import PrefixCache, tail_hidden
from interp.training.batches import TokenPairs
from interp.training.head_fit import HeadStart, start_head

Row = tuple[int, ...]


@dataclass
class FeatureCache:
    """Per token row: the input of layer `start` (len, d) (None when only readouts were kept) and the readout."""

    start: int | None
    states: dict[Row, torch.Tensor]
    readout: dict[Row, torch.Tensor]

    def readouts(self, rows: Sequence[Row]) -> torch.Tensor:
        """Final-norm readout states of the frozen model, (len(rows), d), fp32."""
        return torch.stack([self.readout[r] for r in rows])


def key_for(row: Sequence[int], cached: Mapping[Row, Any]) -> Row:
    """The longest prefix of a right-padded row that is cached (its states are those of the real tokens)."""
    for end in range(len(row), 0, -1):
        key = tuple(row[:end])
        if key in cached:
            return key
    raise KeyError("a batch row is not in the feature cache")


@contextmanager
def layer_inputs(handle: ModelHandle, start: int | None) -> Iterator[list[torch.Tensor]]:
    """Collect the hidden states entering decoder layer `start` on every forward (none when None), in eval mode."""
    captured: list[torch.Tensor] = []

    def grab(_module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        captured.append(args[0] if args else kwargs["hidden_states"])

    hook = handle.layers[start].register_forward_pre_hook(grab, with_kwargs=True) if start is not None else None
    was_training = handle.model.training
    handle.model.eval()
    try:
        yield captured
    finally:
        if hook is not None:
            hook.remove()
        handle.model.train(was_training)


@torch.no_grad()
def build_cache(
    handle: ModelHandle,
    rows: Sequence[Row],
    start: int | None,
    pad_id: int,
    batch_size: int = 32,
    progress: bool = False,
) -> FeatureCache:
    """One fp32 pass of the unchanged model over the distinct `rows` (shortest first, right-padded)."""
    unique = sorted(set(rows), key=len)
    states: dict[Row, torch.Tensor] = {}
    readout: dict[Row, torch.Tensor] = {}
    with layer_inputs(handle, start) as captured, progress_bar(progress) as bar:
        task = bar.add_task("frozen features", total=len(unique))
        for i in range(0, len(unique), batch_size):
            chunk = unique[i : i + batch_size]
            captured.clear()
            final = body_readout(handle, pad_ids(chunk, pad_id, "right")).float().cpu()
            for j, row in enumerate(chunk):
                readout[row] = final[j].clone()
                if captured:
                    states[row] = captured[0][j, : len(row)].float().cpu().clone()
            bar.update(task, advance=len(chunk))
    return FeatureCache(start, states, readout)


@torch.no_grad()
def build_cache_shared(
    handle: ModelHandle, groups: Sequence[tuple[Row, Sequence[Row]]], start: int | None, batch_size: int = 32
) -> FeatureCache:
    """`build_cache` for rows that share a prompt: per (prefix, tails) group the prefix runs once and its KV
    cache serves every tail (row = prefix + tail), so only the tails' tokens are recomputed. Equal to
    `build_cache` on the same rows up to fp32 rounding (tested)."""
    states: dict[Row, torch.Tensor] = {}
    readout: dict[Row, torch.Tensor] = {}
    with layer_inputs(handle, start) as captured:
        for prefix, tails in groups:
            captured.clear()
            cache = PrefixCache(handle, [prefix])
            head = captured[0][0].float().cpu() if captured else None
            for i in range(0, len(tails), batch_size):
                chunk = [tuple(t) for t in tails[i : i + batch_size]]
                captured.clear()
                hidden = tail_hidden(handle, cache, [0] * len(chunk), chunk)
                for j, tail in enumerate(chunk):
                    row = tuple(prefix) + tail
                    readout[row] = hidden[j].float().cpu().clone()
                    if head is not None:
                        states[row] = torch.cat([head, captured[0][j, : len(tail)].float().cpu()])
    return FeatureCache(start, states, readout)


def readout_patched(cache: FeatureCache, source: FeatureCache, rows: Sequence[Row]) -> FeatureCache:
    """`cache` for `rows` with each row's readout-token state (its last token) taken from `source`: activation
    patching of the readout position at layer `cache.start`, every other position kept.

    >>> a = FeatureCache(1, {(5, 6): torch.zeros(2, 1)}, {})
    >>> readout_patched(a, FeatureCache(1, {(5, 6): torch.ones(2, 1)}, {}), [(5, 6)]).states[(5, 6)].tolist()
    [[0.0], [1.0]]
    """
    if cache.start != source.start:
        raise UserError(f"Cannot patch layer {source.start}'s states into a cache of layer {cache.start}.")
    states = {}
    for row in rows:
        patched = cache.states[row].clone()
        patched[-1] = source.states[row][-1]
        states[row] = patched
    return FeatureCache(cache.start, states, {})


def _passthrough(hidden_states: torch.Tensor, *_args: Any, **_kwargs: Any) -> torch.Tensor:
    return hidden_states


def install_cache(handle: ModelHandle, cache: FeatureCache) -> Callable[[], None]:
    """Make the body read layer `cache.start`'s input from the cache and skip the layers below; returns the undo."""
    if cache.start is None:
        return lambda: None
    body = handle.body
    embed = body.get_input_embeddings()
    bottom = list(handle.layers)[: cache.start]

    def lookup(_module: torch.nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        ids = args[0]
        out = torch.zeros(*ids.shape, output.shape[-1], dtype=torch.float32)
        for i, row in enumerate(ids.tolist()):
            states = cache.states[key_for(row, cache.states)]
            out[i, : len(states)] = states
        return out.to(output.device, output.dtype)

    hook = embed.register_forward_hook(lookup)
    for layer in bottom:
        layer.forward = _passthrough  # instance attribute: the module and its weights stay registered

    def undo() -> None:
        hook.remove()
        for layer in bottom:
            del layer.forward

    return undo


def warm_start(
    handle: ModelHandle,
    tokens: TokenPairs,
    train_rows: Sequence[int],
    held_rows: Sequence[int],
    start: int | None,
    head_init: str,
    seed: int = 0,
    progress: bool = False,
) -> HeadStart:
    """One frozen feature pass over every pair, the head started from it (`start_head`), and the cache of
    layer `start`'s input installed for the rest of the run (None: LoRA, every layer trains, no cache)."""
    cache = build_cache(handle, [*tokens.chosen, *tokens.rejected], start, tokens.pad_id, progress=progress)
    head = head_from_cache(handle, tokens, train_rows, held_rows, cache, head_init, seed)
    install_cache(handle, cache)
    return head


def head_from_cache(
    handle: ModelHandle,
    tokens: TokenPairs,
    train_rows: Sequence[int],
    held_rows: Sequence[int],
    cache: FeatureCache,
    head_init: str,
    seed: int = 0,
) -> HeadStart:
    """Start the head (`start_head`) from the cached frozen readouts of the train and held-out pairs."""

    def sides(rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return cache.readouts([tokens.chosen[i] for i in rows]), cache.readouts([tokens.rejected[i] for i in rows])

    prompts = {p: i for i, p in enumerate(dict.fromkeys(tokens.pairs[i].prompt for i in train_rows))}
    groups = np.array([prompts[tokens.pairs[i].prompt] for i in train_rows])
    families = [tokens.pairs[i].family for i in held_rows]
    return start_head(handle, head_init, sides(train_rows), sides(held_rows), groups, seed, families)
