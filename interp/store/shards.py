"""A folder of numbered shards written atomically, with a metadata key that must match on resume.

Both the activation store and whole-vocabulary sweeps write through this: each shard is one
safetensors file of tensors plus one parquet file of rows, each renamed into place only when complete; the
rows file comes last and records the tensor file's size and its own row count. A shard is done only when
it verifies (the rows file opens with that row count, the tensor file has that size and a readable
header), so a killed or damaged shard is redone on resume, and reading a damaged shard is refused in one
sentence naming the file.

>>> import tempfile, torch, pandas as pd
>>> shards = ShardFolder(tempfile.mkdtemp(), {"model": "abc"})
>>> shards.write(0, {"x": torch.ones(2, 3)}, pd.DataFrame({"row": [0, 1]}))
>>> shards.done(0), shards.done(1)
(True, False)
>>> shards.read_tensor("x").shape
torch.Size([2, 3])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from interp._util.errors import UserError
from interp._util.files import atomic_path, atomic_write, damaged, read_json

META = "meta.json"
RECORD = b"rm_interp.shard"  # parquet key-value metadata: {"rows": n, "tensor_bytes": size or null}
REDO = "rerun the command that wrote it, which redoes shards that do not verify"


class ShardFolder:
    """Numbered shards `shard-00000.safetensors` + `shard-00000.parquet` under one folder with one key;
    every tensor of a shard has one entry (along its first axis) per row of the shard."""

    def __init__(self, folder: str | os.PathLike[str], key: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.key = dict(key)
        meta = self.folder / META
        if meta.exists():
            found = read_json(meta, f"delete the folder {self.folder} and rerun")
            diff = sorted(k for k in set(found) | set(self.key) if found.get(k) != self.key.get(k))
            if diff:
                raise UserError(
                    f"The shard folder {self.folder} was written with a different "
                    f"{', '.join(diff)} ({found.get(diff[0])!r} vs {self.key.get(diff[0])!r}); "
                    "use another folder or delete it."
                )
            return
        try:
            atomic_write(meta, json.dumps(self.key, indent=2, sort_keys=True))
        except OSError as err:
            raise UserError(
                f"Cannot create the output folder {self.folder} ({err.strerror}); choose a writable location."
            ) from err

    def _path(self, shard: int, suffix: str) -> Path:
        return self.folder / f"shard-{shard:05d}.{suffix}"

    def problem(self, shard: int, n_rows: int | None = None) -> tuple[Path, str] | None:
        """The file that keeps the shard from being done and why (`missing`, truncated, ...), or None when
        it verifies: the rows file's footer and recorded row count (and `n_rows`, when given), the tensor
        file's recorded size and its header. Reads no data."""
        rows, tensors = self._path(shard, "parquet"), self._path(shard, "safetensors")
        if not rows.is_file():
            return rows, "missing"
        try:
            footer = pq.read_metadata(rows)
            raw = (footer.metadata or {}).get(RECORD)
            record = json.loads(raw) if raw else {"rows": footer.num_rows, "tensor_bytes": None}
            wanted, size = int(record["rows"]), record["tensor_bytes"]
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return rows, "truncated or not a shard's parquet file"
        wanted = wanted if n_rows is None else n_rows
        if footer.num_rows != wanted:
            return rows, f"{footer.num_rows} rows instead of {wanted}"
        found = tensors.stat().st_size if tensors.is_file() else None
        if size is not None and found != size:
            return tensors, f"{found or 0} bytes instead of the {size} written"
        if found is not None:
            try:
                with safe_open(str(tensors), framework="pt") as handle:
                    lengths = {handle.get_slice(k).get_shape()[0] for k in handle.keys()}  # noqa: SIM118 (not iterable)
            except (OSError, SafetensorError, IndexError):
                return tensors, "truncated or not a safetensors file"
            if lengths - {footer.num_rows}:
                return tensors, f"tensors of {sorted(lengths - {footer.num_rows})[0]} rows for {footer.num_rows} rows"
        return None

    def done(self, shard: int, n_rows: int | None = None) -> bool:
        """True when the shard is written completely and verifies (see `problem`)."""
        return self.problem(shard, n_rows) is None

    def _check(self, shard: int) -> None:
        found = self.problem(shard)
        if found is not None:
            raise damaged(*found, REDO)

    def shard_ids(self) -> list[int]:
        """Shards whose rows file is in place, in order (`rows` and `iter_tensor` refuse damaged ones)."""
        names = (p.name.split(".")[0] for p in self.folder.glob("shard-*.parquet"))
        return sorted(int(n.split("-")[1]) for n in names if n.split("-")[1].isdigit())

    def write(self, shard: int, tensors: Mapping[str, torch.Tensor], rows: pd.DataFrame) -> None:
        """Write one shard: tensors first, then the rows file (recording the tensor file's size), each
        renamed into place when complete; the rows file's presence marks the shard written."""
        size = None
        if tensors:
            with atomic_path(self._path(shard, "safetensors")) as tmp:
                save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
                size = tmp.stat().st_size
        table = pa.Table.from_pandas(rows, preserve_index=False)
        record = json.dumps({"rows": len(rows), "tensor_bytes": size}).encode()
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), RECORD: record})
        with atomic_path(self._path(shard, "parquet")) as tmp:
            pq.write_table(table, tmp)

    def rows(self) -> pd.DataFrame:
        """All written shards' rows, in shard order, with a `shard` column; a damaged shard is refused."""
        frames = []
        for s in self.shard_ids():
            self._check(s)
            try:
                frames.append(pd.read_parquet(self._path(s, "parquet")).assign(shard=s))
            except (OSError, ValueError, pa.ArrowException):
                raise damaged(self._path(s, "parquet"), "unreadable rows", REDO) from None
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def iter_tensor(self, name: str) -> Iterator[torch.Tensor]:
        """One tensor per written shard, loaded lazily (other tensors in the file are not read)."""
        for s in self.shard_ids():
            self._check(s)
            path = self._path(s, "safetensors")
            try:
                with safe_open(str(path), framework="pt") as handle:
                    tensor = handle.get_tensor(name)
            except (OSError, ValueError, RuntimeError, SafetensorError):
                raise damaged(path, f"no readable tensor '{name}'", REDO) from None
            yield tensor

    def read_tensor(self, name: str) -> torch.Tensor:
        """The named tensor from every finished shard, concatenated along the first axis."""
        parts = list(self.iter_tensor(name))
        if not parts:
            raise UserError(f"No finished shards with '{name}' in {self.folder}; run the capture or sweep first.")
        return torch.cat(parts)
