"""Linear probes on stored activations: fit Directions layer by layer, and follow them from a base LM into
its RM and across checkpoints (persistence). Imports the interp core; the core never imports probes.

>>> from probes import ProbeConfig, fit_probes, planted
>>> data, u = planted(n_words=40, per_word=4, n_layers=2, d_model=8, layer=1)
>>> result = fit_probes(data, ProbeConfig(methods=("diff_means",), n_perm=0, n_boot=0), progress=False)
>>> result.best_layer("diff_means")
1
"""

from probes.collect import collect, probe_data
from probes.data import ProbeData, planted
from probes.fit import ProbeConfig, ProbeResult, directions_for, fit_probes
from probes.frames import ProbeInputs, build_inputs
from probes.persistence import Persistence, PersistenceConfig, compare, persistence_along
from probes.unembedding import head_reading, unembedding_direction

__all__ = [
    "Persistence",
    "PersistenceConfig",
    "ProbeConfig",
    "ProbeData",
    "ProbeInputs",
    "ProbeResult",
    "build_inputs",
    "collect",
    "compare",
    "directions_for",
    "fit_probes",
    "head_reading",
    "persistence_along",
    "planted",
    "probe_data",
    "unembedding_direction",
]
