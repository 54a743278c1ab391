"""Activation captures sharded over processes, landing in the same store folder as a single-process capture.

The input rows are split into the store's shards (shard i holds rows i*shard_size ... (i+1)*shard_size-1,
under the key and folder `interp.store` computes), and rank r of W captures shards r, r+W, ... Each rank
writes its shards with `capture_to_store(..., shard_ids=...)`, so the finished folder is
indistinguishable from a single-process capture and `load_site` / `load_rows` read it unchanged. Rank 0
waits at a barrier and checks every shard is there. A rank that died is re-run alone (standalone
`World(rank, size)`): its finished shards are skipped, the others' are untouched.

Under `torchrun` each process calls `distributed_capture(..., init_world())`; here two standalone ranks of a
world of 2 run one after the other on a tiny random RM, and their folder equals a single-process capture:

>>> import tempfile, torch
>>> from interp.models import rm_from_base
>>> from interp.store import capture_to_store, load_site
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))
>>> texts, sites, root = [f"Answer {i}." for i in range(5)], Site.grid([0, 3]), tempfile.mkdtemp()
>>> folders = [distributed_capture(rm, texts, sites, root, World(r, 2), shard_size=2, progress=False) for r in (1, 0)]
>>> alone = capture_to_store(rm, texts, sites, tempfile.mkdtemp(), shard_size=2, progress=False)
>>> folders[0] == folders[1], torch.equal(load_site(folders[0], Site(3)), load_site(alone, Site(3)))
(True, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from interp._util.errors import UserError
from interp.distributed.world import World, agree, barrier
from interp.hooks.backend import BackendName
from interp.hooks.site import Site
from interp.models import ModelHandle
from interp.render import PaddingSide
from interp.store import CONFIG, capture_target, capture_to_store, dtype_name, missing_shards, n_shards


def rank_settings(handle: ModelHandle, **settings: Any) -> dict[str, Any]:
    """What every rank must share (`agree`): the model's dtype first, so mixed dtypes are reported as such, its
    fingerprint, then `settings`."""
    return {"dtype": dtype_name(handle, None), "model fingerprint": handle.fingerprint, **settings}


def capture_settings(
    handle: ModelHandle, key: dict[str, Any], batch_size: int, backend: str, padding_side: str
) -> dict[str, Any]:
    """What every rank of a capture must share: the model, the store key, batch size, backend, padding side."""
    store = {f"store {k}": v for k, v in key.items() if k != "fingerprint"}
    return rank_settings(handle, **store, batch_size=batch_size, backend=backend, padding_side=padding_side)


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
    listed, key, folder = capture_target(handle, texts, sites, root, shard_size, dtype, ids)
    agree(world, capture_settings(handle, key, batch_size, backend, padding_side))
    mine = world.mine(n_shards(len(texts), shard_size))
    writes_config = world.main if world.group else (world.size == 1 or not (folder / CONFIG).exists())
    show = progress and (world.main or not world.group)
    folder = capture_to_store(
        handle,
        texts,
        listed,
        root,
        shard_size,
        batch_size,
        dtype,
        ids,
        backend,
        padding_side,
        show,
        after_shard,
        shard_ids=mine,
        write_config=writes_config,
    )
    barrier(world)
    missing = missing_shards(folder) if world.group and world.main else []
    if missing:
        raise UserError(
            f"{len(missing)} capture shards are missing after every rank finished (first {missing[0]}); "
            "re-run the capture."
        )
    return folder
