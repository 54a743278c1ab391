"""The lineage's causal step: directions and their matched nulls fitted on the fitting words × probe prompts at
each grid layer; their ablation (beside the nulls) and the steering dose-response at the best layer measured on
held-out words × evaluation prompts for every seed RM; the same edits in the base LM (its twin) beside each claim.
Every measured table is cached in the step's folder."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from interp._util.errors import UserError
from interp.causal.claims import fit_directions
from interp.causal.heldout import disjoint_prompts
from interp.causal.study import EvalSet, ablation_edits, claims_table, measure, steering_edits
from interp.causal.twin import TwinEdit, sign_agreement, twin_table
from interp.models import ModelHandle
from interp.pipeline.seeds import Seeds
from interp.pipeline.tables import Log, cached_measured, cached_table
from interp.render.prompts import Prompt

TWIN_COLUMNS = ["twin_estimate", "twin_low", "twin_high", "twin_n_prompts", "twin_n_words"]


@dataclass(frozen=True)
class FittingSet:
    """What directions are fitted on: the base's readout residuals of the fitting words × probe prompts at every
    layer (`x`: rows × layers × d_model), each row's label (1 = agency) and word, and the base's residuals of the
    placebo's (concrete, abstract) nouns on the same prompts."""

    x: torch.Tensor
    labels: list[int]
    words: list[str]
    placebo: tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class CausalDesign:
    """Where and how much the causal step measures: the grid `layers` (the `best` among them), the fitting and the
    evaluation prompts, the held-out words, the null draws of each kind beside each ablation (`best_null_draws` at
    the best layer), whether every position is edited at every grid layer (else at the best one only), the
    steering doses (each used with both signs) with their null draws, and the bootstrap's size and seed."""

    layers: tuple[int, ...]
    best: int
    fit_prompts: tuple[Prompt, ...]
    eval_prompts: tuple[Prompt, ...]
    held_out: dict[str, str]
    null_draws: dict[str, int]
    best_null_draws: dict[str, int]
    all_positions: bool
    steer_doses: tuple[float, ...]
    steer_null_draws: dict[str, int]
    n_boot: int
    seed: int

    def draws_at(self, layer: int) -> dict[str, int]:
        """The null draws of each kind beside the ablation at `layer`."""
        return self.best_null_draws if layer == self.best else self.null_draws

    @property
    def doses(self) -> list[float]:
        """Every steering dose with both signs, and 0, in increasing order."""
        return sorted({0.0, *self.steer_doses, *(-d for d in self.steer_doses)})


def shown_doses(doses: Iterable[float]) -> list[float]:
    """The steering doses the report tabulates and the base-LM twin repeats: ±1 and ± the largest.

    >>> shown_doses([-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0])
    [-4.0, -1.0, 1.0, 4.0]
    """
    listed = list(doses)
    top = max(map(abs, listed), default=1.0)
    return [d for d in listed if abs(d) in (1.0, top)]


def causal(
    seeds: Seeds, base: ModelHandle, fitting: FittingSet, design: CausalDesign, folder: Path, log: Log
) -> tuple[pd.DataFrame, pd.DataFrame, EvalSet]:
    """Ablation at each grid layer beside the matched nulls, and the steering dose-response at the best layer, on
    held-out words × evaluation prompts for every seed RM: (ablation claims, steering claims, the eval set)."""
    started = time.perf_counter()
    layers, best = list(design.layers), design.best
    log(f"causal: directions and nulls at layers {layers}; the held-out answer grid")
    fitted = {
        layer: fit_directions(
            layer,
            fitting.x[:, layer],
            fitting.labels,
            fitting.words,
            (fitting.placebo[0][:, layer], fitting.placebo[1][:, layer]),
            design.draws_at(layer),
            design.seed + layer,
        )
        for layer in layers
    }
    eval_set = EvalSet(disjoint_prompts(design.fit_prompts, design.eval_prompts), design.held_out)
    answers = list(design.held_out)
    grid = cache(lambda: seeds.grid(list(seeds.rms), [p.text for p in eval_set.prompts], answers, layers))
    everywhere = layers if design.all_positions else [best]
    n = sum(len(f.vectors()[1]) for f in fitted.values())
    log(f"ablation: {n} directions at layers {layers} × {len(seeds.rms)} RMs × {len(eval_set.rows)} held-out answers")
    ablation = cached_measured(
        folder, "ablation", lambda: measure(grid(), eval_set, ablation_edits(fitted, everywhere))
    )
    doses = design.doses
    log(f"steering at layer {best}: {len(doses)} doses in units of the class-mean separation")
    steering = cached_measured(
        folder,
        "steering",
        lambda: measure(grid(), eval_set, steering_edits(fitted[best], doses, design.steer_null_draws)),
    )
    shown = shown_doses(doses)
    log(f"base-LM twin: the same {len(layers)} ablations and steering doses {shown} in {base.name}")
    edits = [TwinEdit("ablate", layer, found.direction) for layer, found in fitted.items()]
    edits += [TwinEdit("steer", best, fitted[best].direction, d * fitted[best].separation, d) for d in shown]
    try:
        twin = cached_table(
            folder / "twin.csv",
            lambda: twin_table(base, edits, eval_set.prompts, design.held_out, design.n_boot, design.seed),
        )
    except UserError as err:  # e.g. no held-out word of a category is one token for this tokenizer
        log(f"base-LM twin not measured: {err}")
        twin = pd.DataFrame(columns=["layer", "edit", "dose", "framing", *TWIN_COLUMNS])
    log(f"causal step: {time.perf_counter() - started:.0f} s")
    steer = claims_table(steering, eval_set, design.seed, design.n_boot).assign(separation=fitted[best].separation)
    ablate = claims_table(ablation, eval_set, design.seed, design.n_boot)
    return with_twin(ablate, twin), with_twin(steer, twin), eval_set


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
