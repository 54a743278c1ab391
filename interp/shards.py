"""A folder of numbered shards written atomically, with a metadata key that must match on resume.

Both the activation store and whole-vocabulary sweeps write through this: each shard is one
safetensors file of tensors plus one parquet file of rows, renamed into place only when complete, so a
killed job resumes by skipping the shards that exist and never sees a half-written one.

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
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from interp.errors import UserError

META = "meta.json"


class ShardFolder:
    """Numbered shards `shard-00000.safetensors` + `shard-00000.parquet` under one folder with one key."""

    def __init__(self, folder: str | os.PathLike[str], key: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.key = dict(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(
                f"Cannot create the output folder {self.folder} ({err.strerror}); choose a writable location."
            ) from err
        meta = self.folder / META
        if meta.exists():
            found = json.loads(meta.read_text())
            diff = sorted(k for k in set(found) | set(self.key) if found.get(k) != self.key.get(k))
            if diff:
                raise UserError(
                    f"The shard folder {self.folder} was written with a different "
                    f"{', '.join(diff)} ({found.get(diff[0])!r} vs {self.key.get(diff[0])!r}); "
                    "use another folder or delete it."
                )
        else:
            self._atomic_write(meta, json.dumps(self.key, indent=2, sort_keys=True).encode())

    def _path(self, shard: int, suffix: str) -> Path:
        return self.folder / f"shard-{shard:05d}.{suffix}"

    @staticmethod
    def _atomic_write(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def done(self, shard: int) -> bool:
        """True when the shard's row file exists (it is renamed into place last)."""
        return self._path(shard, "parquet").exists()

    def shard_ids(self) -> list[int]:
        """Finished shards, in order."""
        return sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("shard-*.parquet"))

    def write(self, shard: int, tensors: Mapping[str, torch.Tensor], rows: pd.DataFrame) -> None:
        """Write one shard: tensors first, then the rows file whose presence marks the shard done."""
        if tensors:
            tmp = self._path(shard, f"{uuid.uuid4().hex[:8]}.tmp")
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
            os.replace(tmp, self._path(shard, "safetensors"))
        tmp_rows = self._path(shard, f"{uuid.uuid4().hex[:8]}.rows.tmp")
        rows.to_parquet(tmp_rows, index=False)
        os.replace(tmp_rows, self._path(shard, "parquet"))

    def rows(self) -> pd.DataFrame:
        """All finished shards' rows, in shard order, with a `shard` column."""
        frames = [pd.read_parquet(self._path(s, "parquet")).assign(shard=s) for s in self.shard_ids()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def iter_tensor(self, name: str) -> Iterator[torch.Tensor]:
        """One tensor per finished shard, loaded lazily (other tensors in the file are not read)."""
        for s in self.shard_ids():
            with safe_open(str(self._path(s, "safetensors")), framework="pt") as handle:
                yield handle.get_tensor(name)

    def read_tensor(self, name: str) -> torch.Tensor:
        """The named tensor from every finished shard, concatenated along the first axis."""
        parts = list(self.iter_tensor(name))
        if not parts:
            raise UserError(f"No finished shards with '{name}' in {self.folder}; run the capture or sweep first.")
        return torch.cat(parts)
