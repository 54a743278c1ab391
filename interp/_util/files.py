"""Writing outputs safely: check an output folder before any work, write files atomically, stage whole outputs.

Every command checks its output folder first (`check_output_folder`), so a bad `--out` is refused in one
line before anything runs; it then writes into a hidden temporary sibling (`staged_folder`) whose files
are renamed into place only when the run succeeded, so a failed or killed run leaves nothing behind and
never half-overwrites another run's files.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> check_output_folder(out) == out
True
>>> with staged_folder(out) as tmp:
...     _ = (tmp / "table.csv").write_text("a,b\\n1,2\\n")
>>> sorted(p.name for p in out.iterdir())
['table.csv']
>>> _ = atomic_write(out / "note.txt", "done")
>>> (out / "note.txt").read_text()
'done'

Input files are read with `read_text` (text: one sentence for a missing path, a folder, a binary, non-UTF-8
or empty file) and `read_json` (state files the toolkit wrote: one sentence naming the damaged file and
how to recover, built by `damaged`).

>>> read_text(out / "note.txt", "prompt file", "--prompts")
'done'
>>> read_text(out, "prompt file", "--prompts")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
interp._util.errors.UserError: The prompt file ... (--prompts) is a folder; give a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from interp._util.errors import UserError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output_folder(folder: str | os.PathLike[str], option: str = "--out") -> Path:
    """Refuse, in one sentence, an output folder that is a file or cannot be written; creates nothing.

    >>> check_output_folder("/proc/version")
    Traceback (most recent call last):
    ...
    interp._util.errors.UserError: The output folder /proc/version (--out) is a file; give a folder path.
    """
    path = Path(folder).expanduser()
    existing = _nearest_existing(path)
    if existing == path and not path.is_dir():
        raise UserError(f"The output folder {path} ({option}) is a file; give a folder path.")
    if existing != path and not existing.is_dir():
        raise UserError(f"The output folder {path} ({option}) lies under the file {existing}; give a folder path.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"The output folder {path} ({option}) is not writable ({existing}); choose a writable location."
        )
    return path


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write `data` to a temporary sibling and rename it onto `path` (readers never see half a file)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of `path` for a writer that needs a file name (parquet, safetensors);
    it is renamed onto `path` when the block succeeds and deleted when it fails."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; give the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new hidden sibling folder of `path` to fill; when the block succeeds it replaces `path` as a
    whole (an old `path` is moved aside first, then deleted), when it fails it is deleted.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_folder(out) as tmp:
    ...     _ = (tmp / "weights.bin").write_bytes(b"1")
    >>> sorted(p.name for p in out.parent.iterdir()), sorted(p.name for p in out.iterdir())
    (['model'], ['weights.bin'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        old = target.parent / f"{tmp.name[:-4]}.old"  # unique like tmp
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def staged_folder(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of `dest`; on success move everything in it into `dest`, else delete it."""
    target = check_output_folder(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        target.mkdir(exist_ok=True)
        for item in sorted(tmp.rglob("*")):
            moved = target / item.relative_to(tmp)
            if item.is_dir():
                moved.mkdir(exist_ok=True)
            else:
                os.replace(item, moved)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_text(path: str | os.PathLike[str], what: str, option: str | None = None) -> str:
    """The text of a UTF-8 file (a byte-order mark dropped), refusing in one sentence a missing path, a
    folder, an unreadable, binary, non-UTF-8 or empty file; `what` names the file ("lexicon file"),
    `option` the option it came from.

    >>> read_text("/no/such.txt", "texts file", "--texts")
    Traceback (most recent call last):
    ...
    interp._util.errors.UserError: The texts file /no/such.txt (--texts) does not exist; give an existing file.
    """
    file = Path(path)
    name = f"The {what} {file}" + (f" ({option})" if option else "")
    if not file.exists():
        raise UserError(f"{name} does not exist; give an existing file.")
    if file.is_dir():
        raise UserError(f"{name} is a folder; give a file.")
    try:
        data = file.read_bytes()
    except OSError as err:
        raise UserError(f"{name} cannot be read ({err.strerror}); check its permissions.") from None
    if b"\x00" in data:
        raise UserError(f"{name} is a binary file, not text; give a UTF-8 text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{name} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); save it as UTF-8."
        ) from None
    if not text.strip():
        raise UserError(f"{name} is empty; give a file with content.")
    return text


def damaged(path: str | os.PathLike[str], problem: str, recover: str) -> UserError:
    """The one-sentence error for a damaged state file: which file, what is wrong, how to recover.

    >>> str(damaged("out/meta.json", "not valid JSON", "delete the folder out and rerun"))
    'The file out/meta.json is damaged (not valid JSON); delete the folder out and rerun.'
    """
    return UserError(f"The file {path} is damaged ({problem}); {recover}.")


def read_json(path: str | os.PathLike[str], recover: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON object the toolkit wrote, holding at least `keys`; a damaged file is refused with `damaged`."""
    file = Path(path)
    try:
        data = json.loads(file.read_bytes().decode("utf-8"))
    except OSError as err:
        raise damaged(file, f"cannot be read: {err.strerror}", recover) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise damaged(file, "not valid JSON", recover) from None
    if not isinstance(data, dict):
        raise damaged(file, "not a JSON object", recover)
    missing = [k for k in keys if k not in data]
    if missing:
        raise damaged(file, f"no '{missing[0]}' field", recover)
    return data
