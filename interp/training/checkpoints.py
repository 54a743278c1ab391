"""Training checkpoints: `OUT/checkpoint-<step>/`, each a loadable RM plus what a resume needs.

A checkpoint folder holds the RM (`save_pretrained`: config + safetensors + tokenizer; LoRA merged), so
`load_rm(folder)` works; `trainable.safetensors` (the trained weights, fp32, exactly as in training);
`trainer_state.pt` (optimizer, scheduler and RNG states); and `rm_interp_checkpoint.json` (step, seed,
base name, base fingerprint, data hash, run settings). It is written to a hidden temporary folder and
renamed, so a killed run never leaves half a checkpoint; a damaged one (truncated files, a bare pickle, a
garbage JSON) is refused in one sentence naming the file and how to recover.

The base fingerprint hashes the decoder body's weights only (`body_fingerprint`), so it is the same
whether the base is loaded as an LM or as an RM, and a checkpoint can be checked against its base.

>>> checkpoint_step(Path("out/checkpoint-120"))
120
>>> rm_folders(Path("no/such/run"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
interp._util.errors.UserError: The RM folder no/such/run (--rm) does not exist; give a train-rm output folder or ...
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp._util.files import atomic_folder, atomic_write, damaged, read_json
from interp.models import ModelHandle, load_rm, weights_hash
from interp.models.lineage import Lineage
from interp.score.conformance import Check, conformance

META = "rm_interp_checkpoint.json"
TRAINABLE = "trainable.safetensors"
STATE = "trainer_state.pt"


def body_fingerprint(handle: ModelHandle) -> str:
    """16-hex hash of ~1k values of every decoder-body weight (names, shapes, values; no config)."""
    return weights_hash(handle.body.named_parameters())


_STEP = re.compile(r"checkpoint-(\d+)")
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format; a bare pickle could run code when loaded and is refused


def checkpoint_step(folder: Path) -> int:
    """The step in a checkpoint folder's name."""
    return int(folder.name.rsplit("-", 1)[1])


def list_checkpoints(out: str | Path) -> list[Path]:
    """Complete checkpoints under `out` (folders `checkpoint-<step>` holding the marker file), by step."""
    folders = [p for p in Path(out).glob("checkpoint-*") if _STEP.fullmatch(p.name) and (p / META).is_file()]
    return sorted(folders, key=checkpoint_step)


def _recover(folder: Path) -> str:
    """How to recover from a damaged checkpoint: drop it and resume from the one before (or start over)."""
    return (
        f"delete the folder {folder} and rerun train-rm with --resume (it resumes from the previous checkpoint, if any)"
    )


def read_meta(folder: str | Path) -> dict[str, Any]:
    """A checkpoint's `rm_interp_checkpoint.json`; a damaged one is refused, naming the file."""
    folder = Path(folder)
    path = folder / META
    if not path.is_file():
        raise UserError(f"{folder} is not an rm-interp training checkpoint (no {META}).")
    meta = read_json(path, _recover(folder), ("step", "base_fingerprint"))
    if not isinstance(meta["step"], int) or isinstance(meta["step"], bool):
        raise damaged(path, "its step is not a whole number", _recover(folder))
    return meta


def save_checkpoint(
    out: Path,
    step: int,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    trainable: dict[str, torch.Tensor],
    state: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write `out/checkpoint-<step>` into a hidden sibling (`atomic_folder`), marker file last, and rename it into
    place; the hidden leftovers of a killed save of the same step are deleted first."""
    final = out / f"checkpoint-{step}"
    for stale in out.glob(f".{final.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    with atomic_folder(final) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_file(trainable, str(tmp / TRAINABLE))
        torch.save(state, tmp / STATE)
        (tmp / META).write_text(json.dumps({**meta, "step": step}, indent=2))
    return final


def load_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The trainable weights and the optimizer/scheduler/RNG state of a checkpoint.

    Only tensors and plain containers are loaded (`weights_only`); a bare pickle, a truncated or damaged
    file is refused in one sentence naming it and how to recover.
    """
    trainable, state_path = folder / TRAINABLE, folder / STATE
    for path in (trainable, state_path):
        if not path.is_file():
            raise damaged(path, "missing", _recover(folder))
    try:
        tensors = load_file(str(trainable))
    except (OSError, SafetensorError):
        raise damaged(trainable, "truncated or not a safetensors file", _recover(folder)) from None
    with state_path.open("rb") as handle:
        if handle.read(4) != ZIP_MAGIC:
            raise damaged(state_path, "not a torch.save archive, and a bare pickle is never loaded", _recover(folder))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(state_path, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        raise damaged(
            state_path, "truncated, or holding more than tensors and plain values", _recover(folder)
        ) from None
    if not isinstance(state, dict) or not {"optimizer", "scheduler", "torch_rng"} <= set(state):
        raise damaged(state_path, "not a trainer state written by rm-interp", _recover(folder))
    return tensors, state


def check_base(meta: dict[str, Any], fingerprint: str, base_name: str, where: str | Path) -> None:
    """Refuse a checkpoint trained from another base (by body fingerprint)."""
    if meta.get("base_fingerprint") != fingerprint:
        raise UserError(
            f"{where} was trained from base '{meta.get('base')}' (fingerprint "
            f"{meta.get('base_fingerprint')}), not from '{base_name}' ({fingerprint}); "
            "use the checkpoint with the base it was trained from."
        )


def load_checkpoint(
    folder: str | Path, base: ModelHandle | None = None, dtype: str | torch.dtype = "float32"
) -> ModelHandle:
    """Load a checkpoint as an RM; with `base`, first check it was trained from that base."""
    meta = read_meta(folder)
    if base is not None:
        check_base(meta, body_fingerprint(base), base.name, folder)
    return load_rm(str(folder), dtype=dtype)


def checkpoint_lineage(out: str | Path, base: ModelHandle, dtype: str | torch.dtype = "float32") -> Lineage:
    """Base → final RM (last checkpoint) → earlier checkpoints, each checked against `base`."""
    folders = list_checkpoints(out)
    if not folders:
        raise UserError(f"{out} holds no training checkpoints; train an RM there first (rm-interp train-rm).")
    members = [load_checkpoint(f, base, dtype) for f in folders]
    return Lineage(base, members[-1], members[:-1])


def rm_folders(rm: Path) -> list[Path]:
    """The RM folders to compare with a base: a training folder's complete checkpoints (by step), or `rm` itself
    when it is one RM folder; a missing folder, a file or a training folder without a checkpoint is refused."""
    if not rm.exists():
        raise UserError(f"The RM folder {rm} (--rm) does not exist; give a train-rm output folder or an RM folder.")
    if not rm.is_dir():
        raise UserError(f"{rm} (--rm) is a file; give a train-rm output folder or an RM folder.")
    if (rm / "metrics.json").exists() or any(rm.glob("checkpoint-*")):
        folders = list_checkpoints(rm)
        if not folders:
            raise UserError(
                f"{rm} (--rm) holds no complete checkpoint; finish the run with `rm-interp train-rm --resume`."
            )
        return folders
    return [rm]


def check_trained_from(base: ModelHandle, folders: list[Path]) -> None:
    """Refuse a checkpoint whose recorded base fingerprint is not `base`'s (plain RM folders record none)."""
    recorded = [f for f in folders if (f / META).is_file()]
    if recorded:
        fingerprint = body_fingerprint(base)
        for folder in recorded:
            check_base(read_meta(folder), fingerprint, base.name, folder)


def folders_lineage(base: ModelHandle, folders: list[Path], trust_remote_code: bool = False) -> Lineage:
    """Base → the last RM folder → the earlier ones (`rm_folders`), loaded as RMs, checked to share the base's
    tokenizer and shapes, then to be trained from this very base."""
    members = [load_rm(str(f), trust_remote_code=trust_remote_code) for f in folders]
    lineage = Lineage(base, members[-1], members[:-1])
    check_trained_from(base, folders)
    return lineage


def check_conformance(checkpoint: Path, out: Path) -> list[Check]:
    """The RM conformance checks (fp32) of a trained checkpoint, also written to `out/conformance.json`."""
    checks = conformance(load_checkpoint(checkpoint), dtypes=("float32",))
    atomic_write(out / "conformance.json", json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    return checks
