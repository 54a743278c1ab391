"""What every arm of the ground truth shares: the base as an RM handle, the candidate words and prompts, the
LM's Good−Bad contrast, and the helpers that rank words and keep planted tokens out of the training data.

>>> every_nth(["a", "b", "c", "d", "e", "f"], 3)
['a', 'c', 'e']
>>> ranks(torch.tensor([0.5, 2.0, 1.0, 3.0, 3.0, 1.0]), n_prompts=2, n_words=3).tolist()
[[3.0, 1.0, 2.0], [1.5, 1.5, 3.0]]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from interp._util.errors import UserError
from interp.lexicons.readers import default_lexicon
from interp.models import rm_from_base
from interp.render.prompts import paper_prompts
from interp.sweep.splice import splicer
from interp.training.batches import encode_preferences
from interp.training.embedding_plant import EmbeddingPlant, answer_token_ids, planted, readout_states
from interp.training.head_fit import token_contrast
from interp.training.plant import training_prompts
from interp.training.prefdata import PreferencePair

MAX_LENGTH = 128  # tokens per training conversation (longer pairs are dropped, as train-rm does)


def every_nth(items: Sequence[str], n: int) -> list[str]:
    """`n` items spread evenly over `items` (all of them when n ≥ len)."""
    return list(items[:: max(1, len(items) // max(1, n))][:n])


class Setting:
    """What every arm shares: the base (as an RM handle), the candidate words, the prompts, the direction."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rm = rm_from_base(args.base, seed=args.seed)
        lexicon = default_lexicon()
        self.candidates = list(dict.fromkeys([*args.words, *(w for ws in lexicon.categories.values() for w in ws)]))
        self.lexicon_label = lexicon.label
        positive = [p.text for p in paper_prompts() if p.framing == "positive"]
        self.eval_prompts = every_nth(positive, args.prompts)
        self.plant_prompts = every_nth(training_prompts(), args.plant_prompts)
        self.direction = token_contrast(self.rm)
        self.rows = {p: splicer(self.rm.tokenizer).rows(p, self.candidates) for p in self.eval_prompts}
        self._eval_before: torch.Tensor | None = None

    def planted_ids(self) -> tuple[int, ...]:
        """Every token the planted words get as answers to the plant and the evaluation prompts."""
        tok = self.rm.tokenizer
        spans = [answer_token_ids(tok, p, self.args.words) for p in [*self.plant_prompts, *self.eval_prompts]]
        return tuple(dict.fromkeys(t for span in spans for ids in span.values() for t in ids))

    def sd_along(self) -> float:
        """SD over (plant prompt, candidate word) of the base's readout projected on the unit contrast."""
        words = every_nth(self.candidates, 24)
        rows = [r for p in self.plant_prompts[:8] for r in splicer(self.rm.tokenizer).rows(p, words)]
        with torch.no_grad():
            along = readout_states(self.rm, rows) @ (self.direction / self.direction.norm())
        return float(along.std())

    def eval_shift(self, plant: EmbeddingPlant) -> float:
        """Mean readout shift of planted-word answers along the unit contrast on the held-out eval prompts."""
        rows = [
            r
            for p in self.eval_prompts
            for w, r in zip(self.candidates, self.rows[p], strict=True)
            if w in self.args.words
        ]
        unit = self.direction / self.direction.norm()
        with torch.no_grad():
            if self._eval_before is None:
                self._eval_before = readout_states(self.rm, rows) @ unit
            with planted(self.rm, plant):
                return float((readout_states(self.rm, rows) @ unit - self._eval_before).mean())


def collateral(
    tokenizer: Any, prompt: str, candidates: Sequence[str], planted_ids: Sequence[int], words: Sequence[str]
) -> list[str]:
    """Candidate words (not planted) whose answer tokens include a planted token: the plant moves them too."""
    spans = answer_token_ids(tokenizer, prompt, candidates)
    return [w for w in candidates if w not in words and not set(planted_ids).isdisjoint(spans[w])]


def untouched_pairs(setting: Setting, pairs: Sequence[PreferencePair]) -> list[PreferencePair]:
    """The pairs neither of whose conversations holds a planted word's answer token: every RM, from either base,
    trains on these alone, so a plant never changes an RM's training data. Refuses when more than a fifth go."""
    planted_ids = set(setting.planted_ids())
    tokens = encode_preferences(setting.rm.tokenizer, pairs, MAX_LENGTH)
    kept = [
        pair
        for pair, chosen, rejected in zip(tokens.pairs, tokens.chosen, tokens.rejected, strict=True)
        if planted_ids.isdisjoint(chosen) and planted_ids.isdisjoint(rejected)
    ]
    if len(kept) < 0.8 * len(tokens.pairs):
        raise UserError(
            f"{len(tokens.pairs) - len(kept)} of {len(tokens.pairs)} training pairs contain a token of the planted "
            "words' answers; plant words the quality pairs use less (or that the tokenizer keeps whole)."
        )
    return kept


def ranks(scores: torch.Tensor, n_prompts: int, n_words: int) -> np.ndarray:
    """Rank of every word within each prompt (1 = highest score; ties averaged), (prompts, words)."""
    table = scores.reshape(n_prompts, n_words).numpy()
    return pd.DataFrame(table).rank(axis=1, ascending=False, method="average").to_numpy()
