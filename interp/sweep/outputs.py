"""What the sweep commands share: choosing prompts, writing tidy tables and the run's config beside them.

>>> [p.key for p in choose_prompts("grid", limit=2)]
['best_ever_one', 'best_ever_single']
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from interp.errors import UserError
from interp.prompts import Prompt, load_prompts, paper_prompts
from interp.runinfo import versions, write_json


def choose_prompts(spec: str, limit: int | None = None) -> tuple[Prompt, ...]:
    """`grid` (the paper's 54 prompts) or a prompt file, optionally only the first `limit`."""
    prompts = paper_prompts() if spec == "grid" else load_prompts(spec)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit-prompts must be at least 1 (got {limit}).")
        prompts = prompts[:limit]
    return prompts


def write_table(frame: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Write `frame` as `out/name.parquet` and `out/name.csv`; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.parquet", out / f"{name}.csv"]
    frame.to_parquet(paths[0], index=False)
    frame.to_csv(paths[1], index=False)
    return paths


def write_config(out: Path, config: dict[str, Any]) -> Path:
    """Write `config.json` (the given settings plus the command line and versions) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    return write_json(out / "config.json", {"command": " ".join(sys.argv), **config, "versions": versions()})
