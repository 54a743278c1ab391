"""Reward scores of a (prompt × answer) grid under many residual edits at once, for several seed RMs.

RMs trained from one base on its top layers (`interp.training.cached_rm.CachedTrainer`, last-k checkpoints)
share every layer below `start`, the first trained layer; they differ in their weights from `start` on (top
layers, final norm, head), swapped into one handle with `load_trainable`. So the grid runs each prompt's
prefix once per RM and every answer's tail (answer + template tail) once through the shared layers, keeping
the residual after each layer of `layers`; an edit at a shared layer then runs once for all RMs up to
`start`, and each RM's own top layers and head finish it. Answers are grouped by tail length, so no row is
padded. Edits act on every tail position (`positions="answer"`: the answer, the end-of-turn marker and the
readout token, i.e. every token after the prompt) or on every position (`"all"`: the prompt's prefix too, its
keys and values recomputed from the edited layer on).

An edit is one of a batch of vectors (n, d) applied the same way: `ablate` projects each (unit) direction
out, `steer` adds each vector. Scores come back as (n_rms, n_vectors, n_answers) in `self.rows` order.

>>> grid = AnswerGrid(rm, prepared, {"seed0": w0, "seed1": w1}, start, prompts, words, layers=[3])  # doctest: +SKIP
>>> grid.scores(3, "ablate", direction[None]).shape                                                  # doctest: +SKIP
(2, 1, len(prompts) * len(words))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from interp._util.errors import UserError
from interp.causal.span import edited_prefix, run_span
from interp.models import ModelHandle
from interp.score import head_on
from interp.sweep.prefix import PrefixCache
from interp.sweep.splice import splicer
from interp.training.trainable import Prepared, load_trainable

EditKind = Literal["ablate", "steer"]
Positions = Literal["answer", "all"]
POSITIONS: tuple[Positions, ...] = ("answer", "all")
BLOCK_ROWS = 16384  # edited rows kept at once between the shared layers and the RMs' own (~150 MB at d=576, 4 tokens)


def edit_rows(states: torch.Tensor, kind: EditKind, vectors: torch.Tensor) -> torch.Tensor:
    """(rows, len, d) states edited by each of `vectors` (n, d): (n * rows, len, d), vector-major.

    >>> edit_rows(torch.ones(1, 1, 2), "ablate", torch.tensor([[1.0, 0.0]])).tolist()
    [[[0.0, 1.0]]]
    >>> edit_rows(torch.ones(1, 1, 2), "steer", torch.tensor([[1.0, 0.0], [0.0, 2.0]])).tolist()
    [[[2.0, 1.0]], [[1.0, 3.0]]]
    """
    x = states.float()[None]
    v = vectors.float().to(x.device)[:, None, None, :]
    if kind == "ablate":
        unit = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        out = x - (x * unit).sum(-1, keepdim=True) * unit
    elif kind == "steer":
        out = x + v
    else:
        raise UserError(f"Unknown edit '{kind}'; use 'ablate' or 'steer'.")
    return out.reshape(-1, *states.shape[1:])


@dataclass
class _Group:
    """The answers of one prompt whose tails have one length: their row numbers and their residuals."""

    prompt: int
    rows: list[int]
    shared: dict[int, torch.Tensor]  # residual after each shared grid layer, (len(rows), tail, d)
    entry: torch.Tensor  # the input of layer `start`, (len(rows), tail, d)


class AnswerGrid:
    """Every (prompt, answer) of a grid, ready to be scored by each RM under batches of edits (module doc)."""

    def __init__(
        self,
        handle: ModelHandle,
        prepared: Prepared,
        rms: Mapping[str, dict[str, torch.Tensor]],
        start: int,
        prompts: Sequence[str],
        answers: Sequence[str],
        layers: Sequence[int] = (),
        batch_rows: int = 256,
    ) -> None:
        if not rms:
            raise UserError("Give at least one RM's trainable weights to score the grid with.")
        if not 0 < start <= handle.n_layers or any(not 0 <= layer < handle.n_layers for layer in layers):
            raise UserError(f"Layers {list(layers)} and start {start} must lie within the {handle.n_layers} layers.")
        self.handle, self.prepared, self.rms, self.start = handle, prepared, dict(rms), start
        self.layers, self.batch_rows = sorted(set(layers)), batch_rows
        self.rows = [(p, a) for p in prompts for a in answers]
        self.n_answers = len(answers)
        self.groups: list[_Group] = []
        self.prefix: list[dict[str, PrefixCache]] = []  # per prompt, per RM
        self.prefix_states: list[dict[int, torch.Tensor]] = []  # per prompt: residuals of the prefix
        self.shared_readout = torch.zeros(len(self.rows), start, handle.d_model)  # after each shared layer
        shared_keep = [layer + 1 for layer in self.layers if layer < start]
        first_rm = next(iter(self.rms))
        for p, prompt in enumerate(prompts):
            ids, tails = splicer(handle.tokenizer).split(prompt, list(answers))
            if not ids:
                raise UserError(f"The answers to '{prompt}' share no prompt prefix; check the chat template.")
            caches = {}
            for name in self.rms:
                self.load(name)
                caches[name] = PrefixCache(handle, [ids])
            self.prefix.append(caches)
            self.load(first_rm)
            entry, kept = run_span(handle, self._embed(torch.tensor([ids])), 0, start, keep=shared_keep)
            self.prefix_states.append({k - 1: v for k, v in kept.items()} | {start - 1: entry})
            by_length: dict[int, list[int]] = {}
            for i, tail in enumerate(tails):
                by_length.setdefault(len(tail), []).append(i)
            for members in by_length.values():
                tail_ids = torch.tensor([tails[i] for i in members])
                every = range(1, start + 1)  # the readout token after each shared layer, for `residuals`
                entry, kept = run_span(handle, self._embed(tail_ids), 0, start, caches[first_rm], keep=every)
                rows = [p * len(answers) + i for i in members]
                shared = {k - 1: kept[k] for k in shared_keep}
                self.groups.append(_Group(p, rows, shared, entry))
                self.shared_readout[rows] = torch.stack([kept[k][:, -1].float().cpu() for k in every], 1)

    def load(self, name: str) -> None:
        """Put RM `name`'s trainable weights into the handle."""
        load_trainable(self.prepared, self.rms[name], f"RM {name}")

    def _score(self, prefix: PrefixCache, entry: torch.Tensor) -> torch.Tensor:
        """Scores of rows given their input of layer `start`, under the RM loaded."""
        out = []
        for chunk in entry.split(self.batch_rows):
            final, _ = run_span(self.handle, chunk, self.start, self.handle.n_layers, prefix)
            with torch.no_grad():
                out.append(head_on(self.handle, self.handle.body.norm(final[:, -1])).cpu())
        return torch.cat(out)

    def unedited(self) -> np.ndarray:
        """Scores (n_rms, n_answers) with no edit."""
        out = np.zeros((len(self.rms), len(self.rows)))
        for r, name in enumerate(self.rms):
            self.load(name)
            for g in self.groups:
                out[r, g.rows] = self._score(self.prefix[g.prompt][name], g.entry).numpy()
        return out

    def scores(self, layer: int, kind: EditKind, vectors: torch.Tensor, positions: Positions = "answer") -> np.ndarray:
        """Scores (n_rms, n_vectors, n_answers) with each vector's edit of the residual after `layer`."""
        if layer not in self.layers:
            raise UserError(f"Layer {layer} is not in this grid's layers {self.layers}; build the grid with it.")
        if positions not in POSITIONS:
            raise UserError(f"Unknown positions '{positions}'; use one of {POSITIONS}.")
        vectors = torch.as_tensor(vectors, dtype=torch.float32).reshape(-1, self.handle.d_model)
        out = np.zeros((len(self.rms), len(vectors), len(self.rows)))
        batches = [vectors] if positions == "answer" else list(vectors.split(1))  # one prefix per vector
        done = 0
        for batch in batches:
            block = out[:, done : done + len(batch)]
            for r, g, values in self._edited(layer, kind, batch, positions):
                block[r][:, g.rows] = values.reshape(len(batch), len(g.rows)).numpy()
            done += len(batch)
        return out

    def _edited(
        self, layer: int, kind: EditKind, vectors: torch.Tensor, positions: Positions
    ) -> Iterator[tuple[int, _Group, torch.Tensor]]:
        """(RM index, group, scores of the group's rows under each vector) for every RM and group."""
        if layer >= self.start:
            for r, name in enumerate(self.rms):
                self.load(name)
                for g in self.groups:
                    yield r, g, self._top_edit(name, g, layer, kind, vectors, positions)
            return
        for block in self._blocks(len(vectors)):  # bounded memory: the edited rows of a block wait for every RM
            shared = [self._shared_edit(g, layer, kind, vectors, positions) for g in block]
            for r, name in enumerate(self.rms):
                self.load(name)
                for g, (entry, prefix, through) in zip(block, shared, strict=True):
                    own = self.prefix[g.prompt][name]
                    if through is not None:  # the edited prefix's own top layers
                        own, _ = edited_prefix(self.handle, own, through, self.start, self.handle.n_layers, prefix)
                    yield r, g, self._score(own, entry)

    def _blocks(self, n_vectors: int) -> Iterator[list[_Group]]:
        """The groups in runs of at most `BLOCK_ROWS` edited rows (one group at least)."""
        block: list[_Group] = []
        for g in self.groups:
            if block and n_vectors * (sum(len(b.rows) for b in block) + len(g.rows)) > BLOCK_ROWS:
                yield block
                block = []
            block.append(g)
        if block:
            yield block

    def _shared_edit(
        self, g: _Group, layer: int, kind: EditKind, vectors: torch.Tensor, positions: Positions
    ) -> tuple[torch.Tensor, PrefixCache, torch.Tensor | None]:
        """A group edited after a shared layer and run up to `start`: its rows' input of `start`, the prefix they
        continued, and (positions `all`) the edited prefix's input of `start`."""
        prefix, through = self.prefix[g.prompt][next(iter(self.rms))], None
        if positions == "all":
            edited = edit_rows(self.prefix_states[g.prompt][layer], kind, vectors)
            prefix, through = edited_prefix(self.handle, prefix, edited, layer + 1, self.start, prefix)
        rows = edit_rows(g.shared[layer], kind, vectors)
        parts = [run_span(self.handle, c, layer + 1, self.start, prefix)[0] for c in rows.split(self.batch_rows)]
        return torch.cat(parts), prefix, through

    def _top_edit(
        self, name: str, g: _Group, layer: int, kind: EditKind, vectors: torch.Tensor, positions: Positions
    ) -> torch.Tensor:
        """Scores of one group under RM `name` (loaded) with an edit after one of its own trained layers."""
        own = self.prefix[g.prompt][name]
        n = self.handle.n_layers
        if positions == "all":
            states, _ = run_span(self.handle, self.prefix_states[g.prompt][self.start - 1], self.start, layer + 1)
            edited = edit_rows(states, kind, vectors)
            own, _ = edited_prefix(self.handle, own, edited, layer + 1, n, own)
        states, _ = run_span(self.handle, g.entry, self.start, layer + 1, self.prefix[g.prompt][name])
        rows = edit_rows(states, kind, vectors)
        parts = [run_span(self.handle, c, layer + 1, n, own)[0] for c in rows.split(self.batch_rows)]
        with torch.no_grad():
            return head_on(self.handle, self.handle.body.norm(torch.cat(parts)[:, -1])).cpu()

    def residuals(self, name: str) -> torch.Tensor:
        """RM `name`'s residual after every layer at each answer's readout token, (n_answers, n_layers, d)."""
        n = self.handle.n_layers
        out = torch.cat([self.shared_readout, torch.zeros(len(self.rows), n - self.start, self.handle.d_model)], 1)
        self.load(name)
        for g in self.groups:
            _, kept = run_span(
                self.handle, g.entry, self.start, n, self.prefix[g.prompt][name], keep=range(self.start + 1, n + 1)
            )
            for k, v in kept.items():
                out[g.rows, k - 1] = v[:, -1].float().cpu()
        return out

    @torch.no_grad()
    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.handle.body.get_input_embeddings()(ids.to(self.handle.model.device))
