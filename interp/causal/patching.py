"""Activation patching base → RM: score with one decoder layer's output taken from another model.

`patched_scores(rm, source, pairs, layer)` runs `source` (the base LM, or any model with the same tokenizer
and width) on exactly the RM's encoded inputs, keeps its `resid_post` of `layer`, and re-scores the RM with
that layer's output replaced by the source's at the chosen positions (`edit_sites`, one site per position).
With position `all` everything the RM computed up to `layer` is swapped for the source's computation, so
the patched score is the RM's later layers and head read on the source's residual. Patching an RM with its
own residual changes no bit.

>>> import tempfile
>>> from interp.models import load_lm, rm_from_base
>>> from interp.models.tiny import build_tiny
>>> folder = str(build_tiny("llama", tempfile.mkdtemp()))
>>> rm, base = rm_from_base(folder), load_lm(folder)
>>> curve = patching_curve(rm, base, [("Best thing?", "Love")])  # the fresh RM's body is the base's
>>> curve["mean_delta"].tolist()
[0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack

import pandas as pd
import torch

from interp._util.errors import UserError
from interp.causal.hooks import edit_sites
from interp.hooks.backend import get_backend
from interp.hooks.positions import position_mask
from interp.hooks.site import Point, Position, Site
from interp.models import ModelHandle
from interp.render import Encoded, PaddingSide, encode_pairs
from interp.score import check_finite, score_encoded

Positions = Position | Sequence[Position]


def _listed(positions: Positions) -> list[Position]:
    listed: list[Position] = [positions] if isinstance(positions, str | int) else list(positions)
    if not listed:
        raise UserError("No positions given; patch at 'all', 'readout' or token indices.")
    return listed


def _batches(
    rm: ModelHandle, source: ModelHandle, pairs: Sequence[tuple[str, str]], batch_size: int, padding_side: PaddingSide
) -> Iterator[Encoded]:
    """The RM's encoded batches, refused unless the source tokenizes them identically and has the RM's width."""
    if rm.kind != "rm":
        raise UserError(f"'{rm.name}' is loaded as a language model; patch into an RM loaded with load_rm.")
    if source.d_model != rm.d_model:
        raise UserError(
            f"The source '{source.name}' has width {source.d_model} and the RM '{rm.name}' {rm.d_model}; "
            "patch from a model of the same family (the RM's base LM)."
        )
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    if not pairs:
        raise UserError("No pairs to score; give at least one (prompt, answer) pair.")
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        enc = encode_pairs(rm.tokenizer, chunk, padding_side)
        theirs = encode_pairs(source.tokenizer, chunk, padding_side).input_ids
        if theirs.shape != enc.input_ids.shape or not torch.equal(theirs, enc.input_ids):
            raise UserError(
                f"The source '{source.name}' tokenizes the pairs differently from the RM '{rm.name}'; patching "
                "needs the same input, so patch from the RM's own base LM."
            )
        yield enc


def source_residuals(source: ModelHandle, enc: Encoded, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """The source's full (batch, seq, d_model) `resid_post` at each layer for one batch (its device and dtype)."""
    chosen = sorted(set(layers))
    wanted: list[tuple[int, Point]] = [(Site(la).check(source.n_layers).layer, "resid_post") for la in chosen]
    out: dict[int, torch.Tensor] = {}

    def take(layer: int, point: Point, hidden: torch.Tensor) -> None:
        out[layer] = hidden.detach()

    get_backend("torch").run(source, enc, wanted, take)
    return out


def _patched(
    rm: ModelHandle, enc: Encoded, layer: int, hidden: torch.Tensor, positions: list[Position]
) -> torch.Tensor:
    """RM scores of one batch with `layer`'s output replaced by `hidden` at each position."""
    with ExitStack() as stack:
        for position in positions:
            rows = hidden[position_mask(enc.attention_mask.to(hidden.device), position)]

            def edit(selected: torch.Tensor, rows: torch.Tensor = rows) -> torch.Tensor:
                if selected.shape != rows.shape:
                    raise UserError("The patched batch does not match the source batch; patch without a KV cache.")
                return rows.to(selected.device, selected.dtype)

            stack.enter_context(edit_sites(rm, Site(layer, "resid_post", position), edit))
        return score_encoded(rm, enc)


def _run(
    rm: ModelHandle,
    source: ModelHandle,
    pairs: Sequence[tuple[str, str]],
    layers: Sequence[int],
    positions: Positions,
    batch_size: int,
    padding_side: PaddingSide,
    clean: bool,
) -> tuple[torch.Tensor | None, dict[int, torch.Tensor]]:
    """Unpatched scores (when `clean`) and patched scores per layer, each (len(pairs),)."""
    listed = _listed(positions)
    for layer in layers:
        Site(layer, "resid_post", listed[0]).check(rm.n_layers)
    unpatched: list[torch.Tensor] = []
    patched: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for enc in _batches(rm, source, pairs, batch_size, padding_side):
        if clean:
            unpatched.append(score_encoded(rm, enc))
        for layer, hidden in source_residuals(source, enc, layers).items():
            patched[layer].append(_patched(rm, enc, layer, hidden, listed))
    out = {layer: check_finite(torch.cat(parts), "patched scores") for layer, parts in patched.items()}
    return (torch.cat(unpatched) if clean else None), out


def patched_scores(
    rm: ModelHandle,
    source: ModelHandle,
    pairs: Sequence[tuple[str, str]],
    layer: int,
    positions: Positions = "all",
    batch_size: int = 16,
    padding_side: PaddingSide = "right",
) -> torch.Tensor:
    """RM scores (fp32, CPU, (len(pairs),)) with decoder layer `layer`'s output taken from `source`.

    `positions`: one site position (`all`, `readout`, a real-token index) or several, patched together.
    """
    return _run(rm, source, pairs, [layer], positions, batch_size, padding_side, clean=False)[1][layer]


def patched_by_layer(
    rm: ModelHandle,
    source: ModelHandle,
    pairs: Sequence[tuple[str, str]],
    layers: Sequence[int],
    positions: Positions = "all",
    batch_size: int = 16,
    padding_side: PaddingSide = "right",
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Unpatched scores and, per layer, the scores with that layer patched from `source` (one source pass)."""
    clean, patched = _run(rm, source, pairs, sorted(set(layers)), positions, batch_size, padding_side, clean=True)
    assert clean is not None
    return clean, patched


def patching_curve(
    rm: ModelHandle,
    source: ModelHandle,
    pairs: Sequence[tuple[str, str]],
    layers: Sequence[int] | None = None,
    positions: Positions = "all",
    batch_size: int = 16,
    padding_side: PaddingSide = "right",
) -> pd.DataFrame:
    """Per layer (all by default), the change of each pair's score when that layer is patched from `source`.

    Columns: layer, mean_clean, mean_patched, mean_delta, sd_delta, median_delta, min_delta, max_delta, n_pairs
    (delta = patched - unpatched score of the same pair).
    """
    chosen = list(range(rm.n_layers)) if layers is None else sorted(set(layers))
    clean, patched = patched_by_layer(rm, source, pairs, chosen, positions, batch_size, padding_side)
    rows = []
    for layer in chosen:
        delta = (patched[layer] - clean).double()
        rows.append(
            {
                "layer": layer,
                "mean_clean": float(clean.double().mean()),
                "mean_patched": float(patched[layer].double().mean()),
                "mean_delta": float(delta.mean()),
                "sd_delta": float(delta.std()) if len(delta) > 1 else float("nan"),
                "median_delta": float(delta.median()),
                "min_delta": float(delta.min()),
                "max_delta": float(delta.max()),
                "n_pairs": len(delta),
            }
        )
    return pd.DataFrame(rows)
