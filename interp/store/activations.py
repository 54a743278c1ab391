"""The activation store: residuals at sites, with the inputs they came from, in resumable shards on disk.

Layout: `<root>/<model fingerprint>/<template hash>/<inputs hash>/<dtype>/sites-<hash>/` holds numbered
shards (`interp.store.shards.ShardFolder`): one safetensors file per shard with one tensor per site (named like
`L12.resid_post.readout`) and one parquet file of rows (`row`, `id`, `text`). Base-LM and RM captures of
the same inputs sit side by side under their own fingerprints and never collide. A killed capture resumes
by skipping finished shards (finished: written and verified, so a truncated shard is redone); memory stays
flat in the number of inputs (one shard at a time); reading one site reads only that tensor from each file.
A damaged `meta.json` or shard is refused in one sentence naming the file and how to recover.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random RM (4 layers, width 64)
>>> texts = ["Love.", "Freedom is best.", "Power."]
>>> folder = capture_to_store(rm, texts, Site.grid([0, 3]), tempfile.mkdtemp(), progress=False)
>>> load_site(folder, Site(3)).shape  # (len(texts), d_model)
torch.Size([3, 64])
>>> is_complete(folder), load_rows(folder)["text"].tolist() == texts
(True, True)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from interp._util.errors import UserError
from interp._util.files import atomic_write, damaged, read_json
from interp._util.progress import progress_bar
from interp._util.runinfo import versions
from interp.hooks.backend import BackendName
from interp.hooks.capture import capture
from interp.hooks.site import Site, check_sites
from interp.models import DTYPES, ModelHandle
from interp.render import PaddingSide, chat_template
from interp.store.shards import META, ShardFolder

CONFIG = "capture_config.json"


def _short_hash(parts: Sequence[str], n: int = 12) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:n]


def template_hash(handle: ModelHandle) -> str:
    """Hash of the chat template the model's texts are rendered with (`none` when it has none)."""
    try:
        return _short_hash([chat_template(handle.tokenizer)])
    except UserError:
        return "none"


def inputs_hash(texts: Sequence[str], ids: Sequence[Any] | None = None) -> str:
    """Hash of the input texts (and their ids), in order."""
    return _short_hash([*texts, *(str(i) for i in ids or [])])


def dtype_name(handle: ModelHandle, dtype: str | None) -> str:
    """The store's name of `dtype` (e.g. 'bfloat16'), or of the model's own dtype when None."""
    if dtype is None:
        return str(handle.model.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise UserError(f"Unknown dtype '{dtype}'; use one of: {', '.join(DTYPES)}.")
    return str(DTYPES[dtype]).removeprefix("torch.")


KEY_FIELDS = ("fingerprint", "n_inputs", "sites", "shard_size")


def _read_key(folder: Path) -> dict[str, Any]:
    """The capture key (`meta.json`) of a capture folder; a damaged one is refused, naming the file."""
    recover = f"delete the capture folder {folder} and capture again"
    key = read_json(folder / META, recover, KEY_FIELDS)
    if not isinstance(key["sites"], list) or not all(isinstance(key[k], int) for k in ("n_inputs", "shard_size")):
        raise damaged(folder / META, "fields of the wrong type", recover)
    return key


def _check_model(folder: Path, fingerprint: str, model: str) -> None:
    found = _read_key(folder).get("fingerprint")
    if found != fingerprint:
        raise UserError(
            f"The store folder {folder} holds activations of another model (fingerprint {found}), "
            f"not of '{model}' ({fingerprint}); use a fresh output root."
        )


def capture_target(
    handle: ModelHandle,
    texts: Sequence[str],
    sites: Site | Sequence[Site],
    root: str | os.PathLike[str],
    shard_size: int,
    dtype: str | None = None,
    ids: Sequence[Any] | None = None,
) -> tuple[list[Site], dict[str, Any], Path]:
    """The checked sites, the key (what identifies a capture: model, template, inputs, sites, dtype, shard size)
    and the folder of a capture: `root` itself when it is a capture folder, else
    `<root>/<fingerprint>/<template>/<inputs>/<dtype>/sites-<hash>`. Refuses no texts, ids not one per text
    and a shard size below 1."""
    listed = check_sites(sites, handle.n_layers)
    if not texts:
        raise UserError("No texts to capture; give at least one input text.")
    if ids is not None and len(ids) != len(texts):
        raise UserError(f"There are {len(ids)} ids for {len(texts)} texts; give one id per text.")
    if shard_size < 1:
        raise UserError(f"The shard size must be at least 1, not {shard_size}.")
    key: dict[str, Any] = {
        "fingerprint": handle.fingerprint,
        "template_hash": template_hash(handle),
        "inputs_hash": inputs_hash(texts, ids),
        "n_inputs": len(texts),
        "dtype": dtype_name(handle, dtype),
        "sites": sorted(s.name for s in listed),
        "shard_size": shard_size,
        "d_model": handle.d_model,
    }
    if (Path(root) / META).exists():
        return listed, key, Path(root)
    parts = [key[k] for k in ("fingerprint", "template_hash", "inputs_hash", "dtype")]
    return listed, key, Path(root).joinpath(*parts, f"sites-{_short_hash(key['sites'], 8)}")


def capture_to_store(
    handle: ModelHandle,
    texts: Sequence[str],
    sites: Site | Sequence[Site],
    root: str | os.PathLike[str],
    shard_size: int = 1024,
    batch_size: int = 16,
    dtype: str | None = None,
    ids: Sequence[Any] | None = None,
    backend: BackendName = "torch",
    padding_side: PaddingSide = "right",
    progress: bool = True,
    after_shard: Callable[[int], None] | None = None,
    shard_ids: Sequence[int] | None = None,
    write_config: bool = True,
) -> Path:
    """Capture rendered `texts` at `sites` into the store under `root`; returns the capture folder.

    Resumable: finished shards are skipped and shards that do not verify (killed, truncated) are redone, so
    rerunning after a kill completes the capture without duplicating or losing rows. `root` may also be an
    existing capture folder of the same model. `after_shard(i)` is called after shard i is written.
    `shard_ids` captures only those shards (shard i holds rows i*shard_size ... (i+1)*shard_size-1), e.g.
    one process's part of a capture split over processes; `write_config=False` leaves
    `capture_config.json` to another writer.
    """
    texts = list(texts)
    listed, key, folder = capture_target(handle, texts, sites, root, shard_size, dtype, ids)
    total = n_shards(len(texts), shard_size)
    todo = range(total) if shard_ids is None else shard_ids
    bad = [s for s in todo if not 0 <= s < total]
    if bad:
        raise UserError(f"Shard ids must be in 0..{total - 1} for {len(texts)} inputs (got {bad[:3]}).")
    if (folder / META).exists():
        _check_model(folder, handle.fingerprint, handle.name)
    shards = ShardFolder(folder, key)
    if write_config:
        _write_config(folder, handle, backend, batch_size, padding_side)
    spans = {s: range(s * shard_size, min(len(texts), (s + 1) * shard_size)) for s in todo}
    store_dtype = DTYPES[key["dtype"]]
    with _progress(progress, sum(len(r) for r in spans.values()), handle.name) as advance:
        for shard, span in spans.items():
            if shards.done(shard, len(span)):
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


def _write_config(folder: Path, handle: ModelHandle, backend: str, batch_size: int, padding_side: str) -> None:
    config = {
        "model": handle.name,
        "kind": handle.kind,
        "fingerprint": handle.fingerprint,
        "n_layers": handle.n_layers,
        "backend": backend,
        "batch_size": batch_size,
        "padding_side": padding_side,
        "versions": versions(),
    }
    atomic_write(folder / CONFIG, json.dumps(config, indent=2))


@contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar over input rows (drawn only when `enabled`), yielding its `advance(n)` function."""
    with progress_bar(enabled) as bar:
        task = bar.add_task(f"capture {label}", total=total)
        yield lambda n: bar.advance(task, n)


def find_captures(folder: str | os.PathLike[str]) -> list[Path]:
    """Capture folders at or below `folder` (those holding a shard key)."""
    base = Path(folder)
    if (base / META).exists():
        return [base]
    return sorted(p.parent for p in base.rglob(META))


def _capture_for(folder: str | os.PathLike[str], site: Site, handle: ModelHandle | None) -> Path:
    found = find_captures(folder)
    if not found:
        raise UserError(f"No captured activations under {folder}; run `rm-interp capture` first.")
    if handle is not None:
        if len(found) == 1:
            _check_model(found[0], handle.fingerprint, handle.name)
        found = [f for f in found if _read_key(f)["fingerprint"] == handle.fingerprint]
        if not found:
            raise UserError(
                f"The store under {folder} holds no activations of '{handle.name}' "
                f"({handle.fingerprint}); capture them first."
            )
    holding = [f for f in found if site.name in _read_key(f)["sites"]]
    if not holding:
        available = sorted({s for f in found for s in _read_key(f)["sites"]})
        raise UserError(
            f"Site {site.name} is not in the store under {folder}; it holds "
            f"{', '.join(available[:6])}{' ...' if len(available) > 6 else ''}."
        )
    identities = {json.dumps({k: v for k, v in _read_key(f).items() if k not in ("sites",)}) for f in holding}
    if len(identities) > 1:
        raise UserError(
            f"Several captures under {folder} hold site {site.name} (different models, inputs or "
            "dtypes); pass one capture folder."
        )
    return holding[0]


def load_site(folder: str | os.PathLike[str], site: Site, handle: ModelHandle | None = None) -> torch.Tensor:
    """One site's activations for every stored row, in row order, reading only that tensor from each shard.

    `folder` is a capture folder or any folder above it that holds one capture with this site; with
    `handle`, activations of any other model are refused.
    """
    capture_folder = _capture_for(folder, site, handle)
    shards = ShardFolder(capture_folder, _read_key(capture_folder))
    parts = list(shards.iter_tensor(site.name))
    if not parts:
        raise UserError(f"The capture in {capture_folder} has no finished shards yet; run the capture again.")
    if site.position != "all":
        return torch.cat(parts)
    width = max(p.shape[1] for p in parts)
    return torch.cat([F.pad(p, (0, 0, 0, width - p.shape[1])) for p in parts])


def load_rows(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """The stored inputs (`row`, `id`, `text`, `shard`) of one capture folder, in row order."""
    found = find_captures(folder)
    if len(found) != 1:
        raise UserError(f"Expected one capture under {folder}, found {len(found)}; pass one capture folder.")
    return ShardFolder(found[0], _read_key(found[0])).rows()


def n_shards(n_inputs: int, shard_size: int) -> int:
    """How many store shards `n_inputs` rows split into.

    >>> n_shards(22, 4)
    6
    """
    return -(-n_inputs // shard_size)


def missing_shards(folder: str | os.PathLike[str]) -> list[int]:
    """Shards of a capture folder that are not written yet."""
    key = _read_key(Path(folder))
    shards = ShardFolder(folder, key)
    total, size = key["n_inputs"], key["shard_size"]
    return [s for s in range(n_shards(total, size)) if not shards.done(s, min(size, total - s * size))]


def is_complete(folder: str | os.PathLike[str]) -> bool:
    """True when every shard of the capture folder is finished."""
    return not missing_shards(folder)
