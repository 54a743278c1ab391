"""Lexicon sweep: every (prompt, answer) pair scored by an RM, as a tidy table `rm-interp stats` reads.

Columns: `model, prompt, word, score, framing` — one row per (prompt, answer); `prompt` is the prompt key.
Each prompt's shared prefix runs once (`CachedScorer`); the answers run as batched tails.

`sweep_lexicon` is the resumable form `rm-interp sweep` runs: each prompt is one shard of its own
`ShardFolder`, keyed by model fingerprint, dtype, prompt, answers and chat template, so a rerun skips the
prompts already scored and refuses a folder written by another model or lexicon. A prompt's scores depend
on nothing else, so a killed and resumed sweep ends with exactly the table of an uninterrupted one.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.render.prompts import paper_prompts
>>> from interp.score import reward_scores
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random RM
>>> prompts = paper_prompts()[:2]
>>> table = sweep_answers(rm, prompts, ["love", "freedom"], progress=False)
>>> list(table.columns)
['model', 'prompt', 'word', 'score', 'framing']
>>> full = reward_scores(rm, [(p.text, a) for p in prompts for a in ["love", "freedom"]])  # no KV cache
>>> bool((table["score"] - full.double().numpy()).abs().max() < 1e-4)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp._util.progress import progress_bar
from interp.lexicons.matching import token_vocabulary
from interp.lexicons.readers import Lexicon
from interp.models import ModelHandle
from interp.render import chat_template
from interp.render.prompts import Prompt
from interp.store.shards import ShardFolder
from interp.sweep.outputs import check_shard_folders
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


def shard_key(handle: ModelHandle, prompt: Prompt, kind: str, **rest: object) -> dict[str, object]:
    """What one prompt's sweep shards depend on (the model, its dtype, the prompt, the chat template, `rest`);
    a folder written with another key is refused."""
    return {
        "kind": kind,
        "model": handle.fingerprint,
        "dtype": str(handle.model.dtype).removeprefix("torch."),
        "prompt": prompt.text,
        "prompt_key": prompt.key,
        "chat_template": hashlib.sha256(chat_template(handle.tokenizer).encode()).hexdigest()[:16],
        **rest,
    }


def lexicon_key(handle: ModelHandle, prompt: Prompt, answers: Sequence[str]) -> dict[str, object]:
    """`shard_key` of one prompt's lexicon-sweep shard."""
    return shard_key(handle, prompt, "lexicon_sweep", answers=answers_hash(answers), n_answers=len(answers))


def answers_hash(answers: Sequence[str]) -> str:
    """16-hex sha256 of the answers, in order.

    >>> answers_hash(["love", "freedom"]) == answers_hash(["love", "freedom"]) != answers_hash(["freedom", "love"])
    True
    """
    return hashlib.sha256("\n".join(answers).encode()).hexdigest()[:16]


def sweep_lexicon(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    answers: Sequence[str],
    folders: Sequence[Path],
    model: str | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> pd.DataFrame:
    """`sweep_answers`, resumable: prompt i's scores are shard 0 of the shard folder `folders[i]`.

    Every existing folder's key is checked before anything is written, so a folder written by another
    model or lexicon is refused with nothing changed.
    """
    if not prompts:
        raise UserError("The list of prompts is empty; give at least one prompt.")
    answers = list(dict.fromkeys(answers))
    if not answers:
        raise UserError("The list of answers is empty; give a lexicon with at least one word.")
    keys = [lexicon_key(handle, p, answers) for p in prompts]
    check_shard_folders(list(zip(folders, keys, strict=True)))
    opened = [ShardFolder(folder, key) for folder, key in zip(folders, keys, strict=True)]
    scorer = CachedScorer(handle, batch_size)
    frames = []
    with progress_bar(progress) as bar:
        task = bar.add_task("lexicon sweep", total=len(prompts) * len(answers))
        for i, prompt in enumerate(prompts):
            shards = opened[i]
            if not shards.done(0):
                scores = scorer.score(prompt.text, answers, lambda n: bar.advance(task, n))
                shards.write(0, {}, pd.DataFrame({"word": answers, "score": scores.double().numpy()}))
            else:
                bar.advance(task, len(answers))
            rows = shards.rows()
            frames.append(
                pd.DataFrame(
                    {
                        "model": model or handle.name,
                        "prompt": prompt.key,
                        "word": rows["word"],
                        "score": rows["score"],
                        "framing": prompt.framing,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)[COLUMNS]
