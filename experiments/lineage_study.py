"""One lineage, end to end: train an RM from a base on neutral data, then behaviour, probes, persistence,
unembedding, ablation, steering and durability. Every step writes its table under the lineage folder and
is skipped when that table is already there (reruns reuse the store and the trained RM).

    python -m experiments.lineage_study --base smollm2-135m-instruct --family llama --out artifacts/one
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from experiments.profiles import Profile, get_profile
from interp.causal.conditions import (
    ablation_conditions,
    leace_condition,
    mean_ablation_condition,
    random_ablations,
    steering_conditions,
)
from interp.causal.leace import fit_leace
from interp.causal.plots import plot_ablation_by_layer, plot_durability, plot_steering
from interp.causal.study import effects, null_band, orthogonal_to, run_conditions, unedited
from interp.lexicon import Lexicon, default_lexicon
from interp.lexicon_match import match_lexicon
from interp.lineage import Lineage
from interp.models import ModelHandle, load_lm
from interp.sweep.answers import sweep_answers
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.checkpoints import list_checkpoints, load_checkpoint
from interp.training.neutral import neutral_pairs
from probes.collect import collect
from probes.data import ProbeData
from probes.fit import ProbeConfig, ProbeResult, fit_probes
from probes.frames import build_inputs
from probes.persistence import PersistenceConfig, compare, persistence_along
from probes.plots import plot_persistence_heatmap, plot_probe_auc, plot_transfer
from probes.unembedding import head_reading, norm_gain, unembedding_direction

Log = Callable[[str], None]
PROBE_METHOD = "diff_means"


def cached_table(path: Path, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read `path` if it exists, else compute, write and return the table."""
    if path.exists():
        return pd.read_csv(path)
    table = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return table


def train(base: str, profile: Profile, out: Path, log: Log) -> dict[str, Any]:
    """Train (or resume, or reuse) the RM of this lineage on the built-in neutral pairs."""
    metrics = out / "metrics.json"
    if metrics.exists():
        return dict(json.loads(metrics.read_text()))
    log(f"training an RM from {base}: {profile.train_steps} steps × {profile.batch_size} pairs")
    config = TrainConfig(
        base=base,
        out=str(out),
        k=profile.k_layers,
        dtype="fp32",  # bf16 autocast trains ~10x slower on the CPU (measured: ~15 s a step vs ~1.5 s in fp32)
        steps=profile.train_steps,
        lr=profile.train_lr,
        batch_size=profile.batch_size,
        save_every=profile.save_every,
        seed=profile.seed,
    )
    return train_rm(config, neutral_pairs(profile.train_pairs, seed=profile.seed), resume=True, progress=False).metrics


def word_categories(lexicon: Lexicon) -> dict[str, str]:
    """word -> category for the agency/communion words (a word in both is dropped)."""
    entries = lexicon.entries()
    entries = entries[entries["category"].isin(["agency", "communion"])].drop_duplicates("word", keep=False)
    return dict(zip(entries["word"], entries["category"], strict=True))


def causal_words(words: dict[str, str], per_category: int | None) -> dict[str, str]:
    """The first `per_category` words of each category (all when None): the causal study's answer set."""
    if per_category is None:
        return dict(words)
    kept: dict[str, str] = {}
    for category in sorted(set(words.values())):
        kept |= dict([(w, c) for w, c in words.items() if c == category][:per_category])
    return kept


def _progress(log: Log, total: int, label: str) -> Callable[[object], None]:
    done = [0]

    def tick(_condition: object) -> None:
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == total:
            log(f"  {label}: {done[0]}/{total} conditions")

    return tick


def probe_data(handle: ModelHandle, lexicon: Lexicon, profile: Profile, store: Path, lineage_id: str) -> ProbeData:
    """Readout residuals at every layer of the answer-view probe inputs (through the store)."""
    inputs = build_inputs(handle.tokenizer, lexicon, "answer", profile.prompts("probe"))
    return collect(handle, inputs, range(handle.n_layers), store, lineage_id=lineage_id, progress=False)


def fit(data: ProbeData, profile: Profile, folder: Path) -> ProbeResult:
    result = fit_probes(
        data,
        ProbeConfig(
            methods=("diff_means", "logistic"), n_perm=profile.probe_perm, n_boot=profile.probe_boot, seed=profile.seed
        ),
        progress=False,
    )
    result.save(folder)
    return result


def layer_vectors(result: ProbeResult, n_layers: int) -> dict[int, torch.Tensor]:
    return {layer: result.directions[(PROBE_METHOD, layer)].vector for layer in range(n_layers)}


def token_ids(lexicon: Lexicon, handle: ModelHandle) -> dict[str, list[list[int]]]:
    """Per category, per word, the ids of the word's single-token variants."""
    table = match_lexicon(lexicon, handle.tokenizer).table
    single = table[table["single_token"]]
    out: dict[str, list[list[int]]] = {}
    for (category, _word), group in single.groupby(["category", "word"]):
        out.setdefault(str(category), []).append([int(ids[0]) for ids in group["token_ids"]])
    return out


def causal(
    rm: ModelHandle,
    base_result: ProbeResult,
    rm_result: ProbeResult,
    base_data: ProbeData,
    rm_data: ProbeData,
    words: dict[str, str],
    profile: Profile,
    folder: Path,
    best: int,
    log: Log,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ablation conditions (with controls) and the steering dose-response, as effect tables."""
    prompts = profile.prompts("causal")
    words = causal_words(words, profile.causal_words_per_category)
    layers = sorted({best, *range(0, rm.n_layers, profile.layer_stride)})
    spread = (
        np.linspace(0, rm.n_layers - 1, profile.random_layers).astype(int).tolist() if profile.random_layers else []
    )
    random_layers = sorted({best, *spread})
    base_vectors = layer_vectors(base_result, rm.n_layers)
    readout = norm_gain(rm) * rm.head.weight.detach().float().cpu()[0]
    orth = {layer: orthogonal_to(v, readout) for layer, v in base_vectors.items()}
    x_best = torch.as_tensor(rm_data.X[:, best])
    conditions = [
        unedited(),
        *ablation_conditions(base_vectors, "base_direction", layers),
        *random_ablations(rm.d_model, rm.n_layers, random_layers, profile.n_random, seed=1000),
        # the controls that separate routes, and the other erasure methods
        *ablation_conditions(orth, "base_orth_head", [best]),
        *ablation_conditions(layer_vectors(rm_result, rm.n_layers), "rm_direction", [best]),
        mean_ablation_condition(base_vectors[best], float((x_best @ base_vectors[best]).mean()), best),
        leace_condition(fit_leace(torch.as_tensor(base_data.X[:, best]), base_data.labels), best),
    ]
    log(f"ablation: {len(conditions)} conditions × {len(prompts)} prompts × {len(words)} words")
    ablation = cached_table(
        folder / "ablation_scores.csv",
        lambda: run_conditions(
            rm, prompts, words, conditions, on_condition=_progress(log, len(conditions), "ablation")
        ),
    )
    scale = float(x_best.norm(dim=1).mean())
    steering_conds = [
        unedited(),
        *steering_conditions(
            base_vectors[best], best, scale, profile.steer_fractions, profile.steer_n_random, rm.d_model, seed=2000
        ),
    ]
    log(f"steering at layer {best}: {len(steering_conds)} conditions (scale {scale:.2f} = mean residual norm)")
    steering = cached_table(
        folder / "steering_scores.csv",
        lambda: run_conditions(
            rm, prompts, words, steering_conds, on_condition=_progress(log, len(steering_conds), "steering")
        ),
    )
    return effects(ablation), effects(steering)


def durability(
    base: ModelHandle,
    base_data: ProbeData,
    rm_dir: Path,
    lexicon: Lexicon,
    words: dict[str, str],
    profile: Profile,
    store: Path,
    best: int,
    base_vector: torch.Tensor,
) -> pd.DataFrame:
    """Per checkpoint: behavioural gap, cosine of its direction with the base's, and the ablation effect."""
    folders = list_checkpoints(rm_dir)
    step = max(1, len(folders) // profile.durability_checkpoints)
    chosen = folders[::step][-profile.durability_checkpoints :]
    if folders[-1] not in chosen:
        chosen.append(folders[-1])
    datas, rows = [base_data], []
    for folder in chosen:
        ckpt = load_checkpoint(folder, base)
        data = probe_data(ckpt, lexicon, profile, store, base_data.lineage_id)
        datas.append(
            ProbeData(
                data.X,
                data.labels,
                data.groups,
                data.model_fingerprint,
                data.lineage_id,
                folder.name,
                data.layers,
                data.point,
                data.position,
                data.inputs_id,
            )
        )
        table = run_conditions(
            ckpt,
            profile.prompts("causal"),
            causal_words(words, profile.causal_words_per_category),
            [unedited(), *ablation_conditions({best: base_vector}, "base_direction", [best], all_layers=False)],
        )
        eff = effects(table, by=())
        rows.append(
            {
                "checkpoint": folder.name,
                "step": int(folder.name.split("-")[-1]),
                "reward_gap": float(table[table.condition == "none"]["reward_gap"].mean()),
                "rank_gap": float(table[table.condition == "none"]["rank_gap"].mean()),
                "ablation_d_reward_gap": float(eff["d_reward_gap"].iloc[0]),
                "ablation_d_reward_gap_lo": float(eff["d_reward_gap_lo"].iloc[0]),
                "ablation_d_reward_gap_hi": float(eff["d_reward_gap_hi"].iloc[0]),
            }
        )
    along = persistence_along(
        datas, PROBE_METHOD, PersistenceConfig(methods=(PROBE_METHOD,), n_null=10), progress=False
    )
    cos = along[along.layer == best].set_index("checkpoint")["cos"]
    out = pd.DataFrame(rows)
    out["cos_base_direction_best_layer"] = out["checkpoint"].map(cos)
    along.to_csv(rm_dir.parent / "persistence_along.csv", index=False)
    return out


def study(
    base_name: str,
    family: str,
    profile: Profile,
    folder: Path,
    store: Path,
    log: Log,
    lexicon: Lexicon | None = None,
) -> dict[str, Any]:
    """Run every step for one lineage; returns the numbers the report and summary.json quote."""
    lexicon = lexicon or default_lexicon()
    words = word_categories(lexicon)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = train(base_name, profile, folder / "rm", log)
    base = load_lm(base_name)
    rm = load_checkpoint(list_checkpoints(folder / "rm")[-1], base)
    lineage = Lineage(base, rm)
    lineage.weight_change().to_csv(folder / "weight_change.csv")
    log("behaviour: lexicon sweep of the RM")
    scores = cached_table(
        folder / "scores.csv",
        lambda: sweep_answers(rm, profile.prompts(), list(words), model=f"{base_name}-rm", progress=False),
    )
    log("probes: capturing base and RM residuals at every layer")
    base_data = probe_data(base, lexicon, profile, store, lineage.lineage_id)
    rm_data = probe_data(rm, lexicon, profile, store, lineage.lineage_id)
    base_probes, rm_probes = (
        fit(base_data, profile, folder / "probes_base"),
        fit(rm_data, profile, folder / "probes_rm"),
    )
    probe_table = pd.concat([base_probes.table.assign(model="base"), rm_probes.table.assign(model="RM")])
    probe_table.to_csv(folder / "probes.csv", index=False)
    persistence = compare(base_data, rm_data, PersistenceConfig(methods=(PROBE_METHOD,), n_null=10), progress=False)
    persistence.save(folder / "persistence")
    best = base_probes.best_layer(PROBE_METHOD)
    direction, contrast = unembedding_direction(base, token_ids(lexicon, base))
    reading = head_reading(rm, direction, contrast)
    ablation, steering = causal(rm, base_probes, rm_probes, base_data, rm_data, words, profile, folder, best, log)
    ablation.to_csv(folder / "ablation_effects.csv", index=False)
    steering.to_csv(folder / "steering_effects.csv", index=False)
    log("durability: checkpoints")
    vector = layer_vectors(base_probes, rm.n_layers)[best]
    dur = cached_table(
        folder / "durability.csv",
        lambda: durability(base, base_data, folder / "rm", lexicon, words, profile, store, best, vector),
    )
    figures = {
        "probe_auc": plot_probe_auc(
            probe_table, folder / "probe_auc.png", method=PROBE_METHOD, title=f"{base_name}: agency vs communion"
        ),
        "transfer": plot_transfer(persistence.directions, folder / "transfer.png", method=PROBE_METHOD),
        "ablation": plot_ablation_by_layer(ablation, folder / "ablation.png", title=Path(base_name).name),
        "steering": plot_steering(steering, folder / "steering.png", title=f"layer {best}"),
        "durability": plot_durability(dur, folder / "durability.png", title=Path(base_name).name),
        "persistence_heatmap": plot_persistence_heatmap(
            pd.read_csv(folder / "persistence_along.csv"), folder / "persistence_heatmap.png", method=PROBE_METHOD
        ),
    }
    return summarise(
        base_name,
        family,
        metrics,
        scores,
        words,
        probe_table,
        persistence.directions,
        ablation,
        best,
        reading,
        lineage,
        figures,
    )


def _gap(scores: pd.DataFrame, words: dict[str, str]) -> dict[str, float]:
    from interp.causal.study import bootstrap_mean, value_gaps

    gaps = value_gaps(scores, words)
    out = {}
    for framing, part in gaps.groupby("framing"):
        lo, hi = bootstrap_mean(part["reward_gap"].to_numpy())
        out[str(framing)] = {"reward_gap": float(part["reward_gap"].mean()), "lo": lo, "hi": hi, "n_prompts": len(part)}
    return out


def summarise(
    base_name: str,
    family: str,
    metrics: dict[str, Any],
    scores: pd.DataFrame,
    words: dict[str, str],
    probes: pd.DataFrame,
    directions: pd.DataFrame,
    ablation: pd.DataFrame,
    best: int,
    reading: dict[str, float],
    lineage: Lineage,
    figures: dict[str, Path],
) -> dict[str, Any]:
    """The numbers quoted in the report, each with where it comes from."""
    base_rows = ablation[ablation.group == "base_direction"]
    band = null_band(ablation, "d_reward_gap", by=("layer", "framing"))
    effect = {}
    for layer in (best, -1):
        rows = base_rows[base_rows.layer == layer].merge(band, on=["layer", "framing"], how="left")
        effect["all_layers" if layer == -1 else f"layer_{layer}"] = rows[
            [
                "framing",
                "gap_before",
                "d_reward_gap",
                "d_reward_gap_lo",
                "d_reward_gap_hi",
                "null_lo",
                "null_hi",
                "shrink",
                "shrink_lo",
                "shrink_hi",
            ]
        ].to_dict(orient="records")
    decodable = probes[(probes.method == PROBE_METHOD) & (probes.auc > probes.null_auc_q95)]
    return {
        "base": base_name,
        "family": family,
        "fingerprints": {"base": lineage.base.fingerprint, "rm": lineage.rm.fingerprint},
        "training": {k: metrics.get(k) for k in ("held_out_accuracy", "steps", "wall_seconds", "peak_rss_mb")},
        "behaviour_gap": _gap(scores, words),
        "best_probe_layer": best,
        "decodable_layers": {m: sorted(int(x) for x in g.layer) for m, g in decodable.groupby("model")},
        "persistence_best_layer": directions[directions.layer == best]
        .iloc[0][["cos", "cos_random_q95", "cos_shuffled_q95", "auc_a_to_b", "transfer_null_q95"]]
        .astype(float)
        .to_dict(),
        "head_reads_unembedding": reading,
        "ablation_base_direction": effect,
        "max_weight_change": float(lineage.weight_change().max()),
        "figures": {k: str(v) for k, v in figures.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--family", default="unknown")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = study(args.base, args.family, get_profile(args.profile), args.out, args.out / "store", print)
    (args.out / "summary.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
