"""Durability along a checkpointed training run of the lineage's RM: per checkpoint the behavioural gap on the
evaluation set, the base direction's ablation effect and its cosine with the checkpoint's own direction at the best
layer; and the layer × checkpoint persistence table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file

from interp.causal.study import EvalSet
from interp.pipeline.seeds import Seeds
from interp.render.prompts import Prompt
from interp.training import TrainConfig, train_rm
from interp.training.checkpoints import TRAINABLE, checkpoint_step, list_checkpoints
from interp.training.neutral import neutral_pairs
from probes.data import ProbeData
from probes.persistence import PersistenceConfig, persistence_along
from probes.pipeline.fitting import PROBE_METHOD


@dataclass(frozen=True)
class CheckpointedRun:
    """`train_rm` with `config` (checkpoints in `config.out`) on `n_pairs` neutral pairs drawn with its seed; the
    panel follows `n_checkpoints` checkpoints spread evenly over the run, and always the last."""

    config: TrainConfig
    n_pairs: int
    n_checkpoints: int

    def checkpoints(self) -> list[Path]:
        """Train (resuming a run already there) and choose the checkpoints the panel follows."""
        train_rm(self.config, neutral_pairs(self.n_pairs, seed=self.config.seed), resume=True, progress=False)
        every = list_checkpoints(Path(self.config.out))
        chosen = every[:: max(1, len(every) // self.n_checkpoints)][-self.n_checkpoints :]
        return chosen if every[-1] in chosen else [*chosen, every[-1]]


def durability_panel(
    seeds: Seeds,
    run: CheckpointedRun,
    base_data: ProbeData,
    fit_prompts: Sequence[Prompt],
    fitting: dict[str, str],
    eval_set: EvalSet,
    best: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per checkpoint of `run`: the behavioural gap on the evaluation set, the ablation effect there of the base's
    difference-of-means direction at the `best` layer (fitted on `base_data`), and the cosine of the checkpoint's
    direction with the base's at that layer (refitted on `fitting` words × `fit_prompts`); and the layer ×
    checkpoint persistence table."""
    unit = torch.as_tensor(base_data.layer(best))
    direction = unit[base_data.labels == 1].mean(0) - unit[base_data.labels == 0].mean(0)
    chosen = run.checkpoints()
    names = [c.name for c in chosen]
    for c in chosen:
        seeds.weights[c.name] = load_file(c / TRAINABLE)
    grid = seeds.grid(names, [p.text for p in eval_set.prompts], list(eval_set.words), [best])
    scores = grid.unedited()
    ablated = grid.scores(best, "ablate", direction[None])[:, 0]
    weights = eval_set.weights().mean(axis=1).to_numpy()  # both framings' gaps, averaged
    fit_grid = seeds.grid(names, [p.text for p in fit_prompts], list(fitting))
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
