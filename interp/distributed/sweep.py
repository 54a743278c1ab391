"""Whole-vocabulary sweeps sharded over processes; the merged table equals a single-process sweep exactly.

The work units are (prompt, vocabulary shard) pairs, prompt by prompt; rank r of W runs units r, r+W, ...
through `sweep_vocab(..., shard_ids=...)`, so each rank writes exactly the shard files a single-process
run writes (`OUT/shards/<prompt key>/shard-NNNNN.*`; shard i always holds token ids i*size ... (i+1)*size-1
and its scores depend on nothing else). Rank 0 waits at a barrier, reads every shard and writes
`OUT/scores.parquet` and `.csv` as `rm-interp sweep --lexicon vocab` does.

A rank that died is re-run alone as a standalone rank (`World(rank, size)`, no process group): its finished
shards are skipped, no other rank's shard is touched, and when it finds every shard done it merges.

Under `torchrun` each process calls `distributed_vocab_sweep(..., init_world())`; here two standalone ranks of
a world of 2 run one after the other on a tiny random RM (400 tokens), and the second to finish merges:

>>> import tempfile
>>> import pandas as pd
>>> from interp.models import rm_from_base
>>> from interp.render.prompts import paper_prompts
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))
>>> prompts, out = paper_prompts()[:2], tempfile.mkdtemp()
>>> runs = [distributed_vocab_sweep(rm, prompts, out, "tiny", World(r, 2), 256, progress=False) for r in (1, 0)]
>>> runs[0] is None, [c["tokens"] for c in runs[1]["vocab_counts"].values()]
(True, [400, 400])
>>> pd.read_parquet(f"{out}/scores.parquet")["prompt"].nunique()
2
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from interp._util.errors import UserError
from interp.distributed.capture import rank_settings
from interp.distributed.world import World, agree, barrier
from interp.models import ModelHandle
from interp.render.prompts import Prompt
from interp.store.shards import ShardFolder
from interp.sweep.outputs import check_prompt_keys, check_shard_folders, shard_folder, write_table
from interp.sweep.vocab import n_shards, sweep_vocab, vocab_key, vocab_table

Unit = tuple[Prompt, int]


def vocab_units(handle: ModelHandle, prompts: Sequence[Prompt], shard_size: int) -> list[Unit]:
    """Every (prompt, shard) pair of the job, prompt by prompt."""
    if shard_size < 1:
        raise UserError(f"The shard size must be at least 1 (got {shard_size}).")
    return [(p, s) for p in prompts for s in range(n_shards(handle, shard_size))]


def missing_units(handle: ModelHandle, prompts: Sequence[Prompt], out: Path, shard_size: int) -> list[Unit]:
    """Units whose shard file is not on disk yet (refuses folders written by another model or setting)."""
    folders = {p.key: ShardFolder(shard_folder(out, p), vocab_key(handle, p, shard_size)) for p in prompts}
    return [(p, s) for p, s in vocab_units(handle, prompts, shard_size) if not folders[p.key].done(s)]


def sweep_settings(
    handle: ModelHandle, prompts: Sequence[Prompt], label: str, shard_size: int, batch_size: int
) -> dict[str, Any]:
    """What every rank of a sweep must share: the model, its label, the prompts, shard and batch size."""
    texts = hashlib.sha256("\n".join(f"{p.key}\t{p.text}" for p in prompts).encode()).hexdigest()[:16]
    return rank_settings(handle, label=label, prompts=texts, shard_size=shard_size, batch_size=batch_size)


def sweep_rank(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    out: Path,
    world: World,
    shard_size: int = 2048,
    batch_size: int = 64,
    progress: bool = True,
    on_shard: Callable[[str, int], None] | None = None,
) -> list[Unit]:
    """Run this rank's units (finished shards are skipped); returns them. `on_shard(prompt key, shard)` is
    called after each shard this call computes."""
    units = vocab_units(handle, prompts, shard_size)
    mine = [units[i] for i in world.mine(len(units))]
    for prompt in prompts:
        ids = [s for p, s in mine if p.key == prompt.key]
        if ids:
            sweep_vocab(
                handle,
                prompt,
                shard_folder(out, prompt),
                shard_size,
                batch_size,
                progress,
                shard_ids=ids,
                on_shard=None if on_shard is None else _tagged(on_shard, prompt.key),
            )
    return mine


def _tagged(on_shard: Callable[[str, int], None], key: str) -> Callable[[int], None]:
    return lambda shard: on_shard(key, shard)


def merge_vocab(
    handle: ModelHandle, prompts: Sequence[Prompt], out: Path, label: str, shard_size: int, batch_size: int
) -> dict[str, Any]:
    """Read every finished shard and write `OUT/scores.parquet` and `.csv`; returns the sweep's counts."""
    missing = missing_units(handle, prompts, out, shard_size)
    if missing:
        listed = ", ".join(f"{p.key}#{s}" for p, s in missing[:4])
        raise UserError(
            f"{len(missing)} vocabulary shards are missing ({listed}); re-run the ranks that did not finish "
            "(--rank R --world-size W) before merging."
        )
    tables, counts = [], {}
    for prompt in prompts:
        rows = sweep_vocab(handle, prompt, shard_folder(out, prompt), shard_size, batch_size, progress=False)
        table, counts[prompt.key] = vocab_table(rows, label, prompt)
        tables.append(table)
    write_table(pd.concat(tables, ignore_index=True), out, "scores")
    lexicon = "whole vocabulary (every token id decoded alone)"
    return {"answers": "vocab", "lexicon": lexicon, "vocab_counts": counts}  # as `sweep --lexicon vocab` records


def distributed_vocab_sweep(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    out: str | Path,
    label: str,
    world: World,
    shard_size: int = 2048,
    batch_size: int = 64,
    progress: bool = True,
    on_shard: Callable[[str, int], None] | None = None,
) -> dict[str, Any] | None:
    """This rank's share of the sweep, then (rank 0, after the barrier) the merged `OUT/scores.*`.

    Returns the merge's counts where this process merged, None elsewhere (other ranks; a standalone rank
    while some other rank's shards are still missing). Refuses, before writing, prompt keys that cannot
    name a folder and shard folders written by another model or setting.
    """
    out = Path(out)
    if not prompts:
        raise UserError("No prompts to sweep; give at least one prompt.")
    check_prompt_keys(tuple(prompts))
    agree(world, sweep_settings(handle, prompts, label, shard_size, batch_size))
    check_shard_folders([(shard_folder(out, p), vocab_key(handle, p, shard_size)) for p in prompts])
    show = progress and (world.main or not world.group)  # one bar per terminal under torchrun
    sweep_rank(handle, prompts, out, world, shard_size, batch_size, show, on_shard)
    barrier(world)
    if world.group and not world.main:
        return None
    if not world.group and world.size > 1 and missing_units(handle, prompts, out, shard_size):
        return None
    return merge_vocab(handle, prompts, out, label, shard_size, batch_size)
