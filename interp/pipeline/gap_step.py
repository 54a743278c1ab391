"""Where the reward gap forms, per seed RM on the evaluation set: its direct attribution by component, and its
change when each trained layer's readout residual is patched from the base (tables cached in the step's folder)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from interp.causal.gap_paths import gap_by_component, gap_patching, per_rm_summary
from interp.causal.study import EvalSet
from interp.models import ModelHandle
from interp.pipeline.seeds import Seeds
from interp.pipeline.tables import Log, cached_table


def gap_paths(
    seeds: Seeds, base: ModelHandle, eval_set: EvalSet, folder: Path, log: Log, patch: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Per seed RM on the evaluation set: the gap's direct attribution by component and (`patch`) the change of the
    gap when each trained layer's readout residual is patched from the base; returned as means over RMs with CIs
    (None for patching when it was not asked for)."""
    top = seeds.trained_layers
    also = f" and patching base → RM at layers {top}" if patch else ""
    log(f"where the gap forms: attribution by component{also}, {len(seeds.rms)} RMs")
    attribution = cached_table(
        folder / "attribution.csv", lambda: gap_by_component(((n, seeds.rm(n)) for n in seeds.rms), eval_set)
    )
    built = per_rm_summary(attribution, ["framing", "component", "order"], "cumulative")
    if not patch:
        return built, None
    patching = cached_table(
        folder / "patching.csv", lambda: gap_patching(((n, seeds.rm(n)) for n in seeds.rms), base, eval_set, top)
    )
    gaps = patching.groupby(["layer", "framing"], sort=False)["gap"].mean().rename("gap")
    return built, per_rm_summary(patching, ["layer", "framing"], "d_reward_gap").join(gaps, on=["layer", "framing"])
