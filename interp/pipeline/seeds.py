"""The lineage's seed RMs: `n_seeds` RMs train their top `k_layers` and head from one cached pass of the frozen
layers (`CachedTrainer`), are saved under the lineage folder with their metrics, and live as trainable weights
swapped into one RM handle. A folder whose recipe matches is reused instead of trained again."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from interp.causal.grid import AnswerGrid
from interp.models import ModelHandle, rm_from_base
from interp.pipeline.tables import Log
from interp.training.cached_rm import CachedTrainer
from interp.training.neutral import neutral_pairs
from interp.training.trainable import Prepared, load_trainable, prepare, trainable_state

Weights = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SeedRecipe:
    """How the seed RMs are trained: `n_seeds` RMs (seeds `seed`, `seed + 1`, ...) on `train_pairs` neutral pairs,
    each training its top `k_layers` and head for `train_epochs` at `train_lr`.

    >>> SeedRecipe(train_pairs=64, train_epochs=1, train_lr=3e-4, batch_size=4, k_layers=1, seed=0, n_seeds=2).saved()
    {'train_pairs': 64, 'train_epochs': 1, 'train_lr': 0.0003, 'batch_size': 4, 'k_layers': 1, 'seed': 0}
    """

    train_pairs: int
    train_epochs: int
    train_lr: float
    batch_size: int
    k_layers: int
    seed: int
    n_seeds: int

    def saved(self) -> dict[str, Any]:
        """The recipe as metrics.json records it: a folder trained to another recipe is trained again."""
        return {k: v for k, v in asdict(self).items() if k != "n_seeds"}


class Seeds:
    """The lineage's RMs as trainable weights in one RM handle: `base` (the untrained top layers) and seed0..."""

    def __init__(self, base: str, recipe: SeedRecipe, folder: Path, log: Log) -> None:
        self.handle = rm_from_base(base, seed=recipe.seed)
        self.start = self.handle.n_layers - recipe.k_layers
        files = [folder / f"seed{i}.safetensors" for i in range(recipe.n_seeds)]
        metrics = folder / "metrics.json"
        saved = json.loads(metrics.read_text()) if metrics.exists() else {}
        if saved.get("recipe") == recipe.saved() and all(f.exists() for f in files):
            self.prepared: Prepared = prepare(self.handle, "last-k", recipe.k_layers)
            self.weights = {"base": trainable_state(self.prepared)}
            self.weights |= {f"seed{i}": load_file(f) for i, f in enumerate(files)}
            self.metrics: dict[str, Any] = saved
            return
        log(f"training {recipe.n_seeds} seed RMs from {base} on {recipe.train_pairs} neutral pairs")
        started = time.perf_counter()
        pairs = neutral_pairs(recipe.train_pairs, seed=recipe.seed)
        trainer = CachedTrainer(self.handle, pairs, k=recipe.k_layers, batch_size=recipe.batch_size)
        self.prepared, self.weights = trainer.prepared, {"base": dict(trainer.initial)}
        rows = []
        folder.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(files):
            rm = trainer.train(recipe.seed + i, "fit", epochs=recipe.train_epochs, lr=recipe.train_lr)
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
            "recipe": recipe.saved(),
            "seeds": rows,
            "held_out_accuracy": float(np.mean([r["held_out_accuracy"] for r in rows])),
            "train_pairs": len(trainer.tokens),
            "k_layers": recipe.k_layers,
            "epochs": recipe.train_epochs,
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        metrics.write_text(json.dumps(self.metrics, indent=2))

    @property
    def rms(self) -> dict[str, Weights]:
        """The trained RMs by name (every weight set but `base`; checkpoints added by a step count too)."""
        return {k: v for k, v in self.weights.items() if k != "base"}

    @property
    def trained_layers(self) -> list[int]:
        """The layers the RMs train (every layer from `start` on); below them each RM's layers are the base's."""
        return list(range(self.start, self.handle.n_layers))

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
