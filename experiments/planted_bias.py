"""Planted bias: does an RM inherit a word preference planted in its base LM?

1. Plant: a brief last-k SFT of the base (SmolLM2 by default) so it answers value prompts with five
   agency words (`interp.training.plant`); value-neutral examples are mixed in to keep the rest intact.
2. Check the plant: first-token log-prob ranks of the planted words among the default lexicon's words,
   base vs planted, over the paper's 27 positive prompts (unit: prompt; paired t CI).
3. Train RMs from the planted and the unplanted base on identical built-in neutral pairs; one RM per
   (base, seed). The seed sets the head initialisation and the data order, so the two bases see the same.
4. Score every lexicon word as the one-word answer to the positive prompts with each RM, rank words
   within (RM, prompt), and compare the planted words' mean rank between RMs of the two bases (unit: RM;
   Welch t CI and bootstrap CI), beside a control set of unplanted agency words.

    python -m experiments.planted_bias --threads 1   # 3 seeds × 2 bases, 400 pairs, 9 prompts: ~10 min, busy 2 CPUs
    python -m experiments.planted_bias --quick       # 2 seeds × 2 bases, 200 pairs, 3 prompts

Reruns reuse the planted base and every RM already scored in --out (delete the folder to start over).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers.utils import logging as hf_logging

from interp._util.errors import UserError
from interp._util.runinfo import peak_rss_mb, versions, write_json
from interp.lexicons.readers import default_lexicon
from interp.models import load_lm, load_rm
from interp.render.prompts import Prompt, paper_prompts
from interp.sweep.answers import sweep_answers
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.inheritance import contrast, set_ranks
from interp.training.neutral import neutral_pairs
from interp.training.plant import DEFAULT_PLANTED, PlantConfig, plant_bias, plant_check


def _prompts(n: int) -> list[Prompt]:
    """`n` of the paper's 27 positive prompts, spread over adjectives and endings (every k-th)."""
    positive = [p for p in paper_prompts() if p.framing == "positive"]
    return positive[:: max(1, len(positive) // max(1, n))][:n]


def _plant(args: argparse.Namespace, folder: Path) -> Path:
    config = PlantConfig(
        base=args.base, out=str(folder), words=tuple(args.words), k=args.k, steps=args.plant_steps, seed=args.seed
    )
    done = folder / "plant.json"
    if done.is_file() and {k: v for k, v in json.loads(done.read_text()).items() if k != "losses"} == json.loads(
        json.dumps(config.__dict__)
    ):
        return folder
    return plant_bias(config)


def _rm_scores(
    args: argparse.Namespace, label: str, base: str, seed: int, pairs: list[Any], words: list[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train one RM (or reuse its saved scores) and score every word with it."""
    folder = args.out / "rms" / f"{label}-seed{seed}"
    cached = folder / "scores.csv"
    if cached.is_file():
        return pd.read_csv(cached), json.loads((folder / "metrics.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    config = TrainConfig(
        base=base, out=str(folder), k=args.k, epochs=args.epochs, lr=args.lr, seed=seed, save_every=10**9
    )
    result = train_rm(config, pairs)
    rm = load_rm(str(result.checkpoint))
    table = sweep_answers(rm, _prompts(args.prompts), words, model=f"{label}-seed{seed}", progress=False)
    table = table.assign(base=label, seed=seed)
    table.to_csv(cached, index=False)
    if not args.keep_rms:
        for checkpoint in result.checkpoints:
            shutil.rmtree(checkpoint)
    return table, result.metrics


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    lexicon = default_lexicon()
    agency = list(lexicon.categories["agency"])
    words = list(dict.fromkeys([*args.words, *(w for ws in lexicon.categories.values() for w in ws)]))
    control = random.Random(args.seed).sample([w for w in agency if w not in args.words], len(args.words))
    write_json(
        out / "config.json",
        {
            **{k: str(v) for k, v in vars(args).items()},
            "control_words": control,
            "lexicon": lexicon.label,
            "versions": versions(),
        },
    )
    planted_base = _plant(args, out / "planted_base")
    base_lm, planted_lm = load_lm(args.base), load_lm(str(planted_base))
    check = plant_check(base_lm, planted_lm, args.words, words, [p.text for p in _prompts(args.prompts)])
    check.ranks.to_csv(out / "plant_check.csv", index=False)
    del base_lm, planted_lm
    pairs = neutral_pairs(args.pairs, seed=0)
    tables, rm_metrics = [], []
    for label, base in (("unplanted", args.base), ("planted", str(planted_base))):
        for seed in range(args.seeds):
            table, metrics = _rm_scores(args, label, base, seed, pairs, words)
            tables.append(table)
            rm_metrics.append(
                {
                    "rm": f"{label}-seed{seed}",
                    "base": label,
                    "seed": seed,
                    "held_out_accuracy": metrics["held_out_accuracy"],
                }
            )
    scores = pd.concat(tables, ignore_index=True)
    scores.to_csv(out / "rm_scores.csv", index=False)
    sets = {"planted": list(args.words), "control": control}
    per_rm = set_ranks(scores, sets, extra=["base", "seed"])
    per_rm.to_csv(out / "rm_set_ranks.csv", index=False)
    contrasts = contrast(per_rm, seed=args.seed)
    summary = {
        "plant_check": check.summary(),
        "plant_check_unit": "prompt (paired t over prompts)",
        "rm_contrasts": [c.as_dict() for c in contrasts],
        "rms": rm_metrics,
        "planted_words": list(args.words),
        "control_words": control,
        "n_candidate_words": len(words),
        "inherited": contrasts[0].ci_high < 0,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    write_json(out / "summary.json", summary)
    (out / "report.md").write_text(_report(summary))
    return summary


def _report(summary: dict[str, Any]) -> str:
    plant = summary["plant_check"]
    lines = [
        "# Planted bias",
        "",
        f"Planted words: {', '.join(summary['planted_words'])}; control words: "
        f"{', '.join(summary['control_words'])}; ranks among {summary['n_candidate_words']} lexicon words "
        "(1 = best).",
        "",
        "## Plant check (base LM log-prob of the first answer token; unit: prompt)",
        "",
        f"Mean rank of planted words: base {plant['base_mean_rank']:.1f} → planted {plant['planted_mean_rank']:.1f}"
        f" (gain {plant['rank_gain']:.1f}, 95% CI [{plant['ci_low']:.1f}, {plant['ci_high']:.1f}], "
        f"p = {plant['p_value']:.2g}, {plant['n_prompts']} prompts); took: {plant['took']}.",
        "",
        "## RM inheritance (reward-score ranks; unit: RM)",
        "",
        "| word set | planted-base RMs | unplanted-base RMs | difference | Welch 95% CI | bootstrap 95% CI | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in summary["rm_contrasts"]:
        lines.append(
            f"| {c['word_set']} | {c['treated_mean']:.1f} (n={c['n_treated']}) | "
            f"{c['reference_mean']:.1f} (n={c['n_reference']}) | {c['difference']:+.1f} | "
            f"[{c['ci_low']:.1f}, {c['ci_high']:.1f}] | [{c['bootstrap_low']:.1f}, {c['bootstrap_high']:.1f}]"
            f" | {c['p_value']:.3g} |"
        )
    lines += [
        "",
        "Negative differences mean the words rank higher (are preferred) in RMs trained from the planted "
        f"base. Inherited (planted CI below 0): {summary['inherited']}.",
        "",
        "| RM | held-out accuracy |",
        "|---|---|",
    ]
    lines += [f"| {r['rm']} | {r['held_out_accuracy']:.3f} |" for r in summary["rms"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the experiment; the last line printed is the summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="smollm2-135m-instruct", help="base LM (embedded name or folder)")
    parser.add_argument("--words", nargs="+", default=list(DEFAULT_PLANTED), help="words to plant")
    parser.add_argument("--seeds", type=int, default=3, help="RMs per base")
    parser.add_argument("--pairs", type=int, default=400, help="neutral preference pairs per RM")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--k", type=int, default=4, help="trained decoder layers (plant and RMs)")
    parser.add_argument("--plant-steps", type=int, default=30)
    parser.add_argument("--prompts", type=int, default=9, help="positive paper prompts (of 27) for checks/scores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is fastest when busy)")
    parser.add_argument("--keep-rms", action="store_true", help="keep the RM checkpoints (540 MB each)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 200 pairs, 3 prompts")
    parser.add_argument("--out", type=Path, default=Path("artifacts/planted_bias"))
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.pairs, args.prompts = 2, 200, 3
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        summary = run(args)
    except UserError as err:
        parser.exit(2, f"error: {err}\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
