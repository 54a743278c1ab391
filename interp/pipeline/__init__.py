"""The lineage study's steps that need only the core (`experiments.lineage_study` runs them in order; the steps
that need probes are in `probes.pipeline`): seed RMs trained from one base, the study's words and grid layers, the
causal step on held-out data, and where the reward gap forms. Steps cache their tables in the folder they are given.

>>> from interp.pipeline import grid_layers
>>> grid_layers(18, 3, 5)
[0, 5, 8, 17]
"""

from interp.pipeline.causal_step import TWIN_COLUMNS, CausalDesign, FittingSet, causal, with_twin
from interp.pipeline.gap_step import gap_paths
from interp.pipeline.seeds import SeedRecipe, Seeds
from interp.pipeline.tables import Log, cached_measured, cached_table
from interp.pipeline.words import grid_layers, token_ids, word_categories

__all__ = [
    "TWIN_COLUMNS",
    "CausalDesign",
    "FittingSet",
    "Log",
    "SeedRecipe",
    "Seeds",
    "cached_measured",
    "cached_table",
    "causal",
    "gap_paths",
    "grid_layers",
    "token_ids",
    "with_twin",
    "word_categories",
]
