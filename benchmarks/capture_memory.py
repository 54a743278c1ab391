"""Peak memory of capturing N inputs into the activation store: it must stay flat as N grows.

Captures short texts at the readout of a few layers into a temporary store (shards of 1,000 rows) and
reports the process's peak resident set size (`resource.getrusage`, which includes the imported
libraries and the model). Run once per N, in separate processes, and compare:

    python -m benchmarks.capture_memory --n 2000
    python -m benchmarks.capture_memory --n 20000
    python -m benchmarks.capture_memory --n 2000 --model smollm2-135m-instruct --layers 0,1

Default model: a tiny random Llama (4 layers, d=64) built in-process. The last line printed is a JSON
object with `peak_rss_mb` and `peak_rss_over_loaded_mb` (growth over the RSS right after model load).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import psutil
import torch
from transformers.utils import logging

from interp._util.runinfo import peak_rss_mb
from interp.hooks import Site, parse_layers
from interp.models import load_lm
from interp.models.tiny import build_tiny
from interp.store import capture_to_store, load_rows

WORDS = ["love", "freedom", "success", "friendship", "family", "power", "kindness", "wealth", "trust", "care"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of input texts")
    parser.add_argument("--model", default="tiny", help="'tiny' (random 4-layer Llama) or any model name")
    parser.add_argument("--layers", default="0,1", help="layers captured (readout, resid_post)")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    logging.set_verbosity_error()
    logging.disable_progress_bar()

    with tempfile.TemporaryDirectory() as tmp:
        name = str(build_tiny("llama", Path(tmp) / "tiny")) if args.model == "tiny" else args.model
        handle = load_lm(name)
        sites = Site.grid(parse_layers(args.layers, handle.n_layers))
        texts = [
            f"Sample {i}: the best thing is {WORDS[i % len(WORDS)]} and {WORDS[(i // 10) % len(WORDS)]}."
            for i in range(args.n)
        ]
        loaded_mb = psutil.Process().memory_info().rss / 2**20
        start = time.perf_counter()
        folder = capture_to_store(
            handle,
            texts,
            sites,
            Path(tmp) / "store",
            shard_size=args.shard_size,
            batch_size=args.batch_size,
            progress=False,
        )
        seconds = time.perf_counter() - start
        rows = len(load_rows(folder))
    peak_mb = peak_rss_mb()
    print(
        f"{args.n} inputs, model {args.model}, sites {[s.name for s in sites]}: {rows} rows stored in "
        f"{seconds:.1f} s; RSS after load {loaded_mb:.0f} MiB, peak {peak_mb:.0f} MiB"
    )
    print(
        json.dumps(
            {
                "benchmark": "capture_memory",
                "n": args.n,
                "model": args.model,
                "n_sites": len(sites),
                "rows": rows,
                "shard_size": args.shard_size,
                "seconds": round(seconds, 1),
                "threads": torch.get_num_threads(),
                "rss_after_load_mb": round(loaded_mb, 1),
                "peak_rss_mb": round(peak_mb, 1),
                "peak_rss_over_loaded_mb": round(peak_mb - loaded_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
