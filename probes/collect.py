"""Turn probe inputs into ProbeData: capture readout residuals at every requested layer through the store,
with each example's lexical covariates (word frequency, token length: `probes.controls`).

>>> import tempfile
>>> from interp.lexicons.readers import load_lexicon
>>> from interp.models import load_lm
>>> from interp.models.tiny import build_tiny
>>> from interp.sweep.outputs import choose_prompts
>>> lm = load_lm(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random LM, 4 layers
>>> data = probe_data(lm, load_lexicon("default"), choose_prompts("grid", 1), tempfile.mkdtemp())
>>> data.X.shape[1:], data.layers
((4, 64), (0, 1, 2, 3))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from interp.hooks.site import Point, Site
from interp.lexicons.readers import Lexicon
from interp.models import ModelHandle
from interp.render.prompts import Prompt
from interp.store import capture_to_store, load_site
from probes.controls import COVARIATES, lexical_covariates
from probes.data import ProbeData
from probes.frames import ProbeInputs, build_inputs


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


def probe_data(
    handle: ModelHandle,
    lexicon: Lexicon,
    prompts: Sequence[Prompt],
    store: str | os.PathLike[str],
    lineage_id: str = "",
    progress: bool = False,
) -> ProbeData:
    """Readout residuals at every layer of the answer-view probe inputs (the lexicon's agency and communion words
    as one-word answers to each prompt), captured through the store at `store` (or reused from it)."""
    inputs = build_inputs(handle.tokenizer, lexicon, "answer", prompts)
    return collect(handle, inputs, range(handle.n_layers), store, lineage_id=lineage_id, progress=progress)
