"""The `rm-interp sweep-distributed` pipeline as a function: check, join the world, sweep this rank's shards, and
on rank 0 (once every rank has finished) write the merged table and config, as `rm-interp sweep --lexicon vocab`
writes them. The command only parses options and prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from interp._util.errors import UserError
from interp.sweep.runs import VOCAB, check_one_model, model_label, run_key, sweep_config

if TYPE_CHECKING:
    from interp.distributed.world import World
    from interp.models import ModelHandle
    from interp.render.prompts import Prompt


def check_model_options(rm: str | None, base: str | None, device_map: str | None) -> None:
    """Exactly one of --rm and --base-for-new-head; --device-map only with --rm."""
    check_one_model(rm, base)
    if base is not None and device_map is not None:
        raise UserError("--device-map works with --rm only; save the new RM first and pass it with --rm.")


def check_sizes(batch_size: int, shard_size: int, timeout_minutes: float, rank: int | None, size: int | None) -> None:
    """Refuse sizes below 1, a non-positive timeout, and a rank outside the world, before any work."""
    for option, value in (("--batch-size", batch_size), ("--shard-size", shard_size)):
        if value < 1:
            raise UserError(f"{option} must be at least 1, not {value}.")
    if not timeout_minutes > 0:
        raise UserError(f"--timeout-minutes must be above 0, not {timeout_minutes}.")
    if size is not None and size < 1:
        raise UserError(f"--world-size must be at least 1, not {size}.")
    if rank is not None and size is not None and not 0 <= rank < size:
        raise UserError(f"--rank {rank} is outside the world of {size} rank(s); give a rank in 0..{size - 1}.")


def load_for_rank(
    world: World,
    rm: str | None,
    base: str | None,
    seed: int,
    dtype: str,
    device_map: str | None,
    trust_remote_code: bool = False,
) -> tuple[ModelHandle, str]:
    """The RM this rank scores with, on its own GPU (or spread by `device_map`), and its table label.

    The options were checked by `check_model_options`: exactly one of `rm` and `base`.
    """
    from interp.distributed.placement import load_placed
    from interp.models import load_rm, rm_from_base

    if base is not None:
        handle = rm_from_base(base, seed=seed, dtype=dtype, device=world.device, trust_remote_code=trust_remote_code)
        return handle, f"{model_label(base)}+head-seed{seed}"
    assert rm is not None
    if device_map is not None:
        return load_placed(rm, "rm", device_map, dtype, trust_remote_code), model_label(rm)
    return load_rm(rm, dtype=dtype, device=world.device, trust_remote_code=trust_remote_code), model_label(rm)


def pick_prompts(spec: str, keys: list[str] | None, limit: int | None) -> tuple[Prompt, ...]:
    """`grid` or a prompt file, optionally only the given keys (in the file's order) or the first `limit`;
    refuses keys that cannot name a shard folder."""
    from interp.sweep.outputs import check_prompt_keys, choose_prompts

    prompts = choose_prompts(spec, limit)
    if keys:
        unknown = sorted(set(keys) - {p.key for p in prompts})
        if unknown:
            raise UserError(f"Unknown prompt key '{unknown[0]}'; use a key of {spec} (e.g. {prompts[0].key}).")
        prompts = tuple(p for p in prompts if p.key in keys)
    check_prompt_keys(prompts)
    return prompts


def run_distributed_sweep(
    out: Path,
    rm: str | None,
    base: str | None,
    *,
    seed: int = 0,
    prompts: str = "grid",
    prompt_keys: list[str] | None = None,
    limit_prompts: int | None = None,
    dtype: str = "",
    device_map: str | None = None,
    batch_size: int = 64,
    shard_size: int = 2048,
    rank: int | None = None,
    world_size: int | None = None,
    timeout_minutes: float = 24 * 60,
    trust_remote_code: bool = False,
) -> tuple[World, bool]:
    """Score every token id as the answer to each prompt, this rank's shards only; returns the world and whether
    this rank merged and wrote OUT/scores.parquet, .csv and config.json (rank 0, once all shards are there)."""
    start = time.perf_counter()
    check_model_options(rm, base, device_map)
    check_sizes(batch_size, shard_size, timeout_minutes, rank, world_size)
    from interp.distributed.placement import default_dtype
    from interp.distributed.sweep import distributed_vocab_sweep
    from interp.distributed.world import init_world, shutdown
    from interp.sweep.outputs import check_run_folder, check_same_run, write_config

    found = check_run_folder(out, "sweep")  # shared with `rm-interp sweep --lexicon vocab`, no other command
    chosen = pick_prompts(prompts, prompt_keys, limit_prompts)
    world = init_world(rank, world_size, timeout_minutes=timeout_minutes)
    try:
        handle, label = load_for_rank(world, rm, base, seed, dtype or default_dtype(), device_map, trust_remote_code)
        check_same_run(out, found, run_key(handle, VOCAB))
        counts = distributed_vocab_sweep(handle, chosen, out, label, world, shard_size, batch_size)
    finally:
        shutdown(world)
    if counts is None:
        return world, False
    write_config(
        out, sweep_config(handle, label, seed, chosen, batch_size, shard_size, start, world_size=world.size, **counts)
    )
    return world, True
