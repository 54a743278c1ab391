"""One lineage, end to end: seed RMs trained from a base on neutral data, then behaviour, probes, persistence,
unembedding, and the causal study on held-out data (ablation beside matched nulls, steering), with durability
along a checkpointed run where the profile asks for it. Every step writes its tables under the lineage folder
and is skipped when they are already there (reruns reuse the trained RMs).

The unit of every causal claim is the RM: `n_seeds` RMs train their top `k_layers` and head from one cached
pass of the frozen layers (`CachedTrainer`); seed 0 is the lineage's RM for behaviour, probes and persistence.
Probes, directions, their nulls and the best layer use the fitting words × the probe prompts only; the causal
effects are measured on held-out words × evaluation prompts (`interp.causal.heldout`, `interp.causal.study`).
The steps live in the library (`interp.pipeline`, and `probes.pipeline` for those that need probes); this script
runs them in order, writes their tables under the lineage folder and logs each step.

    python -m experiments.lineage_study --base smollm2-135m-instruct --family llama --out artifacts/one
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from experiments.profiles import Profile, get_profile
from interp.causal.heldout import split_words
from interp.causal.plots import plot_ablation_by_layer, plot_durability, plot_gap_paths, plot_steering
from interp.lexicons.readers import Lexicon, default_lexicon
from interp.models import load_lm
from interp.models.lineage import Lineage
from interp.pipeline import (
    CausalDesign,
    Log,
    SeedRecipe,
    Seeds,
    cached_table,
    causal,
    gap_paths,
    grid_layers,
    word_categories,
)
from interp.sweep.answers import sweep_answers
from interp.training import TrainConfig
from probes.persistence import PersistenceConfig, compare
from probes.pipeline import (
    PROBE_METHOD,
    CheckpointedRun,
    behaviour_gap,
    causal_record,
    durability_panel,
    fitting_data,
    gap_paths_record,
    lineage_probes,
    probe_record,
    unembedding_reading,
)
from probes.plots import plot_persistence_heatmap, plot_probe_auc, plot_transfer


def seed_recipe(profile: Profile) -> SeedRecipe:
    """How the profile trains the seed RMs."""
    sizes = ("train_pairs", "train_epochs", "train_lr", "batch_size", "k_layers", "seed", "n_seeds")
    return SeedRecipe(**{k: getattr(profile, k) for k in sizes})


def causal_design(profile: Profile, n_layers: int, best: int, held_out: dict[str, str]) -> CausalDesign:
    """What the profile measures in the causal step, given the lineage's layer count and best probe layer."""
    return CausalDesign(
        layers=tuple(grid_layers(n_layers, profile.ablation_layers, best)),
        best=best,
        fit_prompts=profile.prompts("probe"),
        eval_prompts=profile.prompts("eval"),
        held_out=held_out,
        null_draws=profile.draws_at(-1, best),
        best_null_draws=profile.draws_at(best, best),
        all_positions=profile.all_positions_grid,
        steer_doses=profile.steer_doses,
        steer_null_draws=dict(profile.steer_null_draws),
        n_boot=profile.n_boot,
        seed=profile.seed,
    )


def checkpointed_run(base_name: str, profile: Profile, folder: Path) -> CheckpointedRun:
    """The profile's checkpointed training run for the durability panel, written to `folder`."""
    config = TrainConfig(
        base=base_name,
        out=str(folder),
        k=profile.k_layers,
        dtype="fp32",
        steps=profile.train_steps,
        lr=profile.train_lr,
        batch_size=profile.batch_size,
        save_every=profile.save_every,
        seed=profile.seed,
    )
    return CheckpointedRun(config, profile.train_pairs, profile.durability_checkpoints)


def study(
    base_name: str,
    family: str,
    profile: Profile,
    folder: Path,
    log: Log,
    lexicon: Lexicon | None = None,
) -> dict[str, Any]:
    """Run every step for one lineage; returns the numbers the report and summary.json quote."""
    lexicon = lexicon or default_lexicon()
    words = word_categories(lexicon)
    fitting, held_out = split_words(words, profile.eval_words_per_category, profile.seed)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = Seeds(base_name, seed_recipe(profile), folder / "rm", log)
    base = load_lm(base_name)
    rm = seeds.rm("seed0")
    lineage = Lineage(base, rm)
    change = lineage.weight_change()
    change.to_csv(folder / "weight_change.csv")
    log("behaviour: lexicon sweep of the RM (seed 0)")
    scores = cached_table(
        folder / "scores.csv",
        lambda: sweep_answers(rm, profile.prompts(), list(words), model=f"{base_name}-rm", progress=False),
    )
    reading = unembedding_reading(rm, seeds, base, lexicon, profile.seed)
    fit_prompts = profile.prompts("probe")
    log(f"probes: base and RM residuals on {len(fitting)} fitting words × {len(fit_prompts)} prompts")
    datas, fitting_set = fitting_data(seeds, fitting, fit_prompts, lineage.lineage_id)
    log("probes: fitting base and RM probes (the RM's frozen layers are the base's, bit for bit)")
    base_probes, probe_table = lineage_probes(
        datas, seeds.trained_layers, folder, profile.probe_perm, profile.probe_boot, profile.seed
    )
    probe_table.to_csv(folder / "probes.csv", index=False)
    log("persistence: base vs RM")
    persistence = compare(
        datas["base"], datas["RM"], PersistenceConfig(methods=(PROBE_METHOD,), n_null=10), progress=False
    )
    persistence.save(folder / "persistence")
    best = base_probes.best_layer(PROBE_METHOD)
    design = causal_design(profile, seeds.handle.n_layers, best, held_out)
    ablation, steering, eval_set = causal(seeds, base, fitting_set, design, folder, log)
    ablation.to_csv(folder / "ablation_claims.csv", index=False)
    steering.to_csv(folder / "steering_claims.csv", index=False)
    paths = gap_paths(seeds, base, eval_set, folder, log, patch=profile.gap_patching)
    title = Path(base_name).name
    figures = {
        "probe_auc": plot_probe_auc(
            probe_table, folder / "probe_auc.png", method=PROBE_METHOD, title=f"{base_name}: agency vs communion"
        ),
        "transfer": plot_transfer(persistence.directions, folder / "transfer.png", method=PROBE_METHOD),
        "ablation": plot_ablation_by_layer(ablation, folder / "ablation.png", title=title),
        "steering": plot_steering(steering, folder / "steering.png", title=f"{title}, layer {best}"),
        "gap_paths": plot_gap_paths(*paths, folder / "gap_paths.png", title=title),
    }
    if profile.durability:
        log("durability: a checkpointed training run")
        run = checkpointed_run(base_name, profile, folder / "checkpointed")
        dur, along = durability_panel(seeds, run, datas["base"], fit_prompts, fitting, eval_set, best)
        dur.to_csv(folder / "durability.csv", index=False)
        along.to_csv(folder / "persistence_along.csv", index=False)
        figures["durability"] = plot_durability(dur, folder / "durability.png", title=title)
        figures["persistence_heatmap"] = plot_persistence_heatmap(
            along, folder / "persistence_heatmap.png", method=PROBE_METHOD
        )
    return {
        "base": base_name,
        "family": family,
        "fingerprints": {"base": lineage.base.fingerprint, "rm": lineage.rm.fingerprint},
        "training": seeds.metrics,
        "behaviour_gap": behaviour_gap(scores, words),
        **probe_record(probe_table, persistence.directions, best),
        "head_reads_unembedding": reading,
        "causal": causal_record(ablation, steering, design, len(fitting)),
        "gap_paths": gap_paths_record(*paths, seeds.start),
        "max_weight_change": float(change.max()),
        "figures": {k: str(v) for k, v in figures.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--family", default="unknown")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = study(args.base, args.family, get_profile(args.profile), args.out, print)
    (args.out / "summary.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
