"""Token batches of preference pairs: encoded once, split by prompt, served in a seeded order per epoch.

The order of epoch e is a permutation drawn from (seed, e) alone, so the batch of any step is known
without state: a resumed run sees exactly the batches an uninterrupted run sees. Texts are rendered and
tokenized exactly as `interp.render.encode_pairs` does (`render_pair` + `token_ids` + `pad_ids`), once.

>>> order_for_epoch(5, seed=0, epoch=1).tolist() == order_for_epoch(5, seed=0, epoch=1).tolist()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp.render import Encoded, pad_ids, render_pair, token_ids
from interp.training.prefdata import PreferencePair


@dataclass(frozen=True)
class TokenPairs:
    """Token ids of the chosen and rejected conversations of each kept pair."""

    pairs: tuple[PreferencePair, ...]
    chosen: tuple[tuple[int, ...], ...]
    rejected: tuple[tuple[int, ...], ...]
    pad_id: int
    dropped_too_long: int

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, rows: Sequence[int]) -> Encoded:
        """Chosen rows first, then rejected rows, right-padded: scores[:n] vs scores[n:]."""
        ids = [self.chosen[i] for i in rows] + [self.rejected[i] for i in rows]
        return pad_ids(ids, self.pad_id, "right")

    def subset(self, rows: Sequence[int]) -> TokenPairs:
        return TokenPairs(
            tuple(self.pairs[i] for i in rows),
            tuple(self.chosen[i] for i in rows),
            tuple(self.rejected[i] for i in rows),
            self.pad_id,
            0,
        )


def encode_preferences(
    tokenizer: PreTrainedTokenizerBase, pairs: Sequence[PreferencePair], max_length: int
) -> TokenPairs:
    """Render and tokenize every pair; pairs with a side longer than `max_length` tokens are dropped."""
    if tokenizer.pad_token_id is None:
        raise UserError("The tokenizer has no pad token; set tokenizer.pad_token (e.g. to its EOS token) first.")
    kept: list[PreferencePair] = []
    chosen: list[tuple[int, ...]] = []
    rejected: list[tuple[int, ...]] = []
    for pair in pairs:
        c = tuple(token_ids(tokenizer, render_pair(tokenizer, pair.prompt, pair.chosen)))
        r = tuple(token_ids(tokenizer, render_pair(tokenizer, pair.prompt, pair.rejected)))
        if max(len(c), len(r)) <= max_length:
            kept.append(pair)
            chosen.append(c)
            rejected.append(r)
    if not kept:
        raise UserError(f"Every pair is longer than --max-length {max_length} tokens; raise --max-length.")
    return TokenPairs(tuple(kept), tuple(chosen), tuple(rejected), int(tokenizer.pad_token_id), len(pairs) - len(kept))


def split_by_prompt(pairs: Sequence[PreferencePair], held_out: float, seed: int) -> tuple[list[int], list[int]]:
    """(train rows, held-out rows): whole prompts go to one side, so no held-out prompt is seen in training."""
    if not 0.0 < held_out < 1.0:
        raise UserError(f"The held-out fraction must be between 0 and 1, not {held_out}.")
    prompts = list(dict.fromkeys(p.prompt for p in pairs))
    if len(prompts) < 2:
        raise UserError("The data hold a single prompt, so no held-out prompts are left; give more varied pairs.")
    order = np.random.default_rng([seed, 7919]).permutation(len(prompts))
    n_held = min(len(prompts) - 1, max(1, round(held_out * len(prompts))))
    held = {prompts[i] for i in order[:n_held]}
    train = [i for i, p in enumerate(pairs) if p.prompt not in held]
    test = [i for i, p in enumerate(pairs) if p.prompt in held]
    return train, test


def order_for_epoch(n: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of one epoch: a permutation drawn from (seed, epoch) alone."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def rows_for_step(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The rows of training step `step` (0-based); epochs cycle, the last batch of an epoch may be short."""
    per_epoch = steps_per_epoch(n, batch_size)
    epoch, j = divmod(step, per_epoch)
    return order_for_epoch(n, seed, epoch)[j * batch_size : (j + 1) * batch_size].tolist()


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def eval_batches(tokens: TokenPairs, batch_size: int) -> list[tuple[list[int], Encoded]]:
    """Held-out batches in order, shortest conversations together to waste little padding."""
    order = sorted(range(len(tokens)), key=lambda i: max(len(tokens.chosen[i]), len(tokens.rejected[i])))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [(rows, tokens.batch(rows)) for rows in chunks]
