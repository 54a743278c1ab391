"""`rm-interp capture`: residual-stream activations of a base LM or RM into the activation store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console

from interp._util.errors import UserError
from interp._util.files import check_output_folder
from interp.commands._options import OldRmFlag, refuse_old_rm_flag

console = Console()


def capture_command(
    model: Annotated[str, typer.Option(help="Embedded name, local folder or hub id.")],
    as_rm: Annotated[bool, typer.Option(help="Load as a reward model (a base LM gets a seeded head).")] = False,
    texts: Annotated[
        Path | None,
        typer.Option(help=".txt (one text per line), or .jsonl/.csv/.parquet with text, or prompt[+answer] columns."),
    ] = None,
    prompts: Annotated[
        list[str] | None,
        typer.Option(help="User prompts (repeat the option), rendered with the model's chat template."),
    ] = None,
    layers: Annotated[str, typer.Option(help="Layers: all, 0,5,10 or 0-3.")] = "all",
    point: Annotated[str, typer.Option(help="resid_pre or resid_post.")] = "resid_post",
    position: Annotated[
        str, typer.Option(help="readout, all, or a real-token index (negative from the end).")
    ] = "readout",
    backend: Annotated[str, typer.Option(help="One of torch, nnsight, transformer_lens.")] = "torch",
    out: Annotated[Path, typer.Option(help="Store root folder.")] = Path("artifacts/store"),
    batch_size: Annotated[int, typer.Option(help="Inputs per forward pass.")] = 16,
    shard_size: Annotated[int, typer.Option(help="Inputs per shard on disk.")] = 1024,
    dtype: Annotated[str, typer.Option(help="Model dtype: float32 or bfloat16.")] = "float32",
    seed: Annotated[int, typer.Option(help="Seed of a fresh RM head (with --as-rm on a base LM).")] = 0,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Run the model repository's own Python code (off by default).")
    ] = False,
    old_rm: OldRmFlag = False,
) -> None:
    """Capture residual-stream activations at the chosen layers into the activation store (resumable)."""
    refuse_old_rm_flag(old_rm)
    if (texts is None) == (not prompts):
        raise UserError("Give exactly one of --texts FILE or --prompts (repeatable).")
    for option, value in (("--batch-size", batch_size), ("--shard-size", shard_size)):
        if value < 1:
            raise UserError(f"{option} must be at least 1, not {value}.")
    check_output_folder(out)
    from interp.render import read_texts  # pandas is imported from here on

    table = read_texts(texts) if texts is not None else None
    if table is None and any(not p.strip() for p in prompts or []):
        raise UserError("A --prompts value is empty; give non-empty prompts.")
    from interp.hooks import BACKENDS, BackendName, Site, parse_layers  # torch is imported from here on
    from interp.models import load_lm, rm_from_base
    from interp.render import check_position, render_texts
    from interp.store import capture_to_store, load_rows

    if backend not in BACKENDS:
        raise UserError(f"Unknown backend '{backend}'; use one of: {', '.join(BACKENDS)}.")
    where = Site.parse(f"L0.{point}.{position}")  # checks point and position before the model loads
    if as_rm:
        handle = rm_from_base(model, seed=seed, dtype=dtype, trust_remote_code=trust_remote_code)
    else:
        handle = load_lm(model, dtype=dtype, trust_remote_code=trust_remote_code)
    inputs = render_texts(handle.tokenizer, table if table is not None else prompts or [])
    sites = Site.grid(parse_layers(layers, handle.n_layers), where.point, where.position)
    check_position(handle.tokenizer, inputs, where.position)
    folder = capture_to_store(
        handle,
        inputs,
        sites,
        out,
        shard_size=shard_size,
        batch_size=batch_size,
        backend=cast(BackendName, backend),
        progress=True,
    )
    summary = {
        "folder": str(folder),
        "rows": len(load_rows(folder)),
        "sites": [s.name for s in sites],
        "fingerprint": handle.fingerprint,
    }
    console.print(json.dumps(summary), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the `capture` command."""
    app.command("capture")(capture_command)
