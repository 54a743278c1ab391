"""What the sweep commands share: choosing prompts, checking the output folder, writing tables and config.

Every table and `config.json` is written atomically (`interp._util.files.atomic_write`). `config.json` records
which command (`kind`) wrote the folder, so a command never overwrites another command's outputs.

>>> [p.key for p in choose_prompts("grid", limit=2)]
['best_ever_one', 'best_ever_single']
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from interp._util.errors import UserError
from interp._util.files import atomic_write, check_output_folder
from interp._util.runinfo import versions
from interp.render.prompts import Prompt, load_prompts, paper_prompts

CONFIG = "config.json"


def choose_prompts(spec: str, limit: int | None = None) -> tuple[Prompt, ...]:
    """`grid` (the paper's 54 prompts) or a prompt file, optionally only the first `limit`."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit-prompts must be at least 1 (got {limit}).")
    prompts = paper_prompts() if spec == "grid" else load_prompts(spec)
    return prompts if limit is None else prompts[:limit]


def shard_folder(out: Path, prompt: Prompt) -> Path:
    """Where a sweep keeps the shards of one prompt: `OUT/shards/<prompt key>`."""
    return out / "shards" / prompt.key


def check_prompt_keys(prompts: tuple[Prompt, ...]) -> None:
    """Refuse prompt keys that cannot name a shard folder (sweeps keep one folder per prompt key).

    >>> check_prompt_keys((Prompt("../x", "Hi?"),))
    Traceback (most recent call last):
    ...
    interp._util.errors.UserError: Prompt key '../x' cannot name a folder; remove '/', '\\' and any leading '.' from it.
    """
    for prompt in prompts:
        key = prompt.key
        if not key or key.startswith(".") or any(c in key for c in "/\\\0") or len(key) > 120:
            raise UserError(f"Prompt key '{key}' cannot name a folder; remove '/', '\\' and any leading '.' from it.")


def check_shard_folders(folders: Sequence[tuple[Path, Mapping[str, Any]]]) -> None:
    """Refuse, before anything is written, an existing shard folder written with another key (opening an
    existing `ShardFolder` only compares keys; a new one would be created, so those are left alone)."""
    from interp.store.shards import META, ShardFolder

    for folder, key in folders:
        if (folder / META).exists():
            ShardFolder(folder, key)


def check_run_folder(out: Path, kind: str) -> dict[str, Any]:
    """Refuse an `out` that is a file, is not writable, or holds another command's outputs; creates nothing.

    Returns the `config.json` already in `out` (empty when there is none), for the caller to compare.
    """
    check_output_folder(out)
    path = out / CONFIG
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        found = None
    if not isinstance(found, dict):
        raise UserError(f"{path} is not a valid rm-interp config file; delete it or choose another --out.")
    if found.get("kind", kind) != kind:
        raise UserError(
            f"{out} holds the output of `rm-interp {found['kind']}`; choose another --out for `rm-interp {kind}`."
        )
    return found


def check_same_run(out: Path, found: Mapping[str, Any], ours: Mapping[str, Any]) -> None:
    """Refuse to write into `out` when its earlier run (`found`) differs from this one in any key of `ours`."""
    for key, value in ours.items():
        if key in found and found[key] != value:
            raise UserError(
                f"{out} holds a run with {key} {found[key]!r}, not {value!r}; "
                "choose another --out, or delete that folder to replace it."
            )


def write_table(frame: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Write `frame` as `out/name.parquet` and `out/name.csv` (each atomically); returns both paths."""
    return [
        atomic_write(out / f"{name}.parquet", frame.to_parquet(index=False)),
        atomic_write(out / f"{name}.csv", frame.to_csv(index=False)),
    ]


def write_config(out: Path, config: dict[str, Any]) -> Path:
    """Write `config.json` (the given settings plus the command line and versions) into `out`, atomically."""
    data = {"command": " ".join(sys.argv), **config, "versions": versions()}
    return atomic_write(out / CONFIG, json.dumps(data, indent=2, default=str))
