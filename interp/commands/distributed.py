"""`rm-interp sweep-distributed`: a whole-vocabulary sweep sharded over processes (torch.distributed).

Each rank reads RANK / WORLD_SIZE / LOCAL_RANK from torchrun (NCCL on GPUs, gloo on CPU); without them it
runs as one process. The output is what `rm-interp sweep --lexicon vocab` writes: `OUT/shards/<prompt>/`,
`OUT/scores.parquet` and `.csv`, `OUT/config.json`, equal to a single-process run.

    torchrun --nproc-per-node 8 -m interp.cli sweep-distributed --rm Skywork/Skywork-Reward-V2-Llama-3.1-8B \\
        --prompts grid --out out/vocab
    rm-interp sweep-distributed --rm ... --out out/vocab --rank 3 --world-size 8   # re-run rank 3 alone
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from interp._util.errors import UserError

if TYPE_CHECKING:
    from interp.distributed.world import World
    from interp.models import ModelHandle
    from interp.render.prompts import Prompt

console = Console(markup=False, highlight=False, soft_wrap=True)


def _label(name: str) -> str:
    """A model's name in tables, as `rm-interp sweep` writes it (a local folder's own name)."""
    return Path(name).name if Path(name).is_dir() else name


def check_model_options(rm: str | None, base: str | None, device_map: str | None) -> None:
    """Exactly one of --rm and --base-for-new-head; --device-map only with --rm."""
    if (rm is None) == (base is None):
        raise UserError("Give exactly one of --rm (a reward model) or --base-for-new-head (a base LM).")
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
        return handle, f"{_label(base)}+head-seed{seed}"
    assert rm is not None
    if device_map is not None:
        return load_placed(rm, "rm", device_map, dtype, trust_remote_code), _label(rm)
    return load_rm(rm, dtype=dtype, device=world.device, trust_remote_code=trust_remote_code), _label(rm)


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


def register(app: typer.Typer) -> None:
    """Add the `sweep-distributed` command."""

    @app.command("sweep-distributed")
    def sweep_distributed(
        out: Annotated[Path, typer.Option(help="output folder (shared by every rank)")],
        rm: Annotated[str | None, typer.Option(help="reward model: local folder or hub id")] = None,
        base_for_new_head: Annotated[str | None, typer.Option(help="base LM to give a fresh seeded head")] = None,
        seed: Annotated[int, typer.Option(help="seed of the fresh head")] = 0,
        prompts: Annotated[str, typer.Option(help="'grid' (the paper's 54 prompts) or a prompt file")] = "grid",
        prompt: Annotated[list[str] | None, typer.Option(help="only this prompt key (repeatable)")] = None,
        limit_prompts: Annotated[int | None, typer.Option(help="use only the first N prompts")] = None,
        dtype: Annotated[str, typer.Option(help="float32 or bfloat16; default bfloat16 on GPUs")] = "",
        device_map: Annotated[
            str | None, typer.Option(help="'auto': spread the RM over this rank's visible GPUs (accelerate)")
        ] = None,
        batch_size: Annotated[int, typer.Option(help="answers per forward pass")] = 64,
        shard_size: Annotated[int, typer.Option(help="token ids per shard")] = 2048,
        rank: Annotated[int | None, typer.Option(help="re-run this one rank alone (without torchrun)")] = None,
        world_size: Annotated[int | None, typer.Option(help="the world size of the job, with --rank")] = None,
        timeout_minutes: Annotated[float, typer.Option(help="how long rank 0 waits for the others")] = 24 * 60,
        trust_remote_code: Annotated[
            bool,
            typer.Option("--trust-remote-code", help="run the model repository's own Python code (off by default)"),
        ] = False,
    ) -> None:
        """Score every token id as the answer to each prompt, sharded over torchrun ranks; rank 0 merges."""
        start = time.perf_counter()
        check_model_options(rm, base_for_new_head, device_map)
        check_sizes(batch_size, shard_size, timeout_minutes, rank, world_size)
        from interp.sweep.outputs import check_run_folder, check_same_run, write_config

        found = check_run_folder(out, "sweep")  # shared with `rm-interp sweep --lexicon vocab`, no other command
        chosen = pick_prompts(prompts, prompt, limit_prompts)
        from interp.distributed.placement import default_dtype
        from interp.distributed.sweep import distributed_vocab_sweep
        from interp.distributed.world import init_world, shutdown

        world = init_world(rank, world_size, timeout_minutes=timeout_minutes)
        try:
            handle, label = load_for_rank(
                world, rm, base_for_new_head, seed, dtype or default_dtype(), device_map, trust_remote_code
            )
            dtype_name = str(handle.model.dtype).removeprefix("torch.")
            check_same_run(out, found, {"fingerprint": handle.fingerprint, "dtype": dtype_name, "answers": "vocab"})
            counts = distributed_vocab_sweep(handle, chosen, out, label, world, shard_size, batch_size)
        finally:
            shutdown(world)
        if counts is None:
            if not world.group:
                console.print(
                    f"rank {world.rank} of {world.size}: its shards are in {out / 'shards'}; "
                    "the table is written once every rank has finished"
                )
            return
        config: dict[str, Any] = {
            "kind": "sweep",
            "model": label,
            "fingerprint": handle.fingerprint,
            "dtype": dtype_name,
            "seed": seed,
            "prompts": [p.key for p in chosen],
            "batch_size": batch_size,
            "shard_size": shard_size,
            "world_size": world.size,
            "seconds": round(time.perf_counter() - start, 1),
            **counts,
        }
        write_config(out, config)
        console.print(
            f"wrote {out / 'scores.parquet'} (and .csv) from {world.size} rank(s) "
            f"in {time.perf_counter() - start:.1f} s"
        )
