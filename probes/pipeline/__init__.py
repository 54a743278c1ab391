"""The lineage study's steps that need probes (those that need only the core are in `interp.pipeline`): probe data
and probes on the fitting words (a lexicon's probe data: `probes.collect.probe_data`), the score head's reading of
the unembedding, durability along a checkpointed run, and the pieces of summary.json.

>>> from probes.pipeline import PROBE_METHOD
>>> PROBE_METHOD
'diff_means'
"""

from probes.pipeline.durability import CheckpointedRun, durability_panel
from probes.pipeline.fitting import PROBE_METHOD, fitting_data, lineage_probes
from probes.pipeline.reading import unembedding_reading
from probes.pipeline.records import behaviour_gap, causal_record, effect_records, gap_paths_record, probe_record

__all__ = [
    "PROBE_METHOD",
    "CheckpointedRun",
    "behaviour_gap",
    "causal_record",
    "durability_panel",
    "effect_records",
    "fitting_data",
    "gap_paths_record",
    "lineage_probes",
    "probe_record",
    "unembedding_reading",
]
