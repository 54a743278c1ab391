"""The model layer: load base LMs and RMs, the embedded default models, the paper's RM registry, Lineage,
tiny test models, hub names.

Names import their module on first use (`interp._util.lazy`), so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp.models.embedded import EMBEDDED, INSTALL_HINT, EmbeddedModel, embedded_path
    from interp.models.handle import Kind, ModelHandle, fingerprint, weights_hash
    from interp.models.hub import HUB_ID, hub_reachable, looks_like_path
    from interp.models.lineage import Lineage, vocab_hash
    from interp.models.loading import (
        DTYPES,
        LoadOptions,
        declares_reward_model,
        load_lm,
        load_model,
        load_rm,
        load_tokenizer,
        rm_from_base,
        save,
    )
    from interp.models.registry import REGISTRY, Family, Readout, RegistryEntry, lookup, read_score
    from interp.models.sources import TOKENIZER_FILES, checked_source, resolve
    from interp.models.tiny import CHATML, CORPUS, Arch, build_tiny, tiny_config

__all__ = [
    "CHATML",
    "CORPUS",
    "DTYPES",
    "EMBEDDED",
    "HUB_ID",
    "INSTALL_HINT",
    "REGISTRY",
    "TOKENIZER_FILES",
    "Arch",
    "EmbeddedModel",
    "Family",
    "Kind",
    "Lineage",
    "LoadOptions",
    "ModelHandle",
    "Readout",
    "RegistryEntry",
    "build_tiny",
    "checked_source",
    "declares_reward_model",
    "embedded_path",
    "fingerprint",
    "hub_reachable",
    "load_lm",
    "load_model",
    "load_rm",
    "load_tokenizer",
    "looks_like_path",
    "lookup",
    "read_score",
    "resolve",
    "rm_from_base",
    "save",
    "tiny_config",
    "vocab_hash",
    "weights_hash",
]

__getattr__, __dir__ = lazy_exports(__name__)
