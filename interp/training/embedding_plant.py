"""Plants that change only how a base model reads chosen words: an offset added to their tokens' input embeddings.

A plant is a set of token ids and one offset row per id, added to the embedding layer's output wherever
those ids occur (`planted`). Its parameters are disjoint from everything an RM trains (top decoder layers,
final norm, head), a conversation without the planted tokens runs bit for bit as in the base, and a plant
at strength 0 is no plant at all. Two ways to fit one:

- `ReadoutPlanter` (positive control): offsets along the gradient that moves, at the RM's readout token,
  conversations answered with a planted word along a direction (the LM's Good−Bad unembedding contrast),
  scaled to reach a chosen shift; with labels shuffled (± per prompt and word) and the size of another
  plant, a sham.
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

from interp._util.errors import UserError
from interp.models import ModelHandle
from interp.render import pad_ids
from interp.score import body_forward, body_readout
from interp.sweep.splice import splicer
from interp.training.head_fit import unembedding

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
    chunks = range(0, len(rows), batch_size)
    return torch.cat([body_readout(handle, pad_ids(rows[i : i + batch_size], pad, "right")).float() for i in chunks])


@dataclass(frozen=True)
class PlantFit:
    """A fitted plant, what it reaches (readout shift, or next-token loss drop), and its value at every pass."""

    plant: EmbeddingPlant
    shift: float
    trace: list[float]


@contextmanager
def weights_frozen(handle: ModelHandle) -> Iterator[None]:
    """No gradient for the model's own weights while a plant is fitted (only the offsets learn); restored after."""
    flags = {name: p.requires_grad for name, p in handle.model.named_parameters()}
    handle.model.requires_grad_(False)
    try:
        yield
    finally:
        for name, p in handle.model.named_parameters():
            p.requires_grad_(flags[name])


def _offsets(handle: ModelHandle, token_ids_: Sequence[int]) -> tuple[torch.nn.Parameter, float]:
    """Zero offsets to fit, and a step size: 5 % of the mean embedding-output norm of those tokens."""
    with torch.no_grad():
        rows = handle.body.get_input_embeddings()(torch.tensor([list(token_ids_)], device=handle.model.device))[0]
    return torch.nn.Parameter(torch.zeros_like(rows, dtype=torch.float32)), 0.05 * float(
        rows.float().norm(dim=-1).mean()
    )


class ReadoutPlanter:
    """Plants along the gradient of the words' mean signed readout projection on `direction` with respect to
    offsets on their answer tokens (the steepest way to move it per unit of edit). One backward pass keeps
    every (prompt, word) row's own gradient, so any labelling costs nothing more: `signs` (prompts × words of
    ±1; None: all +1) shuffles the labels for a sham. `for_shift` scales the plant to reach a mean shift,
    `of_norm` to a given size (a sham as large as another plant)."""

    def __init__(
        self, handle: ModelHandle, words: Sequence[str], prompts: Sequence[str], direction: torch.Tensor
    ) -> None:
        self.handle = handle
        self.unit = (direction / direction.norm()).float().to(handle.model.device)
        spans = {p: answer_token_ids(handle.tokenizer, p, words) for p in prompts}
        self.ids = tuple(dict.fromkeys(t for span in spans.values() for w in words for t in span[w]))
        self.rows = [r for p in prompts for r in splicer(handle.tokenizer).rows(p, list(words))]
        with torch.no_grad():
            self.before = readout_states(handle, self.rows) @ self.unit
        self.gradients = self._row_gradients()

    def _row_gradients(self, batch_size: int = 32) -> torch.Tensor:
        """(rows, ids, d): the gradient of each row's readout projection with respect to each planted offset."""
        index = {t: j for j, t in enumerate(self.ids)}
        embed = self.handle.body.get_input_embeddings()
        d = int(embed.weight.shape[-1])
        out = torch.zeros(len(self.rows), len(self.ids), d)
        for start in range(0, len(self.rows), batch_size):
            chunk = self.rows[start : start + batch_size]
            enc = pad_ids(chunk, int(self.handle.tokenizer.pad_token_id), "right").to(self.handle.model.device)
            extra = torch.zeros(*enc.input_ids.shape, d, device=self.handle.model.device, requires_grad=True)
            hook = embed.register_forward_hook(lambda _m, _a, output, extra=extra: output + extra.to(output.dtype))
            try:
                with weights_frozen(self.handle):
                    states = body_readout(self.handle, enc)
            finally:
                hook.remove()
            (states.float() @ self.unit).sum().backward()  # row i reads only row i
            assert extra.grad is not None
            for i, row in enumerate(chunk):
                for t, token in enumerate(row):
                    if token in index:
                        out[start + i, index[token]] += extra.grad[i, t].float().cpu()
        return out

    def _labels(self, signs: np.ndarray | None) -> torch.Tensor:
        if signs is None:
            return torch.ones(len(self.rows))
        sign = torch.tensor(np.asarray(signs, float).reshape(-1), dtype=torch.float32)
        if len(sign) != len(self.rows):
            raise UserError(f"signs must hold one value per (prompt, word): {len(self.rows)}, not {len(sign)}.")
        return sign

    def _step(self, sign: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The unit-norm offsets along the gradient of the mean signed projection, and that gradient's norm."""
        gradient = (sign[:, None, None] * self.gradients).mean(0)
        slope = float(gradient.norm())
        return gradient / max(slope, 1e-12), slope

    @torch.no_grad()
    def reached(self, delta: torch.Tensor, sign: torch.Tensor) -> float:
        """The mean signed shift of the rows' readout projection under the offsets `delta`."""
        with planted(self.handle, EmbeddingPlant(self.ids, delta)):
            after = readout_states(self.handle, self.rows) @ self.unit
        return float(((after - self.before).cpu() * sign).mean())

    def for_shift(self, shift: float, signs: np.ndarray | None = None, iterations: int = 4) -> PlantFit:
        """The plant whose mean signed shift is `shift` (within 5 %, else the closest of `iterations` secant
        passes from the linear guess); `trace` holds the shift after each pass."""
        sign = self._labels(signs)
        step, slope = self._step(sign)
        scale = shift / max(slope, 1e-12)
        trace = [self.reached(step * scale, sign)]
        low_scale, low = 0.0, 0.0
        while len(trace) < iterations and abs(trace[-1] - shift) > 0.05 * abs(shift) and trace[-1] != low:
            guess = scale + (shift - trace[-1]) * (scale - low_scale) / (trace[-1] - low)
            low_scale, low = scale, trace[-1]
            scale = min(max(guess, scale / 4), scale * 4)
            trace.append(self.reached(step * scale, sign))
        return PlantFit(EmbeddingPlant(self.ids, step * scale), trace[-1], trace)

    def of_norm(self, norm: float, signs: np.ndarray | None = None) -> EmbeddingPlant:
        """The plant of Frobenius norm `norm` along the gradient (no forward pass)."""
        step, _ = self._step(self._labels(signs))
        return EmbeddingPlant(self.ids, step * norm)


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
    handle: ModelHandle,
    words: Sequence[str],
    prompts: Sequence[str],
    steps: int = 30,
    batch_size: int = 8,
    seed: int = 0,
    max_norm: float | None = None,
) -> PlantFit:
    """Fit offsets for the words' answer tokens by next-token loss on praise that follows them as answers
    (the LM's own unembedding reads the body of `handle`, an LM or an RM); `shift` is the drop of the mean
    loss from the first to the last fifth of the steps, `trace` the loss of every step. `max_norm` bounds the
    offsets' Frobenius norm (projected after every step, with the step size scaled to the bound), so the plant
    can be matched in size to another."""
    ids = tuple(
        dict.fromkeys(
            t for p in prompts for span in answer_token_ids(handle.tokenizer, p, words).values() for t in span
        )
    )
    examples = praise_rows(handle.tokenizer, prompts, words)
    w_u = unembedding(handle).float().to(handle.model.device)
    cap = getattr(handle.model.config.get_text_config(), "final_logit_softcapping", None)
    delta, lr = _offsets(handle, ids)
    if max_norm is not None:  # an Adam step moves each entry by about lr: a quarter of the bound per step in all
        lr = min(lr, 0.25 * max_norm / delta.numel() ** 0.5)
    optimizer = torch.optim.Adam([delta], lr=lr)
    rng = np.random.default_rng(seed)
    pad = int(handle.tokenizer.pad_token_id)
    losses = []
    for _ in range(steps):
        batch = [examples[i] for i in rng.choice(len(examples), size=min(batch_size, len(examples)), replace=False)]
        enc = pad_ids([row for row, _ in batch], pad, "right").to(handle.model.device)
        where = [(i, t) for i, (row, start) in enumerate(batch) for t in range(start - 1, len(row) - 1)]
        rows_, cols = torch.tensor([i for i, _ in where]), torch.tensor([t for _, t in where])
        with weights_frozen(handle), planted(handle, EmbeddingPlant(ids, delta)):
            hidden = body_forward(handle, enc).last_hidden_state
        logits = hidden[rows_, cols].float() @ w_u.T  # only where a praise token is predicted
        if cap:
            logits = torch.tanh(logits / cap) * cap
        loss = torch.nn.functional.cross_entropy(logits, enc.input_ids[rows_, cols + 1])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if max_norm is not None:
            with torch.no_grad():
                delta.mul_(min(1.0, max_norm / max(float(delta.norm()), 1e-12)))
        losses.append(loss.item())
    k = max(1, steps // 5)
    drop = float(np.mean(losses[:k]) - np.mean(losses[-k:]))
    return PlantFit(EmbeddingPlant(ids, delta.detach().clone()), drop, losses)
