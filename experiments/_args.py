"""What every experiment's command line shares: `--seed`, `--threads`, `--quick` and `--out`, the `--quick`
settings applied after parsing, minimum checks that refuse in one sentence, and `main`'s error handling.

>>> parser = argparse.ArgumentParser()
>>> _ = parser.add_argument("--seeds", type=int, default=8)
>>> common_arguments(parser, {"seeds": 2}, "artifacts/study")
>>> args = parse_args(parser, ["--quick"], {"seeds": 2})
>>> args.seeds, args.seed, args.threads, args.out.as_posix()
(2, 0, None, 'artifacts/study')
>>> require_at_least(args, {"seeds": 3})
Traceback (most recent call last):
...
interp._util.errors.UserError: --seeds must be at least 3, not 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers.utils import logging as hf_logging

from interp._util.errors import UserError


def common_arguments(
    parser: argparse.ArgumentParser, quick: Mapping[str, Any], out: str, seed_help: str | None = None
) -> None:
    """Add `--seed` (default 0), `--threads`, `--quick` (its help lists `quick`) and `--out` (default `out`)."""
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help=f"2 cores: {quick}")
    parser.add_argument("--out", type=Path, default=Path(out))


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, quick: Mapping[str, Any]
) -> argparse.Namespace:
    """The parsed `argv`; with `--quick`, `quick`'s values replace the parsed ones."""
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in quick.items():
            setattr(args, name, value)
    return args


def require_at_least(args: argparse.Namespace, lows: Mapping[str, int]) -> None:
    """Refuse, in one sentence, the first argument named in `lows` (dest names) that is below its minimum."""
    for name, low in lows.items():
        if getattr(args, name) < low:
            raise UserError(f"--{name.replace('_', '-')} must be at least {low}, not {getattr(args, name)}.")


def run_main(
    parse: Callable[[Sequence[str] | None], argparse.Namespace],
    run: Callable[[argparse.Namespace], Mapping[str, Any]],
    argv: Sequence[str] | None,
    keys: Sequence[str],
    progress_bars: bool = True,
) -> int:
    """An experiment's `main`: parse `argv`, quiet transformers' logging (and its progress bars unless
    `progress_bars`), set `--threads`, run, and print `keys` of the result as one JSON line. Returns 0; bad
    input returns 2 after printing one line, before anything is written."""
    try:
        args = parse(argv)
        hf_logging.set_verbosity_error()
        if not progress_bars:
            hf_logging.disable_progress_bar()
        if args.threads:
            torch.set_num_threads(args.threads)
        result = run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: result[k] for k in keys}))
    return 0
