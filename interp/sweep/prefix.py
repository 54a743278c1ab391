"""Score many answers per prompt by running each prompt's shared tokens once and reusing their KV cache.

Every candidate conversation has the token ids `interp.score.reward_scores` gives it, spliced from parts
tokenised once per prompt (`interp.sweep.splice`). Per prompt, the longest token prefix that all its
candidates share (system/user turn and assistant header) is computed once, for up to `batch_size` prompts
together; the candidates' tails (answer + template tail) are then sorted by length and scored `batch_size` at
a time, prompts mixed, in one of two ways (scores equal full-sequence scoring up to fp32 rounding):

- `batched`: the prefixes run as one left-padded batch with a `DynamicCache`; each row of a batch runs one
  tail, right-padded, attending to its own prompt's cached keys/values (selected per row; the stored cache is
  never mutated), with position ids continuing from its own prefix length, the head read at its last real
  token. Left-padding keeps each prompt's real tokens contiguous and next to the tail, so sliding-window
  layers (Gemma) see the same window as in the unpadded sequence.
- `packed` (`interp.sweep.packed`): the prefixes run as one row (their common start once); candidates are
  sorted by prompt, then tail length, and each row of a batch packs many tails under a block mask, after
  the keys/values of their prompts: the same keys, values and positions per answer, no padding between them.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.score import reward_scores
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("gemma3", tempfile.mkdtemp())))  # a tiny random RM
>>> scorer = CachedScorer(rm, batch_size=64)
>>> scores = scorer.score("What is the best thing ever?", ["Love", "Freedom", "Power"])
>>> full = reward_scores(rm, [("What is the best thing ever?", a) for a in ["Love", "Freedom", "Power"]])
>>> scores.shape, bool((scores - full).abs().max() < 1e-4)
(torch.Size([3]), True)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from interp._util.errors import UserError
from interp.hooks.active import active_interventions
from interp.models import ModelHandle
from interp.render import pad_ids
from interp.score import check_finite, head_on, reward_scores
from interp.sweep.packed import SharedPrefixes, packable, score_packed
from interp.sweep.splice import shared_prefix_length, splicer

Method = Literal["auto", "batched", "packed"]
METHODS: tuple[Method, ...] = ("auto", "batched", "packed")
__all__ = ["METHODS", "CachedScorer", "Method", "PrefixCache", "resolve_method", "score_tails", "shared_prefix_length"]


class PrefixCache:
    """The KV caches of several token prefixes, run once as one left-padded batch.

    `mask` (prefixes × padded length) and `lengths` (real tokens per prefix) describe the padding;
    `for_rows(idx)` gives a fresh cache whose row i holds prefix `idx[i]`.
    """

    def __init__(self, handle: ModelHandle, prefixes: Sequence[Sequence[int]]) -> None:
        self.prefixes = tuple(tuple(p) for p in prefixes)
        enc = pad_ids(self.prefixes, int(handle.tokenizer.pad_token_id), "left").to(handle.model.device)
        self.mask, self.lengths = enc.attention_mask, enc.attention_mask.sum(dim=1)
        self.cache = DynamicCache(config=handle.model.config)
        with torch.no_grad():
            handle.body(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                position_ids=enc.position_ids,
                past_key_values=self.cache,
                use_cache=True,
            )

    def for_rows(self, idx: torch.Tensor) -> DynamicCache:
        """A new cache for a batch whose row i continues prefix `idx[i]`.

        One prefix for all rows: views expanded to the batch (no copy); several: rows gathered. Cache layers
        rebind (never write into) their tensors on update, so the stored cache stays intact; sliding-window
        layers keep their own `cumulative_length`, copied with the layer.
        """
        single = bool((idx == idx[0]).all())
        out = copy.copy(self.cache)
        out.layers = []
        for layer in self.cache.layers:
            if not isinstance(layer, DynamicLayer):
                raise UserError(
                    f"Prompt caching supports attention cache layers only, not {type(layer).__name__}; "
                    "score this model with interp.score.reward_scores instead."
                )
            view = copy.copy(layer)
            if layer.keys is not None and layer.values is not None:
                if single:
                    first = int(idx[0])
                    view.keys = layer.keys[first : first + 1].expand(len(idx), -1, -1, -1)
                    view.values = layer.values[first : first + 1].expand(len(idx), -1, -1, -1)
                else:
                    view.keys, view.values = layer.keys[idx], layer.values[idx]
            out.layers.append(view)
        return out


def tail_hidden(
    handle: ModelHandle, cache: PrefixCache, idx: Sequence[int], tails: Sequence[Sequence[int]]
) -> torch.Tensor:
    """Final-norm hidden states at the readout token of rows `prefix[idx[i]] + tails[i]`, (len(tails), d)."""
    device = handle.model.device
    rows = torch.tensor(list(idx), dtype=torch.long, device=device)
    tail = pad_ids(tails, int(handle.tokenizer.pad_token_id), "right").to(device)
    width = tail.input_ids.shape[1]
    mask = torch.cat([cache.mask[rows], tail.attention_mask], dim=1)
    positions = cache.lengths[rows, None] + torch.arange(width, device=device)
    hidden = handle.body(
        input_ids=tail.input_ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache.for_rows(rows),
        use_cache=True,
    ).last_hidden_state
    return hidden[torch.arange(len(tails), device=device), tail.readout]


@torch.no_grad()
def score_tails(
    handle: ModelHandle, cache: PrefixCache, idx: Sequence[int], tails: Sequence[Sequence[int]]
) -> torch.Tensor:
    """Scores (fp32, CPU) of rows `prefix[idx[i]] + tails[i]` for one batch of non-empty tails."""
    return head_on(handle, tail_hidden(handle, cache, idx, tails)).cpu()


class CachedScorer:
    """Reward scores of (prompt, answer) pairs with each prompt's shared prefix run once.

    Pairs are de-duplicated; prompts are taken `batch_size` at a time (their prefixes form one batch), and
    within them the tails are sorted by length (less padding) and scored `batch_size` at a time, either as
    rows of a batch (`method="batched"`) or packed several to a row (`"packed"`, `interp.sweep.packed`;
    rows of about `row_tokens` tokens); `"auto"` packs where packing was measured faster (see
    `resolve_method`). Conversations are tokenised by splicing (`interp.sweep.splice`). The last prefix
    cache is kept, so scoring the same prompt again (the next shard of a vocabulary sweep) does not rerun its
    prefix. RMs without a standard `score` head fall back to full-sequence scoring.
    """

    def __init__(
        self, handle: ModelHandle, batch_size: int = 64, method: Method = "auto", row_tokens: int = 128
    ) -> None:
        if handle.kind != "rm":
            raise UserError(f"'{handle.name}' is loaded as a language model; load it with load_rm to score rewards.")
        if batch_size < 1:
            raise UserError(f"The batch size must be at least 1 (got {batch_size}).")
        if row_tokens < 1:
            raise UserError(f"The tokens per packed row must be at least 1 (got {row_tokens}).")
        self.handle = handle
        self.batch_size = batch_size
        self.requested = method
        self.method = resolve_method(handle, method)  # as of now; interventions entered later change `auto`
        self.row_tokens = row_tokens
        self._cache: PrefixCache | SharedPrefixes | None = None

    def _prefix_cache(self, prefixes: Sequence[Sequence[int]]) -> PrefixCache | SharedPrefixes:
        self.method = resolve_method(self.handle, self.requested)
        kind = SharedPrefixes if self.method == "packed" else PrefixCache
        if not isinstance(self._cache, kind) or self._cache.prefixes != tuple(tuple(p) for p in prefixes):
            self._cache = kind(self.handle, prefixes)
        return self._cache

    def score(self, prompt: str, answers: Sequence[str], on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
        """Scores of `answers` (in their order) to one prompt; `on_batch(n)` is called after each batch."""
        return self.score_pairs([(prompt, a) for a in answers], on_batch)

    def score_pairs(
        self, pairs: Sequence[tuple[str, str]], on_batch: Callable[[int], None] | None = None
    ) -> torch.Tensor:
        """Scores of (prompt, answer) pairs, in their order; `on_batch(n)` is called after each batch."""
        if not pairs:
            raise UserError("The list of answers to score is empty; give at least one answer.")
        unique = list(dict.fromkeys(pairs))
        scores = torch.empty(len(unique), dtype=torch.float32)
        prompts = list(dict.fromkeys(p for p, _ in unique))
        for start in range(0, len(prompts), self.batch_size):
            group = set(prompts[start : start + self.batch_size])
            members = [i for i, (p, _) in enumerate(unique) if p in group]
            scores[members] = self._score_group([unique[i] for i in members], on_batch)
        index = {pair: i for i, pair in enumerate(unique)}
        return check_finite(scores[[index[pair] for pair in pairs]], "reward scores")

    def _score_group(self, pairs: Sequence[tuple[str, str]], on_batch: Callable[[int], None] | None) -> torch.Tensor:
        if not hasattr(self.handle.model, "score"):
            scores = reward_scores(self.handle, pairs, self.batch_size)
            if on_batch is not None:
                on_batch(len(pairs))
            return scores
        groups: dict[str, list[int]] = {}
        for i, (p, _) in enumerate(pairs):
            groups.setdefault(p, []).append(i)
        prefixes, tails, idx = [], [[0]] * len(pairs), [0] * len(pairs)
        for slot, (prompt, members) in enumerate(groups.items()):
            prefix, rests = splicer(self.handle.tokenizer).split(prompt, [pairs[i][1] for i in members])
            prefixes.append(prefix)
            for i, rest in zip(members, rests, strict=True):
                tails[i], idx[i] = rest, slot
        cache = self._prefix_cache(prefixes)
        if isinstance(cache, SharedPrefixes):  # a prompt's answers together: a row then needs few prompts' keys
            order = sorted(range(len(pairs)), key=lambda i: (idx[i], len(tails[i])))
        else:
            order = sorted(range(len(pairs)), key=lambda i: len(tails[i]))
        scores = torch.empty(len(pairs), dtype=torch.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            rows, chunk_tails = [idx[i] for i in chunk], [tails[i] for i in chunk]
            if isinstance(cache, SharedPrefixes):
                scores[chunk] = score_packed(self.handle, cache, rows, chunk_tails, self.row_tokens)
            else:
                scores[chunk] = score_tails(self.handle, cache, rows, chunk_tails)
            if on_batch is not None:
                on_batch(len(chunk))
        return scores


def resolve_method(handle: ModelHandle, method: Method) -> Method:
    """The method `CachedScorer` uses; `auto` packs on the CPU when the model is packable, else batches.

    Measured on the CPU (one thread, `benchmarks/sweep.py`, `benchmarks/vocab_sweep_8b_shape.py --quick`):
    packing ran the SmolLM2 lexicon sweep ~1.5x faster than batching (no padding, the prompts' common start
    run once) and the 8B-shaped vocabulary sweep ~1.2x faster. On GPUs only batching has been measured, so
    `auto` keeps it there until `benchmarks/vocab_sweep_8b_shape.py` shows packing faster. Under an
    intervention (`interp.causal.edit_sites`) `auto` batches: the edits are placed by a 2-D attention mask.
    """
    if method not in METHODS:
        raise UserError(f"Unknown scoring method '{method}'; use one of: {', '.join(METHODS)}.")
    if method == "packed" and not packable(handle):
        raise UserError(
            f"Answers cannot be packed for '{handle.name}' (its attention kernel or sliding-window layout takes "
            "no block mask); use method 'batched' or 'auto'."
        )

    editing = active_interventions(handle) > 0  # their hooks place edits by a 2-D mask, not a block mask
    if method == "packed" and editing:
        raise UserError("Packed scoring cannot run under an intervention; use method 'batched' or 'auto'.")
    if method == "auto":
        return "packed" if packable(handle) and handle.model.device.type == "cpu" and not editing else "batched"
    return method
