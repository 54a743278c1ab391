"""Score many answers to one prompt by running the prompt's shared tokens once and reusing their KV cache.

Every candidate conversation is rendered and tokenized exactly as `interp.score.reward_scores` does it; the
longest token prefix that all candidates share (the system/user turn and the assistant header) runs once
with a `DynamicCache`. Each batch then runs only its rows' tails (answer + template tail), right-padded,
with the cache expanded to the batch as views (no copy, and the stored cache is never mutated), position
ids continuing from the prefix length and the head read at each row's last real tail token.

>>> scorer = CachedScorer(rm, batch_size=64)                      # doctest: +SKIP
>>> scorer.score("What is the best thing ever?", ["Love", "Freedom"])  # doctest: +SKIP
tensor([0.8120, 0.7315])
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from transformers import DynamicCache

from interp.errors import UserError
from interp.models import ModelHandle
from interp.render import render_pair, token_ids
from interp.score import check_finite, head_on, reward_scores


def shared_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all rows share, leaving at least one token in every row.

    >>> shared_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    >>> shared_prefix_length([[1, 2], [1, 2, 3]])
    1
    """
    if not rows:
        return 0
    first, limit = rows[0], min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


class PromptCache:
    """The KV cache of one token prefix (batch 1), computed once; `expanded(b)` views it for a batch."""

    def __init__(self, handle: ModelHandle, prefix: Sequence[int]) -> None:
        self.prefix = tuple(prefix)
        device = handle.model.device
        self.cache = DynamicCache(config=handle.model.config)
        ids = torch.tensor([self.prefix], device=device)
        with torch.no_grad():
            handle.body(input_ids=ids, attention_mask=torch.ones_like(ids),
                        position_ids=torch.arange(len(self.prefix), device=device)[None],
                        past_key_values=self.cache, use_cache=True)

    def expanded(self, batch: int) -> DynamicCache:
        """A new cache whose layers view the stored keys/values expanded to `batch` rows.

        Cache layers rebind (never write into) their tensors on update, so the stored cache stays intact;
        sliding-window layers keep their own `cumulative_length`, copied with the layer.
        """
        out = copy.copy(self.cache)
        out.layers = []
        for layer in self.cache.layers:
            view = copy.copy(layer)
            if layer.is_initialized:
                view.keys = layer.keys.expand(batch, -1, -1, -1)
                view.values = layer.values.expand(batch, -1, -1, -1)
            out.layers.append(view)
        return out


@torch.no_grad()
def score_tails(handle: ModelHandle, cache: PromptCache, tails: Sequence[Sequence[int]]) -> torch.Tensor:
    """Scores (fp32, CPU) of rows `cache.prefix + tail` for one batch of non-empty tails."""
    device = handle.model.device
    n_prefix, width, batch = len(cache.prefix), max(len(t) for t in tails), len(tails)
    ids = torch.full((batch, width), int(handle.tokenizer.pad_token_id), dtype=torch.long)
    tail_mask = torch.zeros((batch, width), dtype=torch.long)
    for i, tail in enumerate(tails):
        ids[i, : len(tail)] = torch.tensor(list(tail), dtype=torch.long)
        tail_mask[i, : len(tail)] = 1
    mask = torch.cat([torch.ones((batch, n_prefix), dtype=torch.long), tail_mask], dim=1)
    positions = (n_prefix + torch.arange(width)).expand(batch, -1)
    hidden = handle.body(input_ids=ids.to(device), attention_mask=mask.to(device),
                         position_ids=positions.to(device), past_key_values=cache.expanded(batch),
                         use_cache=True).last_hidden_state
    readout = tail_mask.sum(dim=1) - 1
    return head_on(handle, hidden[torch.arange(batch, device=device), readout.to(device)]).cpu()


class CachedScorer:
    """Reward scores of many answers per prompt, with the prompt prefix's KV cache reused across batches.

    Answers are de-duplicated, sorted by tail length (less padding) and scored `batch_size` at a time; the
    last prefix cache is kept, so calling `score` again with the same prompt (e.g. the next shard of a
    vocabulary sweep) does not rerun the prefix. RMs without a standard `score` head fall back to
    full-sequence scoring.
    """

    def __init__(self, handle: ModelHandle, batch_size: int = 64) -> None:
        if handle.kind != "rm":
            raise UserError(f"'{handle.name}' is loaded as a language model; load it with load_rm to score rewards.")
        if batch_size < 1:
            raise UserError(f"The batch size must be at least 1 (got {batch_size}).")
        self.handle = handle
        self.batch_size = batch_size
        self._cache: PromptCache | None = None

    def _prompt_cache(self, prefix: Sequence[int]) -> PromptCache:
        if self._cache is None or self._cache.prefix != tuple(prefix):
            self._cache = PromptCache(self.handle, prefix)
        return self._cache

    def score(self, prompt: str, answers: Sequence[str],
              on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
        """Scores of `answers` (in their order) to `prompt`; `on_batch(n)` is called after each batch."""
        if not answers:
            raise UserError("The list of answers to score is empty; give at least one answer.")
        unique = list(dict.fromkeys(answers))
        if not hasattr(self.handle.model, "score"):
            scores = reward_scores(self.handle, [(prompt, a) for a in unique], self.batch_size)
        else:
            tok = self.handle.tokenizer
            rows = [token_ids(tok, render_pair(tok, prompt, a)) for a in unique]
            n = shared_prefix_length(rows)
            cache = self._prompt_cache(rows[0][:n])
            order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
            scores = torch.empty(len(rows), dtype=torch.float32)
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                scores[chunk] = score_tails(self.handle, cache, [rows[i][n:] for i in chunk])
                if on_batch is not None:
                    on_batch(len(chunk))
        index = {a: i for i, a in enumerate(unique)}
        return check_finite(scores[[index[a] for a in answers]], "reward scores")
