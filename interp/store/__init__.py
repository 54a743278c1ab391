"""Activations and scores on disk, keyed by (model fingerprint, template, inputs, site), in resumable shards.

Names import their module on first use (`interp._util.lazy`), so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp.store.activations import (
        CONFIG,
        KEY_FIELDS,
        capture_target,
        capture_to_store,
        dtype_name,
        find_captures,
        inputs_hash,
        is_complete,
        load_rows,
        load_site,
        missing_shards,
        n_shards,
        template_hash,
    )
    from interp.store.shards import META, RECORD, REDO, ShardFolder

__all__ = [
    "CONFIG",
    "KEY_FIELDS",
    "META",
    "RECORD",
    "REDO",
    "ShardFolder",
    "capture_target",
    "capture_to_store",
    "dtype_name",
    "find_captures",
    "inputs_hash",
    "is_complete",
    "load_rows",
    "load_site",
    "missing_shards",
    "n_shards",
    "template_hash",
]

__getattr__, __dir__ = lazy_exports(__name__)
