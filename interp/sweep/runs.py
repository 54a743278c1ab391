"""The `rm-interp sweep`, `logprobs` and `implicit-reward` pipelines as functions: check, load, measure, write.

Every input and the output folder are checked before a model loads; nothing is written until the work is done
(sweeps also keep resumable per-prompt shards under OUT/shards). The commands only parse options and print.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interp._util.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from interp.lexicons.readers import Lexicon
    from interp.models import ModelHandle
    from interp.render.prompts import Prompt
    from interp.sweep.logprobs import Wrapper

VOCAB = "vocab"


def model_label(name: str) -> str:
    """A model's name in tables: a local folder's own name, else the name as given."""
    return Path(name).name if Path(name).is_dir() else name


def check_one_model(rm: str | None, base: str | None) -> None:
    """Refuse anything but exactly one of an RM (`--rm`) and a base LM to give a fresh head (`--base-for-new-head`)."""
    if (rm is None) == (base is None):
        raise UserError("Give exactly one of --rm (a reward model) or --base-for-new-head (a base LM).")


def answer_lexicon(spec: str) -> Lexicon | None:
    """The lexicon of a `--lexicon` spec, or None for the whole vocabulary (`vocab`)."""
    from interp.lexicons.readers import load_lexicon

    return None if spec == VOCAB else load_lexicon(spec)


def choose_wrappers(given: Sequence[str | None]) -> tuple[Wrapper, ...]:
    """The named prompt wrappers in canonical order (empty when none is named); refuses an unknown name."""
    from interp.sweep.logprobs import WRAPPERS

    chosen = [w for w in given if w]
    bad = [w for w in chosen if w not in WRAPPERS]
    if bad:
        raise UserError(f"Unknown wrapper '{bad[0]}'; use one of: {', '.join(WRAPPERS)}.")
    return tuple(w for w in WRAPPERS if w in chosen)


def dtype_name(handle: ModelHandle) -> str:
    """The model's weight dtype as the configs record it (e.g. `float32`)."""
    return str(handle.model.dtype).removeprefix("torch.")


def run_key(handle: ModelHandle, answers: str) -> dict[str, str]:
    """What a sweep folder's config must match to be resumed: the model, its dtype and the answers' hash."""
    return {"fingerprint": handle.fingerprint, "dtype": dtype_name(handle), "answers": answers}


def sweep_config(
    handle: ModelHandle,
    label: str,
    seed: int,
    prompts: tuple[Prompt, ...],
    batch_size: int,
    shard_size: int,
    start: float,
    **extra: Any,
) -> dict[str, Any]:
    """The config.json of a sweep (one process or many) begun at `perf_counter()` time `start`; `extra`: what it
    records about the answers (and the world size)."""
    return {
        "kind": "sweep",
        "model": label,
        "fingerprint": handle.fingerprint,
        "dtype": dtype_name(handle),
        "seed": seed,
        "prompts": [p.key for p in prompts],
        "batch_size": batch_size,
        "shard_size": shard_size,
        "seconds": round(time.perf_counter() - start, 1),
        **extra,
    }


def _load_scorer(
    rm: str | None, base: str | None, seed: int, dtype: str, trust_remote_code: bool
) -> tuple[ModelHandle, str]:
    from interp.models import load_rm, rm_from_base

    if rm is not None:
        return load_rm(rm, dtype=dtype, trust_remote_code=trust_remote_code), model_label(rm)
    assert base is not None
    handle = rm_from_base(base, seed=seed, dtype=dtype, trust_remote_code=trust_remote_code)
    return handle, f"{model_label(base)}+head-seed{seed}"


def score_shards(
    out: Path,
    prompts: tuple[Prompt, ...],
    lexicon: Lexicon | None,
    handle: ModelHandle,
    label: str,
    batch_size: int,
    shard_size: int,
    found: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score the lexicon (or whole vocabulary) for every prompt through resumable shards under OUT/shards.

    Refuses, before writing, a folder holding another model's, dtype's or lexicon's sweep (`found` is its
    config). Returns the tidy table and what the config records about the answers.
    """
    import pandas as pd

    from interp.sweep.answers import answers_hash, lexicon_answers, sweep_lexicon
    from interp.sweep.outputs import check_same_run, check_shard_folders, shard_folder
    from interp.sweep.vocab import sweep_vocab, vocab_key, vocab_table

    folders = [shard_folder(out, p) for p in prompts]
    if lexicon is None:
        check_same_run(out, found, run_key(handle, VOCAB))
        check_shard_folders([(f, vocab_key(handle, p, shard_size)) for f, p in zip(folders, prompts, strict=True)])
        tables, counts = [], {}
        for folder, prompt in zip(folders, prompts, strict=True):
            rows = sweep_vocab(handle, prompt, folder, shard_size, batch_size)
            table, counts[prompt.key] = vocab_table(rows, label, prompt)
            tables.append(table)
        info = {"answers": VOCAB, "lexicon": "whole vocabulary (every token id decoded alone)", "vocab_counts": counts}
        return pd.concat(tables, ignore_index=True), info
    words = lexicon_answers(lexicon, handle.tokenizer)["word"].unique().tolist()
    answers = answers_hash(words)
    check_same_run(out, found, run_key(handle, answers))
    table = sweep_lexicon(handle, prompts, words, folders, label, batch_size).assign(lexicon=lexicon.label)
    return table, {"answers": answers, "lexicon": lexicon.label, "n_words": len(words)}


def run_sweep(
    out: Path,
    rm: str | None,
    base: str | None,
    *,
    seed: int = 0,
    prompts: str = "grid",
    limit_prompts: int | None = None,
    lexicon: str = "default",
    dtype: str = "float32",
    batch_size: int = 64,
    shard_size: int = 2048,
    trust_remote_code: bool = False,
) -> None:
    """Reward of every (prompt, answer) pair by the RM `rm`, or by `base` with a fresh head seeded `seed`:
    OUT/scores.parquet, .csv and config.json."""
    from interp.sweep.outputs import check_prompt_keys, check_run_folder, choose_prompts, write_config, write_table

    start = time.perf_counter()
    check_one_model(rm, base)
    found = check_run_folder(out, "sweep")
    chosen = choose_prompts(prompts, limit_prompts)
    check_prompt_keys(chosen)
    answers = answer_lexicon(lexicon)
    handle, label = _load_scorer(rm, base, seed, dtype, trust_remote_code)
    table, info = score_shards(out, chosen, answers, handle, label, batch_size, shard_size, found)
    write_table(table, out, "scores")
    write_config(out, sweep_config(handle, label, seed, chosen, batch_size, shard_size, start, **info))


def model_logprobs(
    handle: ModelHandle, prompts: tuple[Prompt, ...], lexicon: Lexicon | None, wrappers: tuple[Wrapper, ...]
) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame]:
    """(table, unmatched words, lexicon label, the lexicon's (word, category) entries) of one LM."""
    import pandas as pd

    from interp.sweep.answers import lexicon_answers
    from interp.sweep.logprobs import answer_logprobs, vocab_logprobs

    if lexicon is None:
        table = vocab_logprobs(handle, prompts, wrappers)
        return table, pd.DataFrame(columns=["word", "reason"]), "whole vocabulary", pd.DataFrame()
    entries = lexicon_answers(lexicon, handle.tokenizer)
    table, unmatched = answer_logprobs(handle, prompts, entries["word"].unique().tolist(), wrappers)
    return table, unmatched, lexicon.label, entries


def run_logprobs(
    model: str,
    out: Path,
    *,
    prompts: str = "grid",
    limit_prompts: int | None = None,
    lexicon: str = "default",
    wrappers: Sequence[str] = (),
    dtype: str = "float32",
    trust_remote_code: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merged log-probability of each answer under `model`, written to OUT/logprobs.* with the unmatched words and
    config.json; returns (table, unmatched words). No wrapper named: the model's default wrappers."""
    from interp._util.files import staged_folder
    from interp.models import load_lm
    from interp.sweep.logprobs import default_wrappers
    from interp.sweep.outputs import check_run_folder, choose_prompts, write_config, write_table

    start = time.perf_counter()
    chosen_wrappers = choose_wrappers(wrappers)
    check_run_folder(out, "logprobs")
    chosen = choose_prompts(prompts, limit_prompts)
    answers = answer_lexicon(lexicon)
    handle = load_lm(model, dtype=dtype, trust_remote_code=trust_remote_code)
    table, unmatched, label, _ = model_logprobs(
        handle, chosen, answers, chosen_wrappers or default_wrappers(handle.tokenizer)
    )
    with staged_folder(out) as staged:
        write_table(table, staged, "logprobs")
        unmatched.to_csv(staged / "unmatched_words.csv", index=False)
        write_config(
            staged,
            {
                "kind": "logprobs",
                "model": model,
                "fingerprint": handle.fingerprint,
                "dtype": dtype_name(handle),
                "lexicon": label,
                "wrappers": sorted(table["wrapper"].unique()),
                "prompts": [p.key for p in chosen],
                "n_unmatched_words": len(unmatched),
                "seconds": round(time.perf_counter() - start, 1),
            },
        )
    return table, unmatched
