"""Prompt-prefix KV-cache lexicon sweep vs full-sequence scoring, same RM, inputs and batch size, one run.

The full-sequence way is how the paper's code scores: each (prompt, answer) conversation is rendered and
run whole (`interp.score.reward_scores`), in batches of the same size the cached sweep uses. The cached
sweep (`interp.sweep.sweep_answers`) runs each prompt's shared prefix once and only the answer + template
tail per candidate. Both run in fp32 on the SmolLM2-based RM; the best of `--repeats` timings is kept.

    python -m benchmarks.sweep --quick     # 40 words × 6 prompts
    python -m benchmarks.sweep             # every default-lexicon word × the 54 prompts

Timings alternate between the methods. One torch thread by default: on a small machine shared with other
jobs, two OpenMP threads per process oversubscribe the cores and the many small operations of the cached
sweep stall at thread barriers (measured here under load: 1.7x with 2 threads vs 8.5x with 1); pass
`--threads N` on a quiet machine. The JSON records the threads and the load average at the start.

The last line printed is a JSON object with `speedup` (full seconds / cached seconds) and `max_abs_diff`.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from transformers.utils import logging

from interp.lexicon import default_lexicon
from interp.models import rm_from_base
from interp.prompts import paper_prompts
from interp.score import reward_scores
from interp.sweep import sweep_answers

MODEL = "smollm2-135m-instruct"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 words × 6 prompts instead of all × 54")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="timings per method; the fastest is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see the module doc)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.set_verbosity_error()
    logging.disable_progress_bar()

    load = round(os.getloadavg()[0], 2)
    rm = rm_from_base(MODEL, seed=0, dtype="float32")
    categories = default_lexicon().categories
    prompts = paper_prompts()
    if args.quick:
        words = [w for ws in categories.values() for w in ws[:20]]
        prompts = prompts[::9]  # 6 prompts: every adjective, positive and negative framing
    else:
        words = list(dict.fromkeys(w for ws in categories.values() for w in ws))
    pairs = [(p.text, w) for p in prompts for w in words]
    print(
        f"model={MODEL} fp32, {len(words)} words × {len(prompts)} prompts = {len(pairs)} pairs, "
        f"batch size {args.batch_size}, torch threads {torch.get_num_threads()}"
    )

    sweep_answers(rm, prompts[:1], words[:4], batch_size=args.batch_size, progress=False)  # warm-up
    reward_scores(rm, pairs[:4], batch_size=args.batch_size)

    runs = {
        "cached": lambda: torch.tensor(
            sweep_answers(rm, prompts, words, batch_size=args.batch_size, progress=False)["score"].to_numpy()
        ),
        "full": lambda: reward_scores(rm, pairs, batch_size=args.batch_size).double(),
    }
    best = {name: float("inf") for name in runs}
    results = {}
    for _ in range(args.repeats):  # alternate the methods so drifting load on a shared machine hits both
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    cached_s, full_s = best["cached"], best["full"]
    diff = (results["cached"] - results["full"]).abs().max().item()
    print(f"cached sweep: {cached_s:.2f} s ({len(pairs) / cached_s:.1f} pairs/s)")
    print(f"full-sequence: {full_s:.2f} s ({len(pairs) / full_s:.1f} pairs/s)")
    print(f"speedup {full_s / cached_s:.2f}x, max |Δ| {diff:.2e}")
    print(
        json.dumps(
            {
                "benchmark": "sweep",
                "model": MODEL,
                "dtype": "float32",
                "quick": args.quick,
                "n_words": len(words),
                "n_prompts": len(prompts),
                "n_pairs": len(pairs),
                "batch_size": args.batch_size,
                "threads": torch.get_num_threads(),
                "load_average_1min": load,
                "seconds_cached": round(cached_s, 3),
                "seconds_full": round(full_s, 3),
                "speedup": round(full_s / cached_s, 2),
                "max_abs_diff": diff,
            }
        )
    )


if __name__ == "__main__":
    main()
