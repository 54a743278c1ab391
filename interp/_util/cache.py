"""The rm-interp cache folder and hashed, atomically written entries inside it.

>>> import os, platformdirs
>>> root = cache_root(create=False)  # create=False: only where it is; by default also created and checked
>>> root == Path(os.environ.get("RM_INTERP_CACHE") or platformdirs.user_cache_dir("rm-interp"))
True
>>> cache_root("lexicons", create=False) == root / "lexicons"
True
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import platformdirs

from interp._util.errors import UserError
from interp._util.files import atomic_folder

MANIFEST = "rm_interp_manifest.json"
_verified: dict[tuple[str, int, int], str] = {}


def cache_root(*parts: str, create: bool = True) -> Path:
    """`$RM_INTERP_CACHE` (or the user's cache dir for rm-interp), or the subfolder `parts` inside it;
    created and checked writable on first use unless `create` is False."""
    root = Path(os.environ.get("RM_INTERP_CACHE") or platformdirs.user_cache_dir("rm-interp"))
    folder = root.joinpath(*parts)
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
        except OSError as err:
            raise _unusable(root, err) from err
    return folder


def _unusable(folder: Path, err: OSError) -> UserError:
    return UserError(
        f"The rm-interp cache folder {folder} cannot be written ({err.strerror or err}); "
        "set RM_INTERP_CACHE to a writable folder."
    )


def sha256_file(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) within one process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def is_intact(folder: Path) -> bool:
    """True when `folder` has a manifest and every file listed in it has the recorded sha256."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    try:
        recorded: dict[str, str] = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError):
        return False
    return all((folder / name).is_file() and sha256_file(folder / name) == digest for name, digest in recorded.items())


def build_atomically(dest: Path, build: Callable[[Path], dict[str, object]]) -> Path:
    """Run `build(tmp)` into a temporary sibling folder, hash its files, then rename it to `dest`
    (`interp._util.files.atomic_folder`).

    `build` returns extra metadata for the manifest. A failure leaves nothing behind; a corrupted
    `dest` (hash mismatch) is replaced.
    """
    if is_intact(dest):
        return dest
    if dest.exists():
        print(f"rm-interp: the cached copy at {dest} failed its hash check; rebuilding it.", file=sys.stderr)
    with atomic_folder(dest) as tmp:
        meta = build(tmp)
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / MANIFEST).write_text(json.dumps({"files": files, **meta}, indent=2))
    return dest
