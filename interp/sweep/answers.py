"""Lexicon sweep: every (prompt, answer) pair scored by an RM, as a tidy table `rm-interp stats` reads.

Columns: `model, prompt, word, score, framing` — one row per (prompt, answer); `prompt` is the prompt key.
Each prompt's shared prefix runs once (`CachedScorer`); the answers run as batched tails.

>>> from interp.prompts import paper_prompts
>>> table = sweep_answers(rm, paper_prompts()[:2], ["love", "freedom"])  # doctest: +SKIP
>>> list(table.columns)                                                   # doctest: +SKIP
['model', 'prompt', 'word', 'score', 'framing']
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from transformers import PreTrainedTokenizerBase

from interp.errors import UserError
from interp.lexicon import Lexicon
from interp.lexicon_match import token_vocabulary
from interp.models import ModelHandle
from interp.progress import progress_bar
from interp.prompts import Prompt
from interp.sweep.prefix import CachedScorer

COLUMNS = ["model", "prompt", "word", "score", "framing"]


def lexicon_answers(lexicon: Lexicon, tokenizer: PreTrainedTokenizerBase) -> pd.DataFrame:
    """The lexicon's (word, category) entries as answers, in order, with `stem*` globs expanded.

    A glob is expanded against the tokenizer's decoded single tokens (the only vocabulary a glob can be
    expanded against without a word list); a glob that matches nothing is dropped. The answers to score
    are `table["word"].unique()`.
    """
    pairs: list[tuple[str, str]] = []
    vocab: list[str] | None = None
    for entry, category in lexicon.entries().itertuples(index=False):
        if not entry.endswith("*"):
            pairs.append((entry, category))
            continue
        vocab = token_vocabulary(tokenizer) if vocab is None else vocab
        try:
            found = Lexicon("glob", {"glob": (entry,)}, "glob").restrict(vocab).categories["glob"]
        except UserError:
            continue
        pairs += [(word, category) for word in found]
    if not pairs:
        raise UserError(f"No word of lexicon '{lexicon.name}' could be used as an answer; its globs match no token.")
    return pd.DataFrame(pairs, columns=["word", "category"]).drop_duplicates(ignore_index=True)


def sweep_answers(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    answers: Sequence[str],
    model: str | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> pd.DataFrame:
    """Score every answer to every prompt with the prompt-prefix KV cache; a tidy table (see module doc)."""
    if not prompts:
        raise UserError("The list of prompts is empty; give at least one prompt.")
    if not answers:
        raise UserError("The list of answers is empty; give a lexicon with at least one word.")
    answers = list(dict.fromkeys(answers))
    pairs = [(p.text, a) for p in prompts for a in answers]
    with progress_bar(progress) as bar:
        task = bar.add_task("lexicon sweep", total=len(pairs))
        scores = CachedScorer(handle, batch_size).score_pairs(pairs, on_batch=lambda n: bar.advance(task, n))
    table = pd.DataFrame(
        {
            "model": model or handle.name,
            "prompt": [p.key for p in prompts for _ in answers],
            "word": answers * len(prompts),
            "score": scores.double().numpy(),
            "framing": [p.framing for p in prompts for _ in answers],
        }
    )
    return table[COLUMNS]
