"""`rm-interp capture`: residual-stream activations of a base LM or RM into the activation store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import pandas as pd
import typer
from rich.console import Console

from interp.errors import UserError
from interp.hooks import BACKENDS, BackendName, Site, parse_layers
from interp.models import ModelHandle, load_lm, rm_from_base
from interp.render import render_pair, render_prompt
from interp.store import capture_to_store, load_rows

console = Console()


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    raise UserError(f"Cannot read {path.name}: use a .txt (one text per line), .jsonl, .csv or .parquet file.")


def read_texts(handle: ModelHandle, path: Path) -> list[str]:
    """Texts from a file: .txt lines as given; a table with `text`, or `prompt` (+ `answer`) columns to render.

    A `prompt` alone is rendered as a user turn with the generation prompt; with an `answer` it is rendered as
    the RM conversation, both with the model's own chat template.
    """
    if not path.is_file():
        raise UserError(f"The texts file {path} does not exist; pass an existing file to --texts.")
    if path.suffix == ".txt":
        return [line for line in path.read_text().splitlines() if line.strip()]
    table = _read_table(path)
    if "text" in table:
        return [str(t) for t in table["text"]]
    if "prompt" in table and "answer" in table:
        return [
            render_pair(handle.tokenizer, str(p), str(a)) for p, a in zip(table["prompt"], table["answer"], strict=True)
        ]
    if "prompt" in table:
        return [render_prompt(handle.tokenizer, str(p)) for p in table["prompt"]]
    raise UserError(f"{path.name} has no 'text' or 'prompt' column; add one (and 'answer' for RM pairs).")


def capture_command(
    model: Annotated[str, typer.Option(help="Embedded name, local folder or hub id.")],
    rm: Annotated[bool, typer.Option("--rm", help="Load as a reward model (a base LM gets a seeded head).")] = False,
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
    backend: Annotated[str, typer.Option(help=f"One of {', '.join(BACKENDS)}.")] = "torch",
    out: Annotated[Path, typer.Option(help="Store root folder.")] = Path("artifacts/store"),
    batch_size: Annotated[int, typer.Option(help="Inputs per forward pass.")] = 16,
    shard_size: Annotated[int, typer.Option(help="Inputs per shard on disk.")] = 1024,
    dtype: Annotated[str, typer.Option(help="Model dtype: float32 or bfloat16.")] = "float32",
    seed: Annotated[int, typer.Option(help="Seed of a fresh RM head (with --rm on a base LM).")] = 0,
) -> None:
    """Capture residual-stream activations at the chosen layers into the activation store (resumable)."""
    if (texts is None) == (not prompts):
        raise UserError("Give exactly one of --texts FILE or --prompts (repeatable).")
    if backend not in BACKENDS:
        raise UserError(f"Unknown backend '{backend}'; use one of: {', '.join(BACKENDS)}.")
    where = Site.parse(f"L0.{point}.{position}")  # checks point and position before the model loads
    handle = rm_from_base(model, seed=seed, dtype=dtype) if rm else load_lm(model, dtype=dtype)
    inputs = (
        read_texts(handle, texts) if texts is not None else [render_prompt(handle.tokenizer, p) for p in prompts or []]
    )
    sites = Site.grid(parse_layers(layers, handle.n_layers), where.point, where.position)
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
    app.command("capture")(capture_command)
