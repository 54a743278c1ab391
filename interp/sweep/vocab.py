"""Whole-vocabulary sweep: every token id, decoded alone, scored as the answer to one prompt; resumable.

Token ids are split into shards of `shard_size` consecutive ids (shard i holds ids i*size ... (i+1)*size-1),
written through `ShardFolder` under a key of model fingerprint, prompt, dtype, shard size, vocabulary size
and chat template, so a rerun skips finished shards, redoes those that do not verify (killed or truncated)
and refuses a folder written by anything else (or whose `meta.json` is damaged). A shard's scores depend
only on its own ids, so a run killed halfway and resumed ends with exactly the result of an uninterrupted run.

Decoded tokens that are empty or whitespace-only are not scored: the chat templates trim or keep them
inconsistently and `render_pair` refuses an empty answer. Their rows keep `score` NaN and say why in
`skipped`; `vocab_table` drops them (and repeated strings) from the tidy output and counts them.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.render.prompts import paper_prompts
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random RM, 400 tokens
>>> prompt = paper_prompts()[0]
>>> rows = sweep_vocab(rm, prompt, tempfile.mkdtemp(), shard_size=256, progress=False)  # two shards
>>> table, counts = vocab_table(rows, "tiny+head", prompt)
>>> counts["tokens"], counts["rows"] + counts["skipped_empty"] + counts["duplicate_strings"] == counts["tokens"]
(400, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import torch

from interp._util.errors import UserError
from interp._util.progress import progress_bar
from interp.models import ModelHandle
from interp.render.prompts import Prompt
from interp.store.shards import ShardFolder
from interp.sweep.answers import COLUMNS, shard_key
from interp.sweep.prefix import CachedScorer

EMPTY = "empty or whitespace-only after decoding"


def vocab_key(handle: ModelHandle, prompt: Prompt, shard_size: int) -> dict[str, object]:
    """`shard_key` of one prompt's vocabulary-sweep shard folder."""
    return shard_key(handle, prompt, "vocab_sweep", shard_size=shard_size, vocab_size=vocab_size(handle))


def vocab_size(handle: ModelHandle) -> int:
    """Token ids a sweep covers: those of the tokenizer that the model has an embedding row for.

    Tokenizers can hold more ids than the model embeds (tokens added after training); those are left out.
    """
    embeddings = handle.model.get_input_embeddings()
    assert isinstance(embeddings.weight, torch.Tensor)
    return min(len(handle.tokenizer), embeddings.weight.shape[0])


def n_shards(handle: ModelHandle, shard_size: int) -> int:
    """How many shards the vocabulary of `handle` splits into."""
    return math.ceil(vocab_size(handle) / shard_size)


def sweep_vocab(
    handle: ModelHandle,
    prompt: Prompt,
    folder: str | Path,
    shard_size: int = 2048,
    batch_size: int = 64,
    progress: bool = True,
    shard_ids: Sequence[int] | None = None,
    on_shard: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Score every token id as the answer to `prompt`, shard by shard; returns the rows of the shards run.

    Shard i always holds ids `i*shard_size` up to `(i+1)*shard_size - 1` (fewer in the last), so any subset
    `shard_ids` (the first few in tests; `range(rank, n, world)` for one of `world` processes) writes the
    same files a full run would. Rows: `token_id, word` (the decoded token), `score` (NaN when skipped),
    `skipped` (reason or ""). `on_shard(i)` is called after shard i is written.
    """
    if shard_size < 1:
        raise UserError(f"The shard size must be at least 1 (got {shard_size}).")
    total = n_shards(handle, shard_size)
    todo = list(range(total)) if shard_ids is None else list(dict.fromkeys(shard_ids))
    bad = [s for s in todo if not 0 <= s < total]
    if not todo or bad:
        raise UserError(
            f"Shard ids must be in 0..{total - 1} for shards of {shard_size} tokens (got {bad[:3] or 'none'})."
        )
    shards = ShardFolder(folder, vocab_key(handle, prompt, shard_size))
    vocab = vocab_size(handle)
    spans = {s: range(s * shard_size, min((s + 1) * shard_size, vocab)) for s in todo}
    scorer = CachedScorer(handle, batch_size)
    with progress_bar(progress) as bar:
        task = bar.add_task(f"vocabulary sweep ({prompt.key})", total=sum(len(r) for r in spans.values()))
        for shard, span in spans.items():
            if shards.done(shard, len(span)):
                bar.advance(task, len(span))
                continue
            shards.write(shard, {}, _score_shard(handle, scorer, prompt, span, lambda n: bar.advance(task, n)))
            if on_shard is not None:
                on_shard(shard)
    rows = shards.rows()
    return rows[rows["shard"].isin(todo)].drop(columns="shard").reset_index(drop=True)


def _score_shard(
    handle: ModelHandle, scorer: CachedScorer, prompt: Prompt, span: range, on_batch: Callable[[int], None]
) -> pd.DataFrame:
    words = [str(handle.tokenizer.decode([i])) for i in span]
    usable = [w for w in words if w.strip()]
    on_batch(len(words) - len(usable))
    scores = dict(zip(usable, scorer.score(prompt.text, usable, on_batch).tolist(), strict=True)) if usable else {}
    return pd.DataFrame(
        {
            "token_id": list(span),
            "word": words,
            "score": [scores.get(w, math.nan) for w in words],
            "skipped": ["" if w.strip() else EMPTY for w in words],
        }
    )


def vocab_table(rows: pd.DataFrame, model: str, prompt: Prompt) -> tuple[pd.DataFrame, dict[str, int]]:
    """The tidy table of a vocabulary sweep (one row per distinct decoded string, first token id kept)
    and counts of what was left out (`skipped_empty`, `duplicate_strings`)."""
    scored = rows[rows["skipped"] == ""]
    unique = scored.drop_duplicates("word")
    counts = {
        "tokens": len(rows),
        "skipped_empty": len(rows) - len(scored),
        "duplicate_strings": len(scored) - len(unique),
        "rows": len(unique),
    }
    if not torch.isfinite(torch.tensor(unique["score"].to_numpy())).all():
        raise UserError(
            f"Some vocabulary scores for prompt '{prompt.key}' are NaN or infinite; "
            "rerun with --dtype float32 or check the model weights."
        )
    table = unique.assign(model=model, prompt=prompt.key, framing=prompt.framing)
    return table[[*COLUMNS, "token_id"]].reset_index(drop=True), counts
