"""`rm-interp capture`: residual-stream activations of a base LM or RM into the activation store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console

from interp._util.errors import UserError
from interp._util.files import check_output_folder, read_text
from interp.commands._options import OldRmFlag, refuse_old_rm_flag

if TYPE_CHECKING:
    import pandas as pd

    from interp.hooks import Site
    from interp.models import ModelHandle

console = Console()
TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet")


def read_table(path: Path) -> pd.DataFrame:
    """The inputs of `--texts`, checked before any model loads: a `text` column, or `prompt` (+ `answer`).

    A .txt file holds one text per non-blank line; .jsonl, .csv and .parquet files hold a table.
    """
    import io

    import pandas as pd

    if not path.is_file():
        problem = "is a folder; give a file" if path.is_dir() else "does not exist; give an existing file"
        raise UserError(f"The texts file {path} (--texts) {problem}.")
    if path.suffix not in (".txt", *TABLE_SUFFIXES):
        raise UserError(f"Cannot read {path.name}: use a .txt (one text per line), .jsonl, .csv or .parquet file.")
    text = "" if path.suffix == ".parquet" else read_text(path, "texts file", "--texts")
    try:
        if path.suffix == ".txt":
            table = pd.DataFrame({"text": [line for line in text.splitlines() if line.strip()]})
        elif path.suffix == ".jsonl":
            table = pd.read_json(io.StringIO(text), lines=True)
        elif path.suffix == ".csv":
            table = pd.read_csv(io.StringIO(text))
        else:
            table = pd.read_parquet(path)
    except (ValueError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(
            f"Cannot read the texts file {path} ({reason}); check it is a valid {path.suffix} file."
        ) from None
    columns = [c for c in ("text", "prompt", "answer") if c in table]
    if not columns or columns == ["answer"]:
        raise UserError(f"{path.name} has no 'text' or 'prompt' column; add one (and 'answer' for RM pairs).")
    if table.empty:
        raise UserError(f"The texts file {path} holds no texts; give at least one.")
    used = ["text"] if "text" in table else columns
    values = table[used]
    empty = (values.isna() | values.astype(str).apply(lambda column: column.str.strip() == "")).any(axis=1)
    if empty.any():
        row = int(empty.to_numpy().argmax()) + 1
        raise UserError(f"{path.name}: row {row} has an empty {' or '.join(used)}; every row needs a value.")
    return table[used]


def render_table(handle: ModelHandle, table: pd.DataFrame) -> list[str]:
    """Texts as given, or prompts (+ answers) rendered with the model's own chat template.

    A `prompt` alone is rendered as a user turn with the generation prompt; with an `answer` it is rendered as
    the RM conversation.
    """
    from interp.render import render_pair, render_prompt

    if "text" in table:
        return [str(t) for t in table["text"]]
    if "answer" in table:
        return [
            render_pair(handle.tokenizer, str(p), str(a)) for p, a in zip(table["prompt"], table["answer"], strict=True)
        ]
    return [render_prompt(handle.tokenizer, str(p)) for p in table["prompt"]]


def check_position(handle: ModelHandle, texts: list[str], where: Site) -> None:
    """Refuse a token index that is outside the shortest input, before anything is written."""
    from interp.render import token_ids

    if not isinstance(where.position, int):
        return
    shortest = min(len(token_ids(handle.tokenizer, t)) for t in texts)
    if not -shortest <= where.position < shortest:
        raise UserError(
            f"--position {where.position} is outside the shortest input ({shortest} tokens); "
            f"use an index in {-shortest}..{shortest - 1}, or readout."
        )


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
    table = read_table(texts) if texts is not None else None
    if table is None and any(not p.strip() for p in prompts or []):
        raise UserError("A --prompts value is empty; give non-empty prompts.")
    from interp.hooks import BACKENDS, BackendName, Site, parse_layers  # torch is imported from here on
    from interp.models import load_lm, rm_from_base
    from interp.render import render_prompt
    from interp.store import capture_to_store, load_rows

    if backend not in BACKENDS:
        raise UserError(f"Unknown backend '{backend}'; use one of: {', '.join(BACKENDS)}.")
    where = Site.parse(f"L0.{point}.{position}")  # checks point and position before the model loads
    if as_rm:
        handle = rm_from_base(model, seed=seed, dtype=dtype, trust_remote_code=trust_remote_code)
    else:
        handle = load_lm(model, dtype=dtype, trust_remote_code=trust_remote_code)
    inputs = (
        render_table(handle, table)
        if table is not None
        else [render_prompt(handle.tokenizer, p) for p in prompts or []]
    )
    sites = Site.grid(parse_layers(layers, handle.n_layers), where.point, where.position)
    check_position(handle, inputs, where)
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
