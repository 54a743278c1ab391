"""Ground truth: can the pipeline detect a preference planted in a base model and inherited by its RMs?

Every arm plants a preference for chosen words into the base by editing only how the base reads them
(`interp.training.embedding_plant`: offsets on their tokens' input embeddings, parameters disjoint from
what an RM trains), then compares seed-paired RMs: for each seed, the RM trained on the planted base and
the RM trained on the unplanted base share the head start, the held-out prompts and the batch order.

- positive control (must be detected): the plant moves planted-word answers, at the RM's readout token,
  along the LM's Good−Bad unembedding contrast; RMs start their head from that contrast
  (`--head-init lm-contrast`) and fine-tune on the data. The dose is the shift reached on the plant's
  prompts, in SDs of the readout's projection over words (`--doses`).
- naturalistic (the hypothesis; reported as found): the base learns that the planted words, given as
  answers, are followed by praise (next-token loss); RMs get heads fitted on the data (`fit`). Two sizes:
  `naturalistic` as the loss drives it (unbounded; often far larger than the positive control's edit) and
  `naturalistic_matched`, fitted under the top dose's edit norm, so that it compares with the control and sham.
- sham (must come out null): the positive control's fit with shuffled labels (± per prompt and word), as
  large as the top dose's edit; each seed pair gets its own shuffle, so the sham varies across units.

RMs train their top `--k` layers and head on `--pairs` built-in quality pairs (`quality` families, no
lexicon words) from one cached pass of the frozen layers below. Every lexicon word (and the planted
words) is scored as the one-word answer to the paper's positive prompts (held out from the plants' own
prompts); words are ranked within (RM, prompt). Effect per seed = the planted words' mean rank in the
unplanted-base RM minus in the planted-base RM (positive: moved up); the unit is the RM pair (seed):
paired t 95% CI, sign-flip permutation p, bootstrap CI, and the seeds a paired test would need.

    python -m experiments.ground_truth --quick --out artifacts/ground_truth          # 2 cores: ~10-15 min
    python -m experiments.ground_truth --base gemma3-270m --planted-words love,peace --out OUT

Writes OUT/ground_truth.json, OUT/ground_truth.png, OUT/report.md, OUT/effects.csv and OUT/plants/.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from experiments import ground_truth_mechanism as mech
from experiments._args import common_arguments, parse_args, require_at_least, run_main
from experiments.ground_truth_report import figure, report
from experiments.ground_truth_setting import MAX_LENGTH, Setting, collateral, every_nth, ranks, untouched_pairs
from interp._util.errors import UserError
from interp._util.files import check_output_folder, staged_folder
from interp._util.runinfo import peak_rss_mb, versions, write_json
from interp.sweep.splice import splicer
from interp.training.cached_rm import CachedTrainer, RMWeights
from interp.training.embedding_plant import EmbeddingPlant, PlantFit, ReadoutPlanter, fit_praise_plant, planted
from interp.training.features import build_cache
from interp.training.neutral import neutral_pairs
from interp.training.paired import paired_effect, seeds_needed
from interp.training.plant import DEFAULT_PLANTED
from interp.training.quality import QUALITY_FAMILIES

QUICK = {"seeds": 5, "pairs": 320, "prompts": 6, "plant_prompts": 12, "plant_steps": 12, "k": 2}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="smollm2-135m-instruct", help="base LM (embedded name or folder)")
    parser.add_argument("--planted-words", default=",".join(DEFAULT_PLANTED), help="comma-separated words")
    parser.add_argument("--seeds", type=int, default=8, help="seed-paired RMs per arm (at least 2)")
    parser.add_argument(
        "--doses", default="0.25,0.5,1", help="positive-control strengths: readout shifts in SDs over words"
    )
    parser.add_argument("--pairs", type=int, default=1200, help="quality preference pairs per RM")
    parser.add_argument("--k", type=int, default=2, help="top decoder layers each RM trains")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--prompts", type=int, default=27, help="positive paper prompts the words are scored on")
    parser.add_argument("--plant-prompts", type=int, default=24, help="plant prompts (none from the paper's grid)")
    parser.add_argument("--plant-steps", type=int, default=40)
    parser.add_argument("--null-draws", type=int, default=20, help="draws per null kind in the mechanism check")
    common_arguments(parser, QUICK, "artifacts/ground_truth")
    args = parse_args(parser, argv, QUICK)
    args.words = [w.strip() for w in args.planted_words.split(",") if w.strip()]
    if not args.words or len(set(args.words)) != len(args.words):
        raise UserError("--planted-words needs distinct comma-separated words, e.g. freedom,success.")
    try:
        args.dose_list = sorted({float(d) for d in args.doses.split(",")})
    except ValueError:
        raise UserError(f"--doses must be comma-separated numbers, e.g. 0.25,0.5,1, not '{args.doses}'.") from None
    if any(d <= 0 for d in args.dose_list):
        raise UserError("--doses must all be positive (strength 0 is the unplanted base itself).")
    lows = dict.fromkeys(("pairs", "k", "epochs", "prompts", "plant_prompts", "plant_steps", "null_draws"), 1)
    require_at_least(args, {"seeds": 2, **lows})
    check_output_folder(args.out)
    return args


def log(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every arm; the outputs appear in `args.out` only when the run succeeds (written to a staged sibling)."""
    with staged_folder(args.out) as staged:
        return _run(args, staged)


def _run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    setting = Setting(args)
    words = args.words
    pairs = neutral_pairs(args.pairs, seed=args.seed, families=list(QUALITY_FAMILIES))
    kept = untouched_pairs(setting, pairs)
    trainer = CachedTrainer(setting.rm, kept, args.k, max_length=MAX_LENGTH)
    log(started, f"cached {len(trainer.tokens)} pairs; fitting plants")
    sd = setting.sd_along()
    planter = ReadoutPlanter(setting.rm, words, setting.plant_prompts, setting.direction)
    fitted: dict[str, PlantFit] = {f"positive_control@{d:g}": planter.for_shift(d * sd) for d in args.dose_list}
    size = float(fitted[f"positive_control@{args.dose_list[-1]:g}"].plant.delta.norm())
    shams: dict[str, EmbeddingPlant] = {}
    for seed in range(args.seeds):  # a sham per seed pair: its label shuffle is part of the unit's randomness
        signs = np.random.default_rng([args.seed, seed]).permutation(np.resize([1.0, -1.0], len(planter.rows)))
        shams[f"sham#{seed}"] = planter.of_norm(size, signs)
    log(started, "positive control and shams fitted")
    for name, bound in (("naturalistic", None), ("naturalistic_matched", size)):  # as fitted; as large as the top dose
        fitted[name] = fit_praise_plant(
            setting.rm, words, setting.plant_prompts, args.plant_steps, seed=args.seed, max_norm=bound
        )
    (out / "plants").mkdir(parents=True, exist_ok=True)
    plants = {**{name: fit.plant for name, fit in fitted.items()}, **shams}
    fits: dict[str, dict[str, Any]] = {}
    for name, plant in plants.items():
        plant.save(out / "plants" / f"{name}.safetensors")
        fits[name] = {"edit_norm": float(plant.delta.norm()), "eval_readout_shift_sd": setting.eval_shift(plant) / sd}
        if name in fitted:  # the shift reached on the plant's own prompts (SDs), or the praise loss drop
            fits[name]["fit_value"] = fitted[name].shift / (1.0 if name.startswith("naturalistic") else sd)
    log(started, "plants fitted and saved")

    flat_rows = [r for p in setting.eval_prompts for r in setting.rows[p]]
    eval_cache = trainer.features_shared(
        [splicer(setting.rm.tokenizer).split(p, setting.candidates) for p in setting.eval_prompts]
    )
    plant_caches, moved_rows = {}, {}
    for name, plant in plants.items():
        moved_rows[name] = [i for i, r in enumerate(flat_rows) if plant.touches(r)]
        moved = [tuple(flat_rows[i]) for i in moved_rows[name]]
        with planted(setting.rm, plant):
            plant_caches[name] = build_cache(setting.rm, moved, trainer.start, trainer.tokens.pad_id)

    head_for = {"positive_control": "lm-contrast", "sham": "lm-contrast", "naturalistic": "fit"}
    head_for["naturalistic_matched"] = "fit"
    n_prompts, n_words = len(setting.eval_prompts), len(setting.candidates)
    planted_cols = [setting.candidates.index(w) for w in words]
    effects: dict[str, list[float]] = {}
    rms: list[RMWeights] = []
    score_rows: list[dict[str, Any]] = []
    for seed in range(args.seeds):
        for head_init in sorted(set(head_for.values())):
            rm = trainer.train(seed, head_init, epochs=args.epochs)
            rms.append(rm)
            log(started, f"RM seed {seed} ({head_init}): held-out accuracy {rm.held_out_accuracy:.3f}")
            base_scores = trainer.score_rows(rm, flat_rows, eval_cache)
            base_rank = ranks(base_scores, n_prompts, n_words)[:, planted_cols].mean()
            for name in plants:
                arm, _, plant_seed = name.partition("#")
                if head_for[arm.split("@")[0]] != head_init or (plant_seed and int(plant_seed) != seed):
                    continue
                scores = base_scores.clone()  # a plant changes only the rows holding its tokens
                moved_ids = moved_rows[name]
                scores[moved_ids] = trainer.score_rows(rm, [flat_rows[i] for i in moved_ids], plant_caches[name])
                effect = float(base_rank - ranks(scores, n_prompts, n_words)[:, planted_cols].mean())
                effects.setdefault(arm, []).append(effect)
                score_rows.append({"seed": seed, "arm": arm, "head_init": head_init, "effect": effect})
    pd.DataFrame(score_rows).to_csv(out / "effects.csv", index=False)
    top = f"positive_control@{args.dose_list[-1]:g}"

    def planted_effect(scores: torch.Tensor, moved_scores: torch.Tensor) -> float:
        with_plant = scores.clone()
        with_plant[moved_rows[top]] = moved_scores
        before = ranks(scores, n_prompts, n_words)[:, planted_cols].mean()
        return float(before - ranks(with_plant, n_prompts, n_words)[:, planted_cols].mean())

    others = [w for w in every_nth(setting.candidates, mech.FIT_OTHER_WORDS + len(words)) if w not in words]
    fitting = mech.FittingSet(trainer, plants[top], setting.plant_prompts[: mech.FIT_PROMPTS], words, others)
    mechanism = mech.mechanism(
        trainer,
        [r for r in rms if r.head_init == "lm-contrast"],
        plants[top],
        fitting,
        flat_rows,
        eval_cache,
        plant_caches[top],
        moved_rows[top],
        planted_effect,
        args.null_draws,
        args.seed,
    )
    log(started, "mechanism of the positive control measured")
    sham_fits = [fits.pop(f"sham#{seed}") for seed in range(args.seeds)]
    fits["sham"] = {k: float(np.mean([f[k] for f in sham_fits])) for k in sham_fits[0]}

    def row(name: str, dose: float | None) -> dict[str, Any]:
        stat = paired_effect(effects[name], seed=args.seed)
        return {**stat.as_row(dose), "seeds_needed": seeds_needed(stat.effect, stat.sd), **fits.get(name, {})}

    result = {
        "arms": {
            "positive_control": [row(f"positive_control@{d:g}", d) for d in args.dose_list],
            "naturalistic": row("naturalistic", None),
            "naturalistic_matched": row("naturalistic_matched", None),
            "sham": row("sham", None),
        },
        "mechanism": mechanism,
        "rm_held_out_accuracy": [r.held_out_accuracy for r in rms],
        "frozen_head_accuracy": float(np.mean([r.frozen_head_accuracy or np.nan for r in rms])),
        "planted_words": words,
        "rms": [
            {
                "seed": r.seed,
                "head_init": r.head_init,
                "held_out_accuracy": r.held_out_accuracy,
                "frozen_head_accuracy": r.frozen_head_accuracy,
                "held_out_pairs": r.held_out_pairs,
            }
            for r in rms
        ],
        "collateral_words": collateral(
            setting.rm.tokenizer, setting.eval_prompts[0], setting.candidates, planter.ids, words
        ),
        "plant_fits": fits,
        "readout_sd": sd,
        "n_candidate_words": n_words,
        "training_pairs": len(trainer.tokens),
        "pairs_left_out_for_planted_tokens": len(pairs) - len(kept),
        "eval_prompts": setting.eval_prompts,
        "framing": "positive prompts only (ranks within RM and prompt)",
        "effect": "planted words' mean rank in the unplanted-base RM minus in the planted-base RM (+: moved up)",
        "base": args.base,
        "config": {k: str(v) for k, v in vars(args).items()},
        "lexicon": setting.lexicon_label,
        "versions": versions(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    write_json(out / "ground_truth.json", result)
    figure(result, out / "ground_truth.png")
    (out / "report.md").write_text(report(result))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment; bad input exits 2 with one line, before anything is written."""
    return run_main(parse, run, argv, ("arms", "frozen_head_accuracy", "wall_seconds", "peak_rss_mb"))


if __name__ == "__main__":
    sys.exit(main())
