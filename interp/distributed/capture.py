"""Activation captures sharded over processes, landing in the same store folder as a single-process capture.

The input rows are split into the store's shards (shard i holds rows i*shard_size ... (i+1)*shard_size-1,
under the key and folder `interp.store` computes), and rank r of W captures shards r, r+W, ... Each shard is
written through `ShardFolder` exactly as `capture_to_store` writes it, so the finished folder is
indistinguishable from a single-process capture and `load_site` / `load_rows` read it unchanged. Rank 0
waits at a barrier and checks every shard is there. A rank that died is re-run alone (standalone
`World(rank, size)`): its finished shards are skipped, the others' are untouched.

>>> folder = distributed_capture(rm, texts, Site.grid([0, 5]), "artifacts/store", init_world())  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from interp.distributed.world import World, agree, barrier
from interp.errors import UserError
from interp.hooks.backend import BackendName
from interp.hooks.capture import capture
from interp.hooks.site import Site, check_sites
from interp.models import DTYPES, ModelHandle
from interp.render import PaddingSide
from interp.shards import META, ShardFolder
from interp.store import CONFIG, _check_model, _dtype_name, _progress, _read_key, _write_config, store_folder, store_key


def capture_shards(
    handle: ModelHandle,
    texts: Sequence[str],
    sites: Site | Sequence[Site],
    root: str | os.PathLike[str],
    shard_ids: Sequence[int] | None = None,
    shard_size: int = 1024,
    batch_size: int = 16,
    dtype: str | None = None,
    ids: Sequence[Any] | None = None,
    backend: BackendName = "torch",
    padding_side: PaddingSide = "right",
    progress: bool = True,
    after_shard: Callable[[int], None] | None = None,
    write_config: bool = True,
) -> Path:
    """`capture_to_store` restricted to `shard_ids` (all shards when None); returns the capture folder.

    Finished shards are skipped. `write_config` writes the folder's `capture_config.json` (one writer per job).
    """
    listed = check_sites(sites, handle.n_layers)
    texts = list(texts)
    if not texts:
        raise UserError("No texts to capture; give at least one input text.")
    if ids is not None and len(ids) != len(texts):
        raise UserError(f"There are {len(ids)} ids for {len(texts)} texts; give one id per text.")
    if shard_size < 1:
        raise UserError(f"The shard size must be at least 1, not {shard_size}.")
    key = store_key(handle, texts, listed, _dtype_name(handle, dtype), shard_size, ids)
    root = Path(root)
    if (root / META).exists():
        _check_model(root, handle.fingerprint, handle.name)
        folder = root
    else:
        folder = store_folder(root, key)
    shards = ShardFolder(folder, key)
    if write_config:
        _write_config(folder, handle, backend, batch_size, padding_side)
    total = n_capture_shards(len(texts), shard_size)
    todo = list(range(total)) if shard_ids is None else list(shard_ids)
    bad = [s for s in todo if not 0 <= s < total]
    if bad:
        raise UserError(f"Shard ids must be in 0..{total - 1} for {len(texts)} inputs (got {bad[:3]}).")
    spans = {s: range(s * shard_size, min(len(texts), (s + 1) * shard_size)) for s in todo}
    store_dtype = DTYPES[key["dtype"]]
    with _progress(progress, sum(len(r) for r in spans.values()), handle.name) as advance:
        for shard, span in spans.items():
            if shards.done(shard):
                advance(len(span))
                continue
            lo, hi = span.start, span.stop
            acts = capture(handle, texts[lo:hi], listed, backend, batch_size, padding_side, on_batch=advance)
            rows = pd.DataFrame(
                {"row": span, "id": list(ids[lo:hi]) if ids is not None else span, "text": texts[lo:hi]}
            )
            shards.write(shard, {s.name: a.to(store_dtype) for s, a in acts.items()}, rows)
            del acts
            if after_shard is not None:
                after_shard(shard)
    return folder


def n_capture_shards(n_inputs: int, shard_size: int) -> int:
    """How many store shards `n_inputs` rows split into."""
    return -(-n_inputs // shard_size)


def missing_shards(folder: str | os.PathLike[str]) -> list[int]:
    """Shards of a capture folder that are not written yet."""
    key = _read_key(Path(folder))
    shards = ShardFolder(folder, key)
    return [s for s in range(n_capture_shards(key["n_inputs"], key["shard_size"])) if not shards.done(s)]


def capture_settings(
    handle: ModelHandle, key: dict[str, Any], batch_size: int, backend: str, padding_side: str
) -> dict[str, Any]:
    """What every rank must share; the model's dtype first, so mixed dtypes are reported as such."""
    return {
        "dtype": str(handle.model.dtype).removeprefix("torch."),
        "model fingerprint": handle.fingerprint,
        **{f"store {k}": v for k, v in key.items() if k != "fingerprint"},
        "batch_size": batch_size,
        "backend": backend,
        "padding_side": padding_side,
    }


def distributed_capture(
    handle: ModelHandle,
    texts: Sequence[str],
    sites: Site | Sequence[Site],
    root: str | os.PathLike[str],
    world: World,
    shard_size: int = 1024,
    batch_size: int = 16,
    dtype: str | None = None,
    ids: Sequence[Any] | None = None,
    backend: BackendName = "torch",
    padding_side: PaddingSide = "right",
    progress: bool = True,
    after_shard: Callable[[int], None] | None = None,
) -> Path:
    """This rank's shards of the capture; then rank 0 (after the barrier) checks the folder is complete.

    Returns the capture folder (the same path on every rank and in a single-process run). A standalone
    rank writes `capture_config.json` only when it is missing.
    """
    listed = check_sites(sites, handle.n_layers)
    if not texts:
        raise UserError("No texts to capture; give at least one input text.")
    if shard_size < 1:
        raise UserError(f"The shard size must be at least 1, not {shard_size}.")
    key = store_key(handle, list(texts), listed, _dtype_name(handle, dtype), shard_size, ids)
    agree(world, capture_settings(handle, key, batch_size, backend, padding_side))
    mine = world.mine(n_capture_shards(len(texts), shard_size))
    folder = store_folder(root, key) if not (Path(root) / META).exists() else Path(root)
    writes_config = world.main if world.group else (world.size == 1 or not (folder / CONFIG).exists())
    show = progress and (world.main or not world.group)
    folder = capture_shards(
        handle,
        texts,
        listed,
        root,
        mine,
        shard_size,
        batch_size,
        dtype,
        ids,
        backend,
        padding_side,
        show,
        after_shard,
        writes_config,
    )
    barrier(world)
    missing = missing_shards(folder) if world.group and world.main else []
    if missing:
        raise UserError(
            f"{len(missing)} capture shards are missing after every rank finished (first {missing[0]}); "
            "re-run the capture."
        )
    return folder
