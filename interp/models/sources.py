"""From a model name to what `from_pretrained` takes: an embedded name, a local folder or a hub id, with a local
folder checked first (config, tokenizer files, safetensors weights) so a bad one is refused in one sentence.

>>> resolve("org/name")  # a hub id passes through
'org/name'
>>> import tempfile
>>> checked_source(tempfile.mkdtemp())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
interp._util.errors.UserError: '...' is not a model folder: it has no config.json; ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from interp._util.errors import UserError
from interp.models.embedded import EMBEDDED, embedded_path
from interp.models.hub import HUB_ID, looks_like_path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "spiece.model")


def remote_code_error(name: str) -> UserError:
    """The one-sentence refusal of a model that needs remote code while it is off."""
    return UserError(
        f"'{name}' needs remote code (Python shipped with the model, named by auto_map in its config), which "
        "is off by default because it runs on this machine; if you trust its source, pass --trust-remote-code "
        "on the command line (trust_remote_code=True in Python)."
    )


def resolve(name: str) -> str:
    """Map an embedded name, local folder or hub id to something `from_pretrained` takes.

    A name that looks like a path (`./x`, `/x`, `~/x`, `a/b/c`, or `runs/x` where `runs/` exists) must be
    an existing folder; a file is refused with a pointer to its folder.
    """
    if name in EMBEDDED:
        return str(embedded_path(name))
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise UserError(
            f"'{name}' is a file, not a model folder; pass the folder that holds config.json, the tokenizer "
            f"and the weights (for this file, '{path.parent}')."
        )
    if looks_like_path(name):
        raise UserError(
            f"The model folder '{name}' does not exist (relative paths start at {Path.cwd()}); check the path, "
            f"or pass an embedded model ({', '.join(EMBEDDED)}) or a hub id like org/name."
        )
    if HUB_ID.fullmatch(name):
        return name
    raise UserError(
        f"Unknown model '{name}': it is not an existing folder (relative paths start at {Path.cwd()}), an "
        f"embedded model ({', '.join(EMBEDDED)}), or a hub id like org/name; check the name."
    )


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a model folder's file, or a UserError naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(
            f"{path} is not a readable JSON file ({first_line(err)}); restore it from the model's source "
            "or save the model again with save_pretrained."
        ) from err
    if not isinstance(value, dict):
        raise UserError(f"{path} does not hold a JSON object; restore it from the model's source.")
    return value


def _check_safetensors(path: Path) -> None:
    """Refuse a missing, truncated or corrupted safetensors file (its header must cover the whole file)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if not 2 <= length <= size - 8:
                raise ValueError("its header is cut off")
            header = json.loads(handle.read(length))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        if size != 8 + length + end:
            raise ValueError(f"{size} bytes where the header announces {8 + length + end}")
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        raise UserError(
            f"The weights file {path} is missing, truncated or corrupted ({first_line(err)}); copy or download "
            "it again, or save the model again with save_pretrained."
        ) from err


def _check_weights(folder: Path) -> None:
    """Refuse a folder whose weights are missing, truncated, or pickles (`.bin`: unsafe, never loaded)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise UserError(f"{index} has no weight_map; restore it from the model's source.")
        files = sorted({folder / str(f) for f in weight_map.values()})
    elif (folder / "model.safetensors").is_file():
        files = [folder / "model.safetensors"]
    else:
        pickles = sorted(p.name for p in folder.glob("pytorch_model*.bin*"))
        if pickles:
            raise UserError(
                f"The weights {folder / pickles[0]} are refused because they are a pickle file (unsafe to "
                "load: it can run arbitrary code); convert them to safetensors once where you trust the file "
                "(load the model with transformers and call save_pretrained, which writes model.safetensors) "
                "and point to that folder."
            )
        raise UserError(
            f"'{folder}' has no model weights (model.safetensors); point to a folder written by save_pretrained."
        )
    for file in files:
        _check_safetensors(file)


def _check_folder(folder: Path, name: str, weights: bool, trust_remote_code: bool) -> None:
    """Refuse a local folder that is not a loadable model before transformers tries it."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UserError(
            f"'{name}' is not a model folder: it has no config.json; point to a folder written by "
            "save_pretrained (such as a train-rm run folder or a downloaded model)."
        )
    config = _read_json(config_file)
    tokenizer_config = folder / "tokenizer_config.json"
    remote = "auto_map" in config or (tokenizer_config.is_file() and "auto_map" in _read_json(tokenizer_config))
    if remote and not trust_remote_code:
        raise remote_code_error(name)
    model_type = config.get("model_type")
    if not remote and not (isinstance(model_type, str) and model_type in CONFIG_MAPPING):
        named = f"names the model type {model_type!r}" if model_type else "names no model_type"
        raise UserError(
            f"{config_file} {named}, which transformers {transformers.__version__} does not know; fix "
            "model_type, or upgrade transformers if the model is newer than it."
        )
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(
            f"'{name}' has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}); copy them from the model "
            "it was built on (tokenizer.save_pretrained writes them)."
        )
    if weights:
        _check_weights(folder)


def checked_source(name: str, weights: bool = True, trust_remote_code: bool = False) -> str:
    """`resolve(name)`, with a local folder checked first (config, tokenizer, weights): one-sentence refusals."""
    source = resolve(name)
    if Path(source).is_dir():
        _check_folder(Path(source), name, weights, trust_remote_code)
    return source


def first_line(err: BaseException) -> str:
    """The first sentence of an exception's message, to quote inside a one-sentence refusal."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0].split(". ")[0].rstrip(".") if lines else type(err).__name__
