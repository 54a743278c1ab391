"""`rm-interp sweep-distributed`: a whole-vocabulary sweep sharded over processes (torch.distributed).

Each rank reads RANK / WORLD_SIZE / LOCAL_RANK from torchrun (NCCL on GPUs, gloo on CPU); without them it
runs as one process. The output is what `rm-interp sweep --lexicon vocab` writes: `OUT/shards/<prompt>/`,
`OUT/scores.parquet` and `.csv`, `OUT/config.json`, equal to a single-process run. The pipeline is
`interp.distributed.run`; this command parses and prints.

    torchrun --nproc-per-node 8 -m interp.cli sweep-distributed --rm Skywork/Skywork-Reward-V2-Llama-3.1-8B \\
        --prompts grid --out out/vocab
    rm-interp sweep-distributed --rm ... --out out/vocab --rank 3 --world-size 8   # re-run rank 3 alone
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(markup=False, highlight=False, soft_wrap=True)


def sweep_distributed_command(
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
    from interp.distributed.run import run_distributed_sweep

    start = time.perf_counter()
    world, merged = run_distributed_sweep(
        out,
        rm,
        base_for_new_head,
        seed=seed,
        prompts=prompts,
        prompt_keys=prompt,
        limit_prompts=limit_prompts,
        dtype=dtype,
        device_map=device_map,
        batch_size=batch_size,
        shard_size=shard_size,
        rank=rank,
        world_size=world_size,
        timeout_minutes=timeout_minutes,
        trust_remote_code=trust_remote_code,
    )
    if merged:
        console.print(
            f"wrote {out / 'scores.parquet'} (and .csv) from {world.size} rank(s) "
            f"in {time.perf_counter() - start:.1f} s"
        )
    elif not world.group:
        console.print(
            f"rank {world.rank} of {world.size}: its shards are in {out / 'shards'}; "
            "the table is written once every rank has finished"
        )


def register(app: typer.Typer) -> None:
    """Add the `sweep-distributed` command."""
    app.command("sweep-distributed")(sweep_distributed_command)
