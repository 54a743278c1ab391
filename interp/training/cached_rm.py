"""Many RMs from one base in memory: the frozen bottom run once, each RM trains its top layers and head on it.

`CachedTrainer` builds the cache of the states entering the first trained layer for every preference pair
(one pass), then `train(seed, head_init)` gives one RM: the trainable weights reset to the base's, the head
started from the frozen features (`head_from_cache`), and Bradley–Terry fine-tuning of the top `k` layers
and the head at their own learning rates, on the seed's train/held-out split (whole prompts held out) and
batch order. Each RM is kept as its trainable weights only (`RMWeights`); `score_rows` scores token rows
with any of them on any cache of the same layer (e.g. one built under a plant).

>>> trainer = CachedTrainer(rm_from_base("smollm2-135m-instruct"), neutral_pairs(320), k=2)  # doctest: +SKIP
>>> rms = [trainer.train(seed) for seed in range(5)]  # five seed RMs from one frozen pass     # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import get_cosine_schedule_with_warmup

from interp.models import ModelHandle
from interp.render import pad_ids
from interp.score import body_forward, head_on, readout_hidden
from interp.training.batches import encode_preferences, rows_for_step, split_by_prompt, steps_per_epoch
from interp.training.bradley_terry import evaluate_pairs, pair_scores
from interp.training.features import (
    FeatureCache,
    build_cache,
    build_cache_shared,
    head_from_cache,
    install_cache,
)
from interp.training.prefdata import PreferencePair
from interp.training.trainable import final_norm, load_trainable, param_groups, prepare, trainable_state


@dataclass(frozen=True)
class RMWeights:
    """One trained RM as its trainable weights, with its held-out accuracy and its frozen linear head's."""

    seed: int
    head_init: str
    weights: dict[str, torch.Tensor]
    held_out_accuracy: float
    frozen_head_accuracy: float | None
    held_out_pairs: int


class CachedTrainer:
    """Trains RMs (top `k` layers + head) from one base on cached frozen features of the same pairs."""

    def __init__(
        self,
        handle: ModelHandle,
        pairs: Sequence[PreferencePair],
        k: int,
        held_out: float = 0.15,
        max_length: int = 128,
        batch_size: int = 16,
        progress: bool = False,
    ) -> None:
        """Encode the pairs and run the frozen bottom of the base once over them; `handle` is an RM handle."""
        self.handle, self.k, self.held_out, self.batch_size = handle, k, held_out, batch_size
        self.prepared = prepare(handle, "last-k", k)
        self.initial = trainable_state(self.prepared)
        self.start = handle.n_layers - k
        self.tokens = encode_preferences(handle.tokenizer, pairs, max_length)
        rows = [*self.tokens.chosen, *self.tokens.rejected]
        self.cache = build_cache(handle, rows, self.start, self.tokens.pad_id, progress=progress)

    def train(
        self, seed: int, head_init: str = "fit", epochs: int = 1, lr: float = 1e-4, head_lr: float = 1e-3
    ) -> RMWeights:
        """One RM: the seed picks the held-out prompts and the batch order; weights start from the base."""
        handle, tokens = self.handle, self.tokens
        load_trainable(self.prepared, self.initial, "the base")
        train_rows, held_rows = split_by_prompt(tokens.pairs, self.held_out, seed)
        train, held = tokens.subset(train_rows), tokens.subset(held_rows)
        head = head_from_cache(handle, tokens, train_rows, held_rows, self.cache, head_init, seed)
        total = epochs * steps_per_epoch(len(train), self.batch_size)
        optimizer = torch.optim.AdamW(param_groups(self.prepared, lr, head_lr), lr=lr, weight_decay=0.0)
        scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(0.03 * total), total)
        params = list(self.prepared.params.values())
        for p in params:
            p.grad = None  # nothing left over from other work on the same model
        undo = install_cache(handle, self.cache)
        try:
            handle.model.train()
            for step in range(total):
                rows = rows_for_step(len(train), self.batch_size, seed, step)
                scores = pair_scores(handle, train.batch(rows).to(handle.model.device), None)
                loss = -torch.nn.functional.logsigmoid(scores[: len(rows)] - scores[len(rows) :]).mean()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            accuracy = evaluate_pairs(handle, held, 64, None)[0]
        finally:
            handle.model.eval()
            undo()
        weights = trainable_state(self.prepared)
        return RMWeights(seed, head_init, weights, accuracy, head.frozen_head_accuracy, len(held))

    def features(self, rows: Sequence[Sequence[int]]) -> FeatureCache:
        """The cache of the states entering the first trained layer for other token rows (e.g. answers to score)."""
        return build_cache(self.handle, [tuple(r) for r in rows], self.start, self.tokens.pad_id)

    def features_shared(self, groups: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]) -> FeatureCache:
        """`features` of rows prefix + tail given as (prefix, tails) groups, each prefix run once (its KV cache)."""
        shared = [(tuple(prefix), [tuple(t) for t in tails]) for prefix, tails in groups]
        return build_cache_shared(self.handle, shared, self.start)

    @torch.no_grad()
    def readout_residuals(self, rm: RMWeights, rows: Sequence[Sequence[int]], cache: FeatureCache) -> torch.Tensor:
        """The residual entering the final norm at each row's readout token under `rm`, (len(rows), d) fp32."""
        load_trainable(self.prepared, rm.weights, f"RM seed {rm.seed}")
        grabbed: list[torch.Tensor] = []

        def grab(_module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            grabbed.append(args[0])

        hook = final_norm(self.handle).register_forward_pre_hook(grab)
        undo = install_cache(self.handle, cache)
        try:
            parts = []
            for i in range(0, len(rows), 64):
                enc = pad_ids(rows[i : i + 64], self.tokens.pad_id, "right")
                grabbed.clear()
                body_forward(self.handle, enc)
                parts.append(readout_hidden(grabbed[0], enc.readout).float().cpu())
        finally:
            hook.remove()
            undo()
        return torch.cat(parts)

    @torch.no_grad()
    def head_scores(self, rm: RMWeights, residuals: torch.Tensor) -> torch.Tensor:
        """Scores of readout residuals (n, d) under `rm`: its final norm, then its head, fp32."""
        load_trainable(self.prepared, rm.weights, f"RM seed {rm.seed}")
        norm = final_norm(self.handle)
        return head_on(self.handle, norm(residuals.to(self.handle.model.device))).cpu()

    def score_rows(self, rm: RMWeights, rows: Sequence[Sequence[int]], cache: FeatureCache) -> torch.Tensor:
        """Scores of token rows (all in `cache`) under the RM `rm`, fp32."""
        return self.head_scores(rm, self.readout_residuals(rm, rows, cache))
