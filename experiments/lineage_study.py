"""One lineage, end to end: seed RMs trained from a base on neutral data, then behaviour, probes, persistence,
unembedding, and the causal study on held-out data (ablation beside matched nulls, steering), with durability
along a checkpointed run where the profile asks for it. Every step writes its tables under the lineage folder
and is skipped when they are already there (reruns reuse the trained RMs).

The unit of every causal claim is the RM: `n_seeds` RMs train their top `k_layers` and head from one cached
pass of the frozen layers (`CachedTrainer`); seed 0 is the lineage's RM for behaviour, probes and persistence.
Probes, directions, their nulls and the best layer use the fitting words × the probe prompts only; the causal
effects are measured on held-out words × evaluation prompts (`interp.causal.heldout`, `interp.causal.study`).

    python -m experiments.lineage_study --base smollm2-135m-instruct --family llama --out artifacts/one
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from experiments.profiles import Profile, get_profile
from interp._util.errors import UserError
from interp.causal.claims import fit_directions
from interp.causal.gap_paths import gap_by_component, gap_patching, per_rm_summary
from interp.causal.grid import AnswerGrid
from interp.causal.heldout import disjoint_prompts, split_words
from interp.causal.nulls import PLACEBO_WORDS
from interp.causal.plots import plot_ablation_by_layer, plot_durability, plot_gap_paths, plot_steering
from interp.causal.study import EvalSet, Measured, ablation_edits, claims_table, measure, steering_edits, value_gaps
from interp.causal.twin import TwinEdit, sign_agreement, twin_table
from interp.lexicons.matching import match_lexicon
from interp.lexicons.readers import Lexicon, default_lexicon
from interp.models import ModelHandle, load_lm, rm_from_base
from interp.models.lineage import Lineage
from interp.stats.bootstrap import mean_interval
from interp.sweep.answers import sweep_answers
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.cached_rm import CachedTrainer
from interp.training.checkpoints import TRAINABLE, checkpoint_step, list_checkpoints
from interp.training.neutral import neutral_pairs
from interp.training.trainable import Prepared, load_trainable, prepare, trainable_state
from probes.collect import collect
from probes.controls import COVARIATES, lexical_covariates
from probes.data import ProbeData
from probes.fit import ProbeConfig, ProbeResult, fit_probes
from probes.frames import build_inputs
from probes.persistence import PersistenceConfig, compare, persistence_along
from probes.plots import plot_persistence_heatmap, plot_probe_auc, plot_transfer
from probes.unembedding import head_reading, reading_against_null, shuffled_contrasts, unembedding_direction

Log = Callable[[str], None]
PROBE_METHOD = "diff_means"
Weights = dict[str, torch.Tensor]


def cached_table(path: Path, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read `path` if it exists, else compute, write and return the table."""
    if path.exists():
        return pd.read_csv(path)
    table = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return table


def word_categories(lexicon: Lexicon) -> dict[str, str]:
    """word -> category for the agency/communion words (a word in both is dropped)."""
    entries = lexicon.entries()
    entries = entries[entries["category"].isin(["agency", "communion"])].drop_duplicates("word", keep=False)
    return dict(zip(entries["word"], entries["category"], strict=True))


def probe_data(handle: ModelHandle, lexicon: Lexicon, profile: Profile, store: Path, lineage_id: str) -> ProbeData:
    """Readout residuals at every layer of the answer-view probe inputs (through the store)."""
    inputs = build_inputs(handle.tokenizer, lexicon, "answer", profile.prompts("probe"))
    return collect(handle, inputs, range(handle.n_layers), store, lineage_id=lineage_id, progress=False)


class Seeds:
    """The lineage's RMs as trainable weights in one RM handle: `base` (the untrained top layers) and seed0..."""

    def __init__(self, base: str, profile: Profile, folder: Path, log: Log) -> None:
        self.handle = rm_from_base(base, seed=profile.seed)
        self.start = self.handle.n_layers - profile.k_layers
        files = [folder / f"seed{i}.safetensors" for i in range(profile.n_seeds)]
        metrics = folder / "metrics.json"
        recipe = {k: getattr(profile, k) for k in ("train_pairs", "train_epochs", "train_lr", "batch_size", "k_layers")}
        recipe["seed"] = profile.seed
        saved = json.loads(metrics.read_text()) if metrics.exists() else {}
        if saved.get("recipe") == recipe and all(f.exists() for f in files):
            self.prepared: Prepared = prepare(self.handle, "last-k", profile.k_layers)
            self.weights = {"base": trainable_state(self.prepared)}
            self.weights |= {f"seed{i}": load_file(f) for i, f in enumerate(files)}
            self.metrics: dict[str, Any] = saved
            return
        log(f"training {profile.n_seeds} seed RMs from {base} on {profile.train_pairs} neutral pairs")
        started = time.perf_counter()
        pairs = neutral_pairs(profile.train_pairs, seed=profile.seed)
        trainer = CachedTrainer(self.handle, pairs, k=profile.k_layers, batch_size=profile.batch_size)
        self.prepared, self.weights = trainer.prepared, {"base": dict(trainer.initial)}
        rows = []
        folder.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(files):
            rm = trainer.train(profile.seed + i, "fit", epochs=profile.train_epochs, lr=profile.train_lr)
            self.weights[f"seed{i}"] = rm.weights
            save_file({k: v.contiguous() for k, v in rm.weights.items()}, str(path))
            rows.append(
                {
                    "seed": rm.seed,
                    "held_out_accuracy": rm.held_out_accuracy,
                    "frozen_head_accuracy": rm.frozen_head_accuracy,
                    "held_out_pairs": rm.held_out_pairs,
                }
            )
            log(f"  seed {rm.seed}: held-out accuracy {rm.held_out_accuracy:.3f}")
        self.metrics = {
            "recipe": recipe,
            "seeds": rows,
            "held_out_accuracy": float(np.mean([r["held_out_accuracy"] for r in rows])),
            "train_pairs": len(trainer.tokens),
            "k_layers": profile.k_layers,
            "epochs": profile.train_epochs,
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        metrics.write_text(json.dumps(self.metrics, indent=2))

    @property
    def rms(self) -> dict[str, Weights]:
        return {k: v for k, v in self.weights.items() if k != "base"}

    def rm(self, name: str = "seed0") -> ModelHandle:
        """The handle holding RM `name`, with a fingerprint of those weights."""
        load_trainable(self.prepared, self.weights[name], name)
        handle = replace(self.handle, _fingerprint=None)
        _ = handle.fingerprint  # now, while these weights are in: the grids load others into the same model
        return handle

    def grid(
        self, names: Sequence[str], prompts: Sequence[str], answers: Sequence[str], layers: Sequence[int] = ()
    ) -> AnswerGrid:
        """An answer grid of these prompts × answers scored by the named RMs."""
        return AnswerGrid(
            self.handle, self.prepared, {n: self.weights[n] for n in names}, self.start, prompts, answers, layers
        )


def fitting_data(
    seeds: Seeds, fitting: dict[str, str], profile: Profile, lineage_id: str
) -> tuple[dict[str, ProbeData], dict[str, torch.Tensor], torch.Tensor]:
    """Probe data of the base and seed 0 on fitting words × probe prompts (every layer's readout residual), and
    the base's residuals of the placebo's concrete and abstract nouns on the same prompts."""
    prompts = profile.prompts("probe")
    concrete, abstract = PLACEBO_WORDS
    answers = [*fitting, *concrete, *abstract]
    grid = seeds.grid(["base", "seed0"], [p.text for p in prompts], answers)
    words = pd.Series([word for _, word in grid.rows])
    lexical = torch.from_numpy(words.isin(list(fitting)).to_numpy().copy())
    digest = hashlib.sha256(repr([p.key for p in prompts] + list(fitting.items())).encode()).hexdigest()[:16]
    x = {name: grid.residuals(name) for name in ("base", "seed0")}
    kept = words[lexical.numpy()].to_numpy()
    covariates = lexical_covariates(seeds.handle.tokenizer, kept.tolist())
    datas = {
        model: ProbeData(
            x[name][lexical].numpy(),
            (pd.Series(kept).map(fitting) == "agency").astype(int).to_numpy(),
            kept,
            f"{lineage_id}:{name}",
            lineage_id=lineage_id,
            model_name=model,
            inputs_id=f"fitting-{digest}",
            covariates=covariates,
            covariate_names=COVARIATES,
        )
        for name, model in (("base", "base"), ("seed0", "RM"))
    }
    placebo = {
        "concrete": x["base"][torch.from_numpy(words.isin(concrete).to_numpy().copy())],
        "abstract": x["base"][torch.from_numpy(words.isin(abstract).to_numpy().copy())],
    }
    return datas, placebo, x["base"][lexical]


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


def grid_layers(n_layers: int, profile: Profile, best: int) -> list[int]:
    """The ablation grid: `ablation_layers` layers spread evenly (every second one when None), the last and the best.

    >>> grid_layers(30, get_profile("quick"), 13)
    [0, 10, 13, 19, 29]
    """
    if profile.ablation_layers is None:
        spread = list(range(0, n_layers, 2))
    else:
        spread = np.linspace(0, n_layers - 1, profile.ablation_layers).round().astype(int).tolist()
    return sorted({*spread, n_layers - 1, best})


def token_ids(lexicon: Lexicon, handle: ModelHandle) -> dict[str, list[list[int]]]:
    """Per category, per word, the ids of the word's single-token variants."""
    table = match_lexicon(lexicon, handle.tokenizer).table
    single = table[table["single_token"]]
    out: dict[str, list[list[int]]] = {}
    for (category, _word), group in single.groupby(["category", "word"]):
        out.setdefault(str(category), []).append([int(ids[0]) for ids in group["token_ids"]])
    return out


def _measured(folder: Path, stem: str, make: Callable[[], Measured]) -> Measured:
    """A `Measured` read from `folder/<stem>_{changes,rows,gaps}.csv`, or made and written there."""
    paths = [folder / f"{stem}_{part}.csv" for part in ("changes", "rows", "gaps")]
    if all(p.exists() for p in paths):
        return Measured(*(pd.read_csv(p) for p in paths))
    found = make()
    for path, table in zip(paths, (found.changes, found.rows, found.gap_before), strict=True):
        table.to_csv(path, index=False)
    return found


def causal(
    seeds: Seeds,
    base: ModelHandle,
    x_fit: torch.Tensor,
    fit_data: ProbeData,
    placebo: dict[str, torch.Tensor],
    held_out: dict[str, str],
    profile: Profile,
    folder: Path,
    best: int,
    log: Log,
) -> tuple[pd.DataFrame, pd.DataFrame, EvalSet]:
    """Ablation at each grid layer beside the matched nulls, and the steering dose-response at the best layer, on
    held-out words × evaluation prompts for every seed RM: (ablation claims, steering claims, the eval set)."""
    started = time.perf_counter()
    layers = grid_layers(seeds.handle.n_layers, profile, best)
    log(f"causal: directions and nulls at layers {layers}; the held-out answer grid")
    fitted = {
        layer: fit_directions(
            layer,
            x_fit[:, layer],
            fit_data.labels.tolist(),
            fit_data.groups.tolist(),
            (placebo["concrete"][:, layer], placebo["abstract"][:, layer]),
            profile.draws_at(layer, best),
            profile.seed + layer,
        )
        for layer in layers
    }
    eval_set = EvalSet(disjoint_prompts(profile.prompts("probe"), profile.prompts("eval")), held_out)
    grid = cache(lambda: seeds.grid(list(seeds.rms), [p.text for p in eval_set.prompts], list(held_out), layers))
    everywhere = layers if profile.all_positions_grid else [best]
    n = sum(len(f.vectors()[1]) for f in fitted.values())
    log(f"ablation: {n} directions at layers {layers} × {len(seeds.rms)} RMs × {len(eval_set.rows)} held-out answers")
    ablation = _measured(folder, "ablation", lambda: measure(grid(), eval_set, ablation_edits(fitted, everywhere)))
    doses = sorted({0.0, *profile.steer_doses, *(-d for d in profile.steer_doses)})
    log(f"steering at layer {best}: {len(doses)} doses in units of the class-mean separation")
    steering = _measured(
        folder,
        "steering",
        lambda: measure(grid(), eval_set, steering_edits(fitted[best], doses, dict(profile.steer_null_draws))),
    )
    log(f"base-LM twin: the same {len(layers)} ablations and {len(doses)} steering doses in {base.name}")
    edits = [TwinEdit("ablate", layer, found.direction) for layer, found in fitted.items()]
    edits += [TwinEdit("steer", best, fitted[best].direction, d * fitted[best].separation, d) for d in doses]
    try:
        twin = cached_table(
            folder / "twin.csv",
            lambda: twin_table(base, edits, eval_set.prompts, held_out, profile.n_boot, profile.seed),
        )
    except UserError as err:  # e.g. no held-out word of a category is one token for this tokenizer
        log(f"base-LM twin not measured: {err}")
        twin = pd.DataFrame(columns=["layer", "edit", "dose", "framing", *TWIN_COLUMNS])
    log(f"causal step: {time.perf_counter() - started:.0f} s")
    steer = claims_table(steering, eval_set, profile.seed, profile.n_boot).assign(separation=fitted[best].separation)
    ablate = claims_table(ablation, eval_set, profile.seed, profile.n_boot)
    return with_twin(ablate, twin), with_twin(steer, twin), eval_set


TWIN_COLUMNS = ["twin_estimate", "twin_low", "twin_high", "twin_n_prompts", "twin_n_words"]


def with_twin(claims: pd.DataFrame, twin: pd.DataFrame) -> pd.DataFrame:
    """The claims with their base-LM twin beside (edits after the prompt only) and the agreement of sign."""
    keys = ["layer", "edit", "dose", "framing"]
    out = claims.merge(twin.astype({"layer": int, "dose": float}), on=keys, how="left")
    out.loc[out["positions"] != "answer", TWIN_COLUMNS] = np.nan
    interval = out["ci_low"].notna() & out["twin_low"].notna()
    out["twin_agreement"] = [
        sign_agreement((r.ci_low, r.ci_high), (r.twin_low, r.twin_high)) if ok else ""
        for r, ok in zip(out.itertuples(), interval, strict=True)
    ]
    return out


def gap_paths(
    seeds: Seeds, base: ModelHandle, eval_set: EvalSet, folder: Path, log: Log
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per seed RM on the evaluation set: the gap's direct attribution by component and the change of the gap when
    each trained layer's readout residual is patched from the base; returned as means over RMs with CIs."""
    top = list(range(seeds.start, seeds.handle.n_layers))
    log(f"where the gap forms: attribution by component and patching base → RM at layers {top}, {len(seeds.rms)} RMs")
    attribution = cached_table(
        folder / "attribution.csv", lambda: gap_by_component(((n, seeds.rm(n)) for n in seeds.rms), eval_set)
    )
    patching = cached_table(
        folder / "patching.csv", lambda: gap_patching(((n, seeds.rm(n)) for n in seeds.rms), base, eval_set, top)
    )
    gaps = patching.groupby(["layer", "framing"], sort=False)["gap"].mean().rename("gap")
    return (
        per_rm_summary(attribution, ["framing", "component", "order"], "cumulative"),
        per_rm_summary(patching, ["layer", "framing"], "d_reward_gap").join(gaps, on=["layer", "framing"]),
    )


def durability(
    base_name: str,
    seeds: Seeds,
    profile: Profile,
    folder: Path,
    fitting: dict[str, str],
    eval_set: EvalSet,
    best: int,
    direction: torch.Tensor,
    base_data: ProbeData,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Along a checkpointed training run (`train_rm` on the same pairs; steps and checkpoints from the profile):
    per checkpoint the behavioural gap on the evaluation set, the cosine of its direction with the base's at the
    best layer, and the base direction's ablation effect there; and the layer × checkpoint persistence table."""
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
    train_rm(config, neutral_pairs(profile.train_pairs, seed=profile.seed), resume=True, progress=False)
    chosen = list_checkpoints(folder)
    chosen = chosen[:: max(1, len(chosen) // profile.durability_checkpoints)][-profile.durability_checkpoints :]
    if list_checkpoints(folder)[-1] not in chosen:
        chosen.append(list_checkpoints(folder)[-1])
    names = [c.name for c in chosen]
    for c in chosen:
        seeds.weights[c.name] = load_file(c / TRAINABLE)
    grid = seeds.grid(names, [p.text for p in eval_set.prompts], list(eval_set.words), [best])
    scores = grid.unedited()
    ablated = grid.scores(best, "ablate", direction[None])[:, 0]
    weights = eval_set.weights().mean(axis=1).to_numpy()  # both framings' gaps, averaged
    fit_grid = seeds.grid(names, [p.text for p in profile.prompts("probe")], list(fitting))
    datas, rows = [base_data], []
    for i, c in enumerate(chosen):
        x = fit_grid.residuals(c.name).numpy()
        datas.append(replace(base_data, X=x, model_fingerprint=f"{base_data.lineage_id}:{c.name}", model_name=c.name))
        rows.append(
            {
                "checkpoint": c.name,
                "step": checkpoint_step(c),
                "reward_gap": float(scores[i] @ weights),
                "ablation_d_reward_gap": float((ablated[i] - scores[i]) @ weights),
            }
        )
    along = persistence_along(
        datas, PROBE_METHOD, PersistenceConfig(methods=(PROBE_METHOD,), n_null=10), progress=False
    )
    cos = along[along.layer == best].set_index("checkpoint")["cos"]
    out = pd.DataFrame(rows)
    out["cos_base_direction_best_layer"] = out["checkpoint"].map(cos)
    return out, along


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
    seeds = Seeds(base_name, profile, folder / "rm", log)
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
    ids = token_ids(lexicon, base)
    direction, contrast = unembedding_direction(base, ids)
    reading: dict[str, Any] = head_reading(rm, direction, contrast)
    heads = [seeds.rm(name).head.weight.detach().float().cpu()[0].clone() for name in seeds.rms]
    reading["seeds"] = reading_against_null(contrast, shuffled_contrasts(base, ids, 200, profile.seed), heads)
    rm = seeds.rm("seed0")
    log(f"probes: base and RM residuals on {len(fitting)} fitting words × {len(profile.prompts('probe'))} prompts")
    datas, placebo, x_fit = fitting_data(seeds, fitting, profile, lineage.lineage_id)
    log("probes: fitting base and RM probes (the RM's frozen layers are the base's, bit for bit)")
    base_probes = fit(datas["base"], profile, folder / "probes_base")
    top = list(range(seeds.start, seeds.handle.n_layers))
    rm_probes = fit(replace(datas["RM"], X=datas["RM"].X[:, top], layers=tuple(top)), profile, folder / "probes_rm")
    frozen = base_probes.table[base_probes.table.layer < seeds.start]
    probe_table = pd.concat(
        [base_probes.table.assign(model="base"), frozen.assign(model="RM"), rm_probes.table.assign(model="RM")]
    )
    probe_table.to_csv(folder / "probes.csv", index=False)
    log("persistence: base vs RM")
    persistence = compare(
        datas["base"], datas["RM"], PersistenceConfig(methods=(PROBE_METHOD,), n_null=10), progress=False
    )
    persistence.save(folder / "persistence")
    best = base_probes.best_layer(PROBE_METHOD)
    ablation, steering, eval_set = causal(
        seeds, base, x_fit, datas["base"], placebo, held_out, profile, folder, best, log
    )
    ablation.to_csv(folder / "ablation_claims.csv", index=False)
    steering.to_csv(folder / "steering_claims.csv", index=False)
    paths = gap_paths(seeds, base, eval_set, folder, log)
    figures = {
        "probe_auc": plot_probe_auc(
            probe_table, folder / "probe_auc.png", method=PROBE_METHOD, title=f"{base_name}: agency vs communion"
        ),
        "transfer": plot_transfer(persistence.directions, folder / "transfer.png", method=PROBE_METHOD),
        "ablation": plot_ablation_by_layer(ablation, folder / "ablation.png", title=Path(base_name).name),
        "steering": plot_steering(steering, folder / "steering.png", title=f"{Path(base_name).name}, layer {best}"),
        "gap_paths": plot_gap_paths(*paths, folder / "gap_paths.png", title=Path(base_name).name),
    }
    if profile.durability:
        log("durability: a checkpointed training run")
        unit = torch.as_tensor(datas["base"].layer(best))
        direction_best = unit[datas["base"].labels == 1].mean(0) - unit[datas["base"].labels == 0].mean(0)
        dur, along = durability(
            base_name, seeds, profile, folder / "checkpointed", fitting, eval_set, best, direction_best, datas["base"]
        )
        dur.to_csv(folder / "durability.csv", index=False)
        along.to_csv(folder / "persistence_along.csv", index=False)
        figures["durability"] = plot_durability(dur, folder / "durability.png", title=Path(base_name).name)
        figures["persistence_heatmap"] = plot_persistence_heatmap(
            along, folder / "persistence_heatmap.png", method=PROBE_METHOD
        )
    return summarise(
        base_name,
        family,
        seeds.metrics,
        scores,
        words,
        probe_table,
        persistence.directions,
        ablation,
        steering,
        best,
        reading,
        lineage,
        float(change.max()),
        figures,
        len(fitting),
        profile,
        paths,
        seeds.start,
    )


def _gap(scores: pd.DataFrame, words: dict[str, str]) -> dict[str, Any]:
    gaps = value_gaps(scores, words)
    out: dict[str, Any] = {}
    for framing, part in gaps.groupby("framing"):
        lo, hi = mean_interval(part["reward_gap"].to_numpy())
        out[str(framing)] = {"reward_gap": float(part["reward_gap"].mean()), "lo": lo, "hi": hi, "n_prompts": len(part)}
    return out


def effect_records(claims: pd.DataFrame) -> list[dict[str, Any]]:
    """summary.json's effects: per claim its estimate, CIs, each null by name, verdict and sizes."""
    out = []
    for row in claims.to_dict(orient="records"):
        nulls = {
            kind: {"band_low": row[f"{kind}_low"], "band_high": row[f"{kind}_high"], "n": int(row[f"{kind}_n"])}
            for kind in ("shuffled_label", "covariance_matched", "isotropic", "placebo")
            if row[f"{kind}_n"]
        }
        out.append(
            {
                "effect": f"{row['edit']}@L{row['layer']}"
                + (f"×{row['dose']:+g}sep" if row["edit"] == "steer" else "")
                + f" ({row['positions']} positions, {row['framing']} prompts)",
                **{k: row[k] for k in ("layer", "edit", "dose", "positions", "framing")},
                **{k: row[k] for k in ("estimate", "ci_low", "ci_high", "boot_low", "boot_high", "gap_before")},
                "nulls": nulls,
                "survives": bool(row["survives"]),
                **{k: int(row[k]) for k in ("n_seeds", "n_eval_words", "n_eval_prompts")},
                "twin": None
                if pd.isna(row.get("twin_estimate"))
                else {
                    "estimate": row["twin_estimate"],
                    "ci_low": row["twin_low"],
                    "ci_high": row["twin_high"],
                    "n_prompts": int(row["twin_n_prompts"]),
                    "n_words": int(row["twin_n_words"]),
                    "agreement": row["twin_agreement"] or None,
                },
            }
        )
    return out


def gap_paths_record(attribution: pd.DataFrame, patching: pd.DataFrame, first_trained: int) -> dict[str, Any]:
    """summary.json's patching and attribution: per framing the gap the frozen (inherited) layers' components
    write directly, the total, and per trained layer the change when the base's readout residual is patched in."""
    columns = ["estimate", "ci_low", "ci_high", "n_rms"]
    last_frozen = attribution[attribution.component == f"mlp{first_trained - 1}"]
    total = attribution[attribution.order == attribution.order.max()]
    return {
        "unit": "RM (seed)",
        "test": "t 95% CI over seed RMs",
        "first_trained_layer": first_trained,
        "written_by_frozen_layers": last_frozen.set_index("framing")[columns].to_dict(orient="index"),
        "total_gap": total.set_index("framing")[columns].to_dict(orient="index"),
        "patching": patching.to_dict(orient="records"),
    }


def summarise(
    base_name: str,
    family: str,
    metrics: dict[str, Any],
    scores: pd.DataFrame,
    words: dict[str, str],
    probes: pd.DataFrame,
    directions: pd.DataFrame,
    ablation: pd.DataFrame,
    steering: pd.DataFrame,
    best: int,
    reading: dict[str, Any],
    lineage: Lineage,
    max_weight_change: float,
    figures: dict[str, Path],
    n_fitting: int,
    profile: Profile,
    paths: tuple[pd.DataFrame, pd.DataFrame],
    first_trained: int,
) -> dict[str, Any]:
    """The numbers quoted in the report, each with where it comes from."""
    decodable = probes[(probes.method == PROBE_METHOD) & (probes.auc > probes.null_auc_q95)]
    return {
        "base": base_name,
        "family": family,
        "fingerprints": {"base": lineage.base.fingerprint, "rm": lineage.rm.fingerprint},
        "training": metrics,
        "behaviour_gap": _gap(scores, words),
        "best_probe_layer": best,
        "decodable_layers": {m: sorted(int(x) for x in g.layer) for m, g in decodable.groupby("model")},
        "persistence_best_layer": directions[directions.layer == best]
        .iloc[0][["cos", "cos_random_q95", "cos_shuffled_q95", "auc_a_to_b", "transfer_null_q95"]]
        .astype(float)
        .to_dict(),
        "head_reads_unembedding": reading,
        "causal": {
            "unit": "RM (seed)",
            "test": "paired t 95% CI over seed RMs; beside it a two-way bootstrap over held-out words (within "
            "category) × evaluation prompts of the RM-mean change",
            "measure": "change of the reward gap (mean agency − mean communion reward, averaged over the framing's "
            "prompts), in reward units",
            "null_band": "central 95% of the same change over (RM, draw) per null kind; survives = CI outside "
            "every band",
            "n_seeds": int(ablation["n_seeds"].max()),
            "n_fitting_words": n_fitting,
            "n_eval_words": int(ablation["n_eval_words"].max()),
            "n_eval_prompts": len(profile.prompts("eval")),  # each effect: those of its framing
            "null_draws": profile.draws_at(-1, best),
            "null_draws_best_layer": profile.draws_at(best, best),
            "fitting_prompts": [p.key for p in profile.prompts("probe")],
            "eval_prompts": [p.key for p in profile.prompts("eval")],
            "ablation": effect_records(ablation),
            "steering": effect_records(steering),
            "steering_unit": f"dose × class-mean separation at layer {best} "
            f"({float(steering['separation'].iloc[0]):.3g} residual units)",
        },
        "gap_paths": gap_paths_record(*paths, first_trained),
        "max_weight_change": max_weight_change,
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
