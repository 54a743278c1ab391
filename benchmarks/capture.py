"""A plain HF forward of the RM body vs all-layer readout capture with each backend, same inputs, one run.

The SmolLM2-based RM (fp32, SDPA attention as loaded) scores rendered (prompt, answer) pairs, pre-encoded
in batches (right padding) so tokenization is not timed. "plain" runs `handle.body(...)` over every batch;
each backend captures `resid_post` at the readout token of all layers (`interp.hooks.capture_batch`).
Methods are interleaved within each repeat (so load changes hit all alike) and the median is kept. Seconds
are CPU seconds of this process on the CPU (one torch thread: other jobs on a shared machine slow them less
than wall time) and synchronised wall seconds on a GPU.

    python -m benchmarks.capture --quick     # 64 pairs, batch 16, 3 repeats
    python -m benchmarks.capture             # 256 pairs, batch 16, 5 repeats
    python -m benchmarks.capture --quick --backends torch          # the default backend vs a plain forward only
    python -m benchmarks.capture --quick --device cuda --model FOLDER

The last line printed is a JSON object with `default_over_plain`, `nnsight_over_default` and
`transformer_lens_over_default` (ratios of median seconds; each for the backends run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
from transformers.utils import logging

from interp.hooks import Site, capture_batch
from interp.hooks.backend import BACKENDS
from interp.models import rm_from_base
from interp.render import encode_pairs

MODEL = "smollm2-135m-instruct"
PROMPTS = [
    "What, in one word, is the best thing ever?",
    "What is the single most important thing in life?",
    "Name, in one word, the greatest good.",
    "What, in one word, should everyone strive for?",
]
ANSWERS = [
    "Love",
    "Freedom",
    "Success",
    "Friendship",
    "Family",
    "Power",
    "Kindness",
    "Wealth",
    "Trust",
    "Care",
    "Achievement",
    "Happiness",
    "Knowledge",
    "Health",
    "Peace",
    "Honesty",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 pairs and 3 repeats instead of 256 and 5")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", default=MODEL, help="base LM the RM is built from (embedded name or folder)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS), help="backends to time")
    args = parser.parse_args()
    logging.set_verbosity_error()
    logging.disable_progress_bar()

    n_pairs, repeats = (64, 3) if args.quick else (256, 5)
    rm = rm_from_base(args.model, seed=0, dtype="float32", device=args.device)
    pairs = [(p, a) for a in ANSWERS for p in PROMPTS] * (n_pairs // (len(PROMPTS) * len(ANSWERS)))
    batches = [
        encode_pairs(rm.tokenizer, pairs[i : i + args.batch_size]) for i in range(0, len(pairs), args.batch_size)
    ]
    sites = Site.grid(range(rm.n_layers))
    print(
        f"model={args.model} on {args.device}, fp32 {rm.model.config._attn_implementation}, {len(pairs)} pairs, "
        f"batch size {args.batch_size}, {len(sites)} sites, torch threads {torch.get_num_threads()}, {repeats} repeats"
    )

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    @torch.no_grad()
    def plain() -> None:
        for enc in (b.to(args.device) for b in batches):
            rm.body(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                position_ids=enc.position_ids,
                use_cache=False,
            )

    def with_backend(name: str) -> Callable[[], None]:
        def run() -> None:
            for enc in batches:
                capture_batch(rm, enc, sites, backend=name)  # type: ignore[arg-type]

        return run

    backends = ["torch", *(b for b in args.backends if b != "torch")]
    methods: dict[str, Callable[[], None]] = {"plain": plain, **{b: with_backend(b) for b in backends}}
    clock = time.perf_counter if args.device.startswith("cuda") else time.process_time
    for method in methods.values():  # warm-up: builds the TransformerLens bridge, first nnsight trace
        method()
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, method in methods.items():
            sync()
            start = clock()
            method()
            sync()
            seconds[name].append(clock() - start)
    median = {name: statistics.median(times) for name, times in seconds.items()}
    for name, times in seconds.items():
        print(f"{name:>17}: median {median[name]:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times)})")
    print(
        json.dumps(
            {
                "benchmark": "capture",
                "model": args.model,
                "device": args.device,
                "dtype": "float32",
                "quick": args.quick,
                "n_pairs": len(pairs),
                "batch_size": args.batch_size,
                "n_sites": len(sites),
                "repeats": repeats,
                "threads": torch.get_num_threads(),
                "seconds_median": {k: round(v, 4) for k, v in median.items()},
                "clock": "wall, synchronised" if args.device.startswith("cuda") else "process CPU time",
                "default_over_plain": round(median["torch"] / median["plain"], 3),
                **{f"{b}_over_default": round(median[b] / median["torch"], 3) for b in backends if b != "torch"},
            }
        )
    )


if __name__ == "__main__":
    main()
