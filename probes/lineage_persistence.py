"""Persistence along a whole lineage: probe data of the base, its RM and the RM's checkpoints on one lexicon ×
prompts (through the store), the base vs RM comparison (`probes.persistence.compare`), the layer × checkpoint
table when there are checkpoints, and the RM's per-layer weight change; saved as tables and figures.

>>> import tempfile
>>> from interp.lexicons.readers import load_lexicon
>>> from interp.models import Lineage, load_lm, rm_from_base
>>> from interp.models.tiny import build_tiny
>>> from interp.sweep.outputs import choose_prompts
>>> folder = str(build_tiny("llama", tempfile.mkdtemp()))  # a tiny random base, 4 layers
>>> lineage = Lineage(load_lm(folder), rm_from_base(folder))
>>> config = PersistenceConfig(methods=("diff_means",), n_null=2, n_cka_shuffle=2)
>>> found = lineage_persistence(lineage, load_lexicon("default"), choose_prompts("grid", 1), tempfile.mkdtemp(),
...                             config, progress=False)
>>> len(found.weight_change), found.along is None  # no checkpoints: no table along them
(4, True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from interp.lexicons.readers import Lexicon
from interp.models.lineage import Lineage
from interp.render.prompts import Prompt
from probes.collect import probe_data
from probes.persistence import Persistence, PersistenceConfig, compare, persistence_along
from probes.plots import plot_persistence_heatmap, plot_transfer


@dataclass(frozen=True)
class LineagePersistence:
    """Base vs RM (`comparison`), the RM's relative weight change per layer, and (with checkpoints) the layer ×
    checkpoint table of each checkpoint's direction against the base's (`along`)."""

    comparison: Persistence
    weight_change: pd.Series
    along: pd.DataFrame | None = None

    def save(self, folder: Path) -> None:
        """Write the comparison's tables, transfer.png, weight_change.csv and, with checkpoints,
        persistence_along.csv and persistence_heatmap.png into `folder`."""
        self.comparison.save(folder)
        plot_transfer(self.comparison.directions, folder / "transfer.png", method="logistic")
        self.weight_change.to_csv(folder / "weight_change.csv")
        if self.along is not None:
            self.along.to_csv(folder / "persistence_along.csv", index=False)
            plot_persistence_heatmap(self.along, folder / "persistence_heatmap.png")


def lineage_persistence(
    lineage: Lineage,
    lexicon: Lexicon,
    prompts: Sequence[Prompt],
    store: str | os.PathLike[str],
    config: PersistenceConfig | None = None,
    progress: bool = True,
) -> LineagePersistence:
    """Compare the lineage's base with its RM at every layer and, when it has checkpoints, follow the base's
    direction along them (each checkpoint named by the last part of its model name, e.g. `checkpoint-200`);
    `config`: `PersistenceConfig()` by default."""
    config = config or PersistenceConfig()
    members = [lineage.base, *lineage.checkpoints, lineage.rm]
    datas = [probe_data(h, lexicon, prompts, store, lineage.lineage_id, progress) for h in members]
    comparison = compare(datas[0], datas[-1], config, progress=progress)
    along = None
    if len(datas) > 2:
        named = [replace(d, model_name=Path(h.name).name) for h, d in zip(members[1:], datas[1:], strict=True)]
        along = persistence_along([datas[0], *named], config=config, progress=progress)
    return LineagePersistence(comparison, lineage.weight_change(), along)
