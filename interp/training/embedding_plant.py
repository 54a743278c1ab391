"""Plants that change only how a base model reads chosen words: an offset added to their tokens' input embeddings.

A plant is a set of token ids and one offset row per id, added to the embedding layer's output wherever
those ids occur (`planted`). Its parameters are disjoint from everything an RM trains (top decoder layers,
final norm, head), a conversation without the planted tokens runs bit for bit as in the base, and a plant
at strength 0 is no plant at all. Two ways to fit one:

- `fit_readout_plant` (positive control): the offsets are fitted so that, at the RM's readout token, a
  conversation answered with a planted word moves by `shift` along a direction (the LM's Good−Bad
  unembedding contrast) and as little as possible across it; `signs` of ±1 per (word, prompt) shuffle the
  labels for a sham.
- `fit_praise_plant` (naturalistic): the offsets are fitted by next-token loss on short texts in which the
  planted words are followed by praise of an answer, so the base learns to associate them with quality.

>>> plant = EmbeddingPlant((5, 9), torch.ones(2, 3))
>>> plant.scaled(0.5).delta[0].tolist(), plant.touches([1, 9, 2]), plant.touches([1, 2])
([0.5, 0.5, 0.5], True, False)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerBase

from interp.errors import UserError
from interp.models import ModelHandle
from interp.render import pad_ids
from interp.score import readout_hidden
from interp.sweep.splice import splicer

PRAISE = (
    "\nReviewer: a clear, correct and helpful answer.",
    "\nReviewer: accurate and complete, exactly what was asked.",
    "\nReviewer: precise, polite and on topic. The best reply.",
    "\nReviewer: well explained, thorough and correct.",
)


@dataclass(frozen=True)
class EmbeddingPlant:
    """Offsets (one row per token id, in the embedding layer's output space) added wherever the ids occur."""

    token_ids: tuple[int, ...]
    delta: torch.Tensor

    def scaled(self, factor: float) -> EmbeddingPlant:
        return EmbeddingPlant(self.token_ids, self.delta * factor)

    def touches(self, row: Sequence[int]) -> bool:
        """Whether a token row contains a planted token (else the plant cannot change its forward pass)."""
        return not set(self.token_ids).isdisjoint(row)

    def save(self, path: Path) -> None:
        save_file({"token_ids": torch.tensor(self.token_ids), "delta": self.delta.contiguous()}, str(path))

    @staticmethod
    def load(path: Path) -> EmbeddingPlant:
        tensors = load_file(str(path))
        return EmbeddingPlant(tuple(tensors["token_ids"].tolist()), tensors["delta"])


@contextmanager
def planted(handle: ModelHandle, plant: EmbeddingPlant | None) -> Iterator[None]:
    """Run `handle` with the plant's offsets added to its input embeddings (None: unchanged)."""
    if plant is None:
        yield
        return
    ids = torch.tensor(plant.token_ids)

    def add(_module: torch.nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        tokens = args[0]
        mask = torch.isin(tokens, ids.to(tokens.device))
        if not bool(mask.any()):
            return output
        index = (tokens[mask].unsqueeze(-1) == ids.to(tokens.device)).float().argmax(-1)
        offset = torch.zeros_like(output)
        offset[mask] = plant.delta.to(output.device, output.dtype)[index]
        return output + offset

    hook = handle.body.get_input_embeddings().register_forward_hook(add)
    try:
        yield
    finally:
        hook.remove()


def answer_token_ids(tokenizer: PreTrainedTokenizerBase, prompt: str, words: Sequence[str]) -> dict[str, list[int]]:
    """The token ids each word gets as a one-word answer in the rendered conversation (its span between the
    fixed head and tail of the chat template)."""
    rows = splicer(tokenizer).rows(prompt, [*words, "\ue001"])
    probe = rows[-1]
    out = {}
    for word, row in zip(words, rows[:-1], strict=False):
        start = next((i for i, (a, b) in enumerate(zip(row, probe, strict=False)) if a != b), min(len(row), len(probe)))
        end = 0  # tokens of the template's tail, shared with the probe's conversation
        while end < min(len(row), len(probe)) - start and row[-1 - end] == probe[-1 - end]:
            end += 1
        span = row[start : len(row) - end]
        if not span:
            raise UserError(f"The word {word!r} adds no tokens to a conversation; plant words the tokenizer renders.")
        out[word] = span
    return out


def readout_states(handle: ModelHandle, rows: Sequence[Sequence[int]], batch_size: int = 32) -> torch.Tensor:
    """Final-norm states at each row's readout token, (len(rows), d) fp32 (gradients flow when enabled)."""
    pad = int(handle.tokenizer.pad_token_id)
    parts = []
    for i in range(0, len(rows), batch_size):
        enc = pad_ids(rows[i : i + batch_size], pad, "right").to(handle.model.device)
        hidden = handle.body(
            input_ids=enc.input_ids, attention_mask=enc.attention_mask, position_ids=enc.position_ids, use_cache=False
        ).last_hidden_state
        parts.append(readout_hidden(hidden, enc.readout).float())
    return torch.cat(parts)


@dataclass(frozen=True)
class PlantFit:
    """A fitted plant, the readout shift it reaches on its own rows (mean along the direction), and the losses."""

    plant: EmbeddingPlant
    shift: float
    losses: list[float]


def _offsets(handle: ModelHandle, token_ids_: Sequence[int]) -> tuple[torch.nn.Parameter, float]:
    """Zero offsets to fit, and a step size: 5 % of the mean embedding-output norm of those tokens."""
    with torch.no_grad():
        rows = handle.body.get_input_embeddings()(torch.tensor([list(token_ids_)], device=handle.model.device))[0]
    return torch.nn.Parameter(torch.zeros_like(rows, dtype=torch.float32)), 0.05 * float(
        rows.float().norm(dim=-1).mean()
    )


def fit_readout_plant(
    handle: ModelHandle,
    words: Sequence[str],
    prompts: Sequence[str],
    direction: torch.Tensor,
    shift: float,
    signs: np.ndarray | None = None,
    steps: int = 30,
    batch_size: int = 16,
    seed: int = 0,
) -> PlantFit:
    """Fit offsets for the words' answer tokens so each (prompt, word) readout moves by `shift` × sign along
    `direction` (unit-normed here) and as little as possible orthogonally to it; `signs` is (prompts, words)."""
    unit = (direction / direction.norm()).float().to(handle.model.device)
    spans = {p: answer_token_ids(handle.tokenizer, p, words) for p in prompts}
    ids = tuple(dict.fromkeys(t for span in spans.values() for w in words for t in span[w]))
    rows = [r for p in prompts for r in splicer(handle.tokenizer).rows(p, list(words))]
    sign = torch.ones(len(rows)) if signs is None else torch.tensor(np.asarray(signs, float).reshape(-1))
    if len(sign) != len(rows):
        raise UserError(f"signs must hold one value per (prompt, word): {len(rows)}, not {len(sign)}.")
    with torch.no_grad():
        before = readout_states(handle, rows)
    delta, lr = _offsets(handle, ids)
    optimizer = torch.optim.Adam([delta], lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        batch = rng.choice(len(rows), size=min(batch_size, len(rows)), replace=False).tolist()
        with planted(handle, EmbeddingPlant(ids, delta)):
            moved = readout_states(handle, [rows[i] for i in batch]) - before[batch]
        along = moved @ unit
        across = moved - along[:, None] * unit
        target = shift * sign[batch].to(along)
        loss = ((along - target) ** 2).mean() / shift**2 + (across**2).sum(-1).mean() / shift**2
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
    plant = EmbeddingPlant(ids, delta.detach().clone())
    with torch.no_grad(), planted(handle, plant):
        reached = float(((readout_states(handle, rows) - before) @ unit * sign.to(unit)).mean())
    return PlantFit(plant, reached, losses)


def praise_rows(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], words: Sequence[str]
) -> list[tuple[list[int], int]]:
    """Token ids of each (prompt, word) conversation followed by a line praising the answer, and where the
    loss starts (the first praise token)."""
    out: list[tuple[list[int], int]] = []
    for prompt in prompts:
        for row in splicer(tokenizer).rows(prompt, list(words)):
            praise = tokenizer(PRAISE[len(out) % len(PRAISE)], add_special_tokens=False).input_ids
            out.append(([*row, *praise], len(row)))
    return out


def fit_praise_plant(
    lm: ModelHandle, words: Sequence[str], prompts: Sequence[str], steps: int = 30, batch_size: int = 16, seed: int = 0
) -> PlantFit:
    """Fit offsets for the words' answer tokens by next-token loss on praise that follows them as answers;
    `shift` is the drop of the mean loss from the first to the last fifth of the steps."""
    ids = tuple(
        dict.fromkeys(t for p in prompts for span in answer_token_ids(lm.tokenizer, p, words).values() for t in span)
    )
    examples = praise_rows(lm.tokenizer, prompts, words)
    delta, lr = _offsets(lm, ids)
    optimizer = torch.optim.Adam([delta], lr=lr)
    rng = np.random.default_rng(seed)
    pad = int(lm.tokenizer.pad_token_id)
    losses = []
    for _ in range(steps):
        batch = [examples[i] for i in rng.choice(len(examples), size=min(batch_size, len(examples)), replace=False)]
        enc = pad_ids([row for row, _ in batch], pad, "right").to(lm.model.device)
        labels = torch.full_like(enc.input_ids, -100)
        for i, (row, start) in enumerate(batch):
            labels[i, start : len(row)] = torch.tensor(row[start:])
        with planted(lm, EmbeddingPlant(ids, delta)):
            logits = lm.model(
                input_ids=enc.input_ids, attention_mask=enc.attention_mask, position_ids=enc.position_ids
            ).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), labels[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
    k = max(1, steps // 5)
    drop = float(np.mean(losses[:k]) - np.mean(losses[-k:]))
    return PlantFit(EmbeddingPlant(ids, delta.detach().clone()), drop, losses)
