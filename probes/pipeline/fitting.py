"""The lineage's probe data and probes: readout residuals of the base and seed 0 on the fitting words × probe
prompts (with the placebo nouns' residuals the causal step's nulls need), and probes fitted on them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from interp.causal.nulls import PLACEBO_WORDS
from interp.pipeline.causal_step import FittingSet
from interp.pipeline.seeds import Seeds
from interp.render.prompts import Prompt
from probes.controls import COVARIATES, lexical_covariates
from probes.data import ProbeData
from probes.fit import ProbeConfig, ProbeResult, fit_probes

PROBE_METHOD = "diff_means"  # the probe whose directions the study follows (persistence, durability, claims)


def fitting_data(
    seeds: Seeds, fitting: dict[str, str], prompts: Sequence[Prompt], lineage_id: str
) -> tuple[dict[str, ProbeData], FittingSet]:
    """Probe data of the base and seed 0 (keys `base`, `RM`) on fitting words × probe prompts (every layer's
    readout residual), and the base's residuals as the causal step fits on them, with the placebo nouns'."""
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
    placebo = tuple(x["base"][torch.from_numpy(words.isin(nouns).to_numpy().copy())] for nouns in PLACEBO_WORDS)
    base = datas["base"]
    return datas, FittingSet(x["base"][lexical], base.labels.tolist(), base.groups.tolist(), (placebo[0], placebo[1]))


def lineage_probes(
    datas: dict[str, ProbeData], trained: Sequence[int], folder: Path, n_perm: int, n_boot: int, seed: int
) -> tuple[ProbeResult, pd.DataFrame]:
    """Difference-of-means and logistic probes of the base at every layer and of the RM at its `trained` layers
    (below them the RM's layers are the base's, bit for bit, so the base's rows stand for the RM's there), saved
    under `folder`/probes_base and probes_rm: (the base's result, one table of both with a `model` column)."""
    config = ProbeConfig(methods=("diff_means", "logistic"), n_perm=n_perm, n_boot=n_boot, seed=seed)
    base = fit_probes(datas["base"], config, progress=False)
    base.save(folder / "probes_base")
    top = list(trained)
    rm = fit_probes(replace(datas["RM"], X=datas["RM"].X[:, top], layers=tuple(top)), config, progress=False)
    rm.save(folder / "probes_rm")
    frozen = base.table[base.table.layer < top[0]]
    table = pd.concat([base.table.assign(model="base"), frozen.assign(model="RM"), rm.table.assign(model="RM")])
    return base, table
