"""Persistence that means something: LoRA RMs (every layer trains), seed RMs of one base, a seed-to-seed floor.

Trains `--seeds` RMs from one base on the same built-in neutral pairs (seed: LoRA draw and batch order), with
LoRA adapters in every layer (`--mode lora`; `--mode last-k` shows what frozen layers do) and checkpoints
at doubling (log-spaced) steps. At every checkpoint, every RM's and the base's readout residuals at every
layer are captured on the lineage study's probe inputs (agency vs communion answers) and one
difference-of-means probe per layer and model is fitted on word folds (`probes.seed_floor`). Per layer and
checkpoint it reports (1 − cos) of the base's and each RM's direction, the transfer AUC of the base's
cross-fitted probes on the RM's activations, and the seed floor: the same between two seed RMs (spread over
seed pairs and a jackknife over word folds). A layer "changes" only where every RM's weights changed and
base-vs-RM (1 − cos) exceeds the floor; otherwise the report says plainly that none does.

    python -m experiments.persistence_lora --quick --out artifacts/persistence_lora
    python -m experiments.persistence_lora --base gemma3-270m --seeds 3 --steps 64 --out OUT

Writes OUT/persistence.json, OUT/persistence.csv (layer × checkpoint), OUT/persistence_pairs.csv (every
comparison), OUT/persistence.png and OUT/report.md. Training saves every first scheduled step (train_rm saves
at a fixed interval; the off-schedule ones go unused), into a temporary folder that holds one seed's
checkpoints at a time: steps / first of them, ~0.5 GB each for SmolLM2 and ~1 GB for Gemma-3-270M.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments._args import common_arguments, parse_args, require_at_least, run_main
from experiments.persistence_lora_report import figure, report
from experiments.profiles import get_profile
from interp._util.errors import UserError
from interp._util.files import check_output_folder, staged_folder
from interp._util.runinfo import peak_rss_mb, versions, write_json
from interp.lexicons.readers import default_lexicon
from interp.models import ModelHandle, load_lm
from interp.models.lineage import Lineage
from interp.render.prompts import paper_prompts
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.checkpoints import checkpoint_step, list_checkpoints, load_checkpoint, read_meta
from interp.training.neutral import neutral_pairs
from probes.collect import probe_data
from probes.data import ProbeData
from probes.pipeline import PROBE_METHOD
from probes.seed_floor import direction_pairs, seed_floor, statement

QUICK = {
    "seeds": 2,
    "steps": 12,
    "checkpoints": 3,
    "pairs": 64,
    "batch_size": 4,
    "probe_prompts": "best_ever_one",
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="smollm2-135m-instruct", help="base LM (embedded name or folder)")
    parser.add_argument("--seeds", type=int, default=3, help="seed RMs from the base (at least 2)")
    parser.add_argument("--steps", type=int, default=64, help="training steps of every RM")
    parser.add_argument("--checkpoints", type=int, default=4, help="checkpoints at doubling steps, the last at --steps")
    parser.add_argument("--pairs", type=int, default=256, help="built-in neutral preference pairs")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate of the trained body weights")
    parser.add_argument("--mode", choices=("lora", "last-k"), default="lora", help="what trains besides the head")
    parser.add_argument("--k", type=int, default=2, help="top layers trained in --mode last-k")
    parser.add_argument("--probe-prompts", default="best_ever_one,worst_ever_one", help="paper prompt keys")
    parser.add_argument("--z", type=float, default=1.96, help="paired jackknife SEs the excess must clear")
    common_arguments(parser, QUICK, "artifacts/persistence_lora", "first RM seed (others follow), data and folds")
    args = parse_args(parser, argv, QUICK)
    require_at_least(args, {"seeds": 2, "steps": 1, "checkpoints": 2, "pairs": 1, "batch_size": 1, "k": 1})
    if args.z < 0:
        raise UserError(f"--z must be at least 0, not {args.z}.")
    keys = [k.strip() for k in args.probe_prompts.split(",") if k.strip()]
    known = {p.key for p in paper_prompts()}
    if not keys or any(k not in known for k in keys):
        bad = next((k for k in keys if k not in known), "(none)")
        raise UserError(f"Unknown --probe-prompts key '{bad}'; use paper prompt keys such as best_ever_one.")
    args.prompt_keys = tuple(dict.fromkeys(keys))
    args.schedule = doubling_steps(args.steps, args.checkpoints)
    train_config(args, args.seed, args.out)  # refuses training settings that cannot run, before anything does
    check_output_folder(args.out)
    return args


def doubling_steps(steps: int, n: int) -> list[int]:
    """`n` checkpoint steps, each twice the one before, the last at `steps` (log-spaced).

    >>> doubling_steps(12, 3)
    [3, 6, 12]
    """
    first, rest = divmod(steps, 2 ** (n - 1))
    if first < 1 or rest:
        raise UserError(
            f"--steps {steps} cannot hold {n} doubling checkpoints; use a multiple of {2 ** (n - 1)} "
            f"(e.g. {2 ** (n - 1) * max(1, first + 1)}) or fewer --checkpoints."
        )
    return [first * 2**i for i in range(n)]


def train_config(args: argparse.Namespace, seed: int, out: Path) -> TrainConfig:
    """One seed RM's training settings; checkpoints every first scheduled step (the others are dropped)."""
    return TrainConfig(
        base=args.base,
        out=str(out / f"seed{seed}"),
        mode=args.mode,
        k=args.k,
        dtype="fp32",
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        save_every=args.schedule[0],
        seed=seed,
    )


def log(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, capture and compare; the outputs appear in `args.out` only when the run succeeds."""
    with staged_folder(args.out) as staged, tempfile.TemporaryDirectory(prefix="persistence-lora-") as work:
        return _run(args, staged, Path(work))


def _run(args: argparse.Namespace, out: Path, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    profile = dataclasses.replace(get_profile("quick"), probe_prompt_keys=args.prompt_keys)
    lexicon = default_lexicon()
    base = load_lm(args.base)
    store = work / "store"
    base_data = probe_data(base, lexicon, profile.prompts("probe"), store, base.fingerprint)
    log(started, f"base captured: {base_data.n_examples} inputs × {base_data.n_layers} layers")
    pairs = neutral_pairs(args.pairs, seed=args.seed)
    rms: dict[tuple[int, int], ProbeData] = {}
    changes, accuracy = [], []
    configs = [train_config(args, seed, work) for seed in range(args.seed, args.seed + args.seeds)]
    trained = []
    for config in configs:
        run_result = train_rm(config, pairs, progress=False)
        kept = ("wall_seconds", "n_trainable", "held_out_pairs")
        trained.append({"seed": config.seed, **{k: run_result.metrics[k] for k in kept}})
        log(started, f"RM seed {config.seed} trained ({run_result.metrics['wall_seconds']:.0f} s)")
        for folder in list_checkpoints(config.out):
            step = checkpoint_step(folder)
            if step in args.schedule:
                rm = load_checkpoint(folder, base)
                rms[(config.seed, step)] = probe_data(rm, lexicon, profile.prompts("probe"), store, base.fingerprint)
                changes += weight_rows(base, rm, config.seed, step)
                accuracy.append({"seed": config.seed, "step": step, **accuracies(folder)})
            shutil.rmtree(folder)
        shutil.rmtree(config.out)
        log(started, f"RM seed {config.seed}: checkpoints {args.schedule} captured")
    pair_table = direction_pairs(base_data, rms, PROBE_METHOD, seed=args.seed)
    change = pd.DataFrame(changes)
    table = seed_floor(pair_table, change, z=args.z)
    table.to_csv(out / "persistence.csv", index=False)
    pair_table.to_csv(out / "persistence_pairs.csv", index=False)
    result = summary(args, table, accuracy, trained, base_data, started)
    write_json(out / "persistence.json", result)
    figure(table, out / "persistence.png", f"{Path(args.base).name}, {args.mode}, {args.seeds} seeds")
    (out / "report.md").write_text(report(result, table))
    return result


def weight_rows(base: ModelHandle, rm: ModelHandle, seed: int, step: int) -> list[dict[str, Any]]:
    """Relative weight change of every layer of `rm` against `base` (Lineage.weight_change)."""
    change = Lineage(base, rm).weight_change()
    return [{"seed": seed, "step": step, "layer": int(i), "weight_change": float(v)} for i, v in change.items()]


def accuracies(folder: Path) -> dict[str, float]:
    meta = read_meta(folder)
    return {"held_out_accuracy": meta["held_out_accuracy"], "at_start": meta["held_out_accuracy_at_start"]}


def summary(
    args: argparse.Namespace,
    table: pd.DataFrame,
    accuracy: list[dict[str, Any]],
    trained: list[dict[str, Any]],
    base_data: ProbeData,
    started: float,
) -> dict[str, Any]:
    """The numbers the report quotes, with the run's settings, versions and costs."""
    last = table[table.step == args.schedule[-1]]
    exceeding = table[table.verdict == "changes"]
    skipped = last[last.verdict == "skipped"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "statement": statement(table),
        "layers_exceeding_floor": sorted(int(x) for x in last.layer[last.verdict == "changes"]),
        "exceeding_by_step": {int(s): sorted(int(x) for x in g.layer) for s, g in exceeding.groupby("step")},
        "skipped_layers": {int(r.layer): r.reason for r in skipped.itertuples()},
        "checkpoint_steps": args.schedule,
        "rm_accuracy": accuracy,
        "final": last.to_dict(orient="records"),
        "base": args.base,
        "mode": args.mode,
        "seeds": [t["seed"] for t in trained],
        "z": args.z,
        "held_out_pairs": trained[0]["held_out_pairs"],
        "training": trained,
        "method": PROBE_METHOD,
        "n_words": base_data.n_words,
        "n_inputs": base_data.n_examples,
        "probe_prompts": list(args.prompt_keys),
        "unit": "direction per (model, layer); floor over seed pairs, jackknife over word folds",
        "config": {k: str(v) for k, v in vars(args).items()},
        "train_config": dataclasses.asdict(train_config(args, args.seed, Path("temporary"))) | {"seed": "per RM"},
        "versions": versions(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment; bad input exits 2 with one line, before anything is written."""
    keys = ("statement", "layers_exceeding_floor", "wall_seconds", "cpu_seconds", "peak_rss_mb")
    return run_main(parse, run, argv, keys, progress_bars=False)


if __name__ == "__main__":
    sys.exit(main())
