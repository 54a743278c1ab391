"""Whole-vocabulary sweep of the SmolLM2-based RM for one prompt, timed, with a real kill-and-resume check.

1. Sweep every token id (49,152 for SmolLM2) as the answer to one prompt into `OUT/whole` and time it.
2. With `--check-resume`: start the same sweep in a child process writing `OUT/resumed`, SIGKILL it once
   half of its shards exist, resume it here, and require the resumed rows to equal the uninterrupted ones
   exactly (`pandas.testing.assert_frame_equal`, `check_exact=True`).

    python -m experiments.vocab_sweep --out artifacts/vocab_sweep                      # whole vocabulary
    python -m experiments.vocab_sweep --out artifacts/vocab_check --shards 8 --check-resume   # a slice

The last line printed is a JSON object with the wall times and the outcome of the resume check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers.utils import logging

from interp.models import ModelHandle, rm_from_base
from interp.render.prompts import by_key, paper_prompts
from interp.sweep.outputs import write_config, write_table
from interp.sweep.vocab import n_shards, sweep_vocab, vocab_table

MODEL = "smollm2-135m-instruct"


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prompt", default="best_ever_one", help="a key of the paper's prompt grid")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--shard-size", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--shards", type=int, default=None, help="only the first N shards (a slice)")
    parser.add_argument("--check-resume", action="store_true", help="also kill a run halfway and resume it")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # the child that gets killed
    return parser.parse_args(argv)


def _sweep(rm: ModelHandle, args: argparse.Namespace, folder: Path, progress: bool = True) -> pd.DataFrame:
    shard_ids = range(args.shards) if args.shards else None
    return sweep_vocab(
        rm,
        by_key(paper_prompts())[args.prompt],
        folder,
        args.shard_size,
        args.batch_size,
        progress=progress,
        shard_ids=shard_ids,
    )


def _kill_halfway(args: argparse.Namespace, total: int) -> dict[str, Any]:
    """Run the sweep in a child process into OUT/resumed and SIGKILL it when half the shards are written."""
    folder = args.out / "resumed"
    shutil.rmtree(folder, ignore_errors=True)  # this check's own scratch folder: start it empty
    cmd = [
        sys.executable,
        "-m",
        "experiments.vocab_sweep",
        "--worker",
        "--out",
        str(args.out),
        "--prompt",
        args.prompt,
        "--dtype",
        args.dtype,
        "--shard-size",
        str(args.shard_size),
        "--batch-size",
        str(args.batch_size),
    ]
    if args.shards:
        cmd += ["--shards", str(args.shards)]
    child = subprocess.Popen(cmd)
    while len(list(folder.glob("shard-*.parquet"))) < total // 2 and child.poll() is None:
        time.sleep(0.2)
    child.kill()
    child.wait()
    return {"killed_after_shards": len(list(folder.glob("shard-*.parquet"))), "child_returncode": child.returncode}


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    rm = rm_from_base(MODEL, seed=0, dtype=args.dtype)
    if args.worker:
        _sweep(rm, args, args.out / "resumed", progress=False)
        return
    prompt = by_key(paper_prompts())[args.prompt]
    total = args.shards or n_shards(rm, args.shard_size)
    already = len(list((args.out / "whole").glob("shard-*.parquet")))  # a rerun reuses finished shards
    start = time.perf_counter()
    whole = _sweep(rm, args, args.out / "whole")
    result: dict[str, Any] = {
        "experiment": "vocab_sweep",
        "model": MODEL,
        "dtype": args.dtype,
        "prompt": args.prompt,
        "tokens": len(whole),
        "shards": total,
        "threads": torch.get_num_threads(),
        "seconds_whole": round(time.perf_counter() - start, 1),
        "whole_shards_done_before": already,
    }
    table, counts = vocab_table(whole, f"{MODEL}+head-seed0", prompt)
    write_table(table, args.out, "scores")
    result |= counts
    if args.check_resume:
        result |= _kill_halfway(args, total)
        start = time.perf_counter()
        resumed = _sweep(rm, args, args.out / "resumed")
        result["seconds_resume"] = round(time.perf_counter() - start, 1)
        pd.testing.assert_frame_equal(resumed, whole, check_exact=True)
        result["resumed_equals_whole"] = True
    write_config(
        args.out, result | {"fingerprint": rm.fingerprint, "shard_size": args.shard_size, "batch_size": args.batch_size}
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
