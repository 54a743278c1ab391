"""Turn probe inputs into ProbeData: capture readout residuals at every requested layer through the store,
with each example's lexical covariates (word frequency, token length: `probes.controls`).

>>> data = collect(rm, build_inputs(rm.tokenizer, lexicon, "answer", prompts), range(rm.n_layers),
...                "artifacts/store", lineage_id=lineage.lineage_id)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch

from interp.hooks.site import Point, Site
from interp.models import ModelHandle
from interp.store import capture_to_store, load_site
from probes.controls import COVARIATES, lexical_covariates
from probes.data import ProbeData
from probes.frames import ProbeInputs


def collect(
    handle: ModelHandle,
    inputs: ProbeInputs,
    layers: Iterable[int],
    store_root: str | os.PathLike[str],
    lineage_id: str = "",
    point: Point = "resid_post",
    batch_size: int = 16,
    progress: bool = True,
) -> ProbeData:
    """Capture (or reuse from the store) the readout residual of every input at `layers`."""
    layer_list = list(layers)
    sites = Site.grid(layer_list, point=point, position="readout")
    folder = capture_to_store(handle, inputs.texts, sites, store_root, batch_size=batch_size, progress=progress)
    X = torch.stack([load_site(folder, site).float() for site in sites], dim=1)
    return ProbeData(
        X.numpy(),
        inputs.labels,
        np.asarray(inputs.words),
        handle.fingerprint,
        lineage_id=lineage_id,
        model_name=handle.name,
        layers=tuple(layer_list),
        point=point,
        position="readout",
        inputs_id=inputs.inputs_id,
        class_names=inputs.class_names,
        covariates=lexical_covariates(handle.tokenizer, inputs.words, leading_space=inputs.view == "statement"),
        covariate_names=COVARIATES,
    )
