"""Training checkpoints: `OUT/checkpoint-<step>/`, each a loadable RM plus what a resume needs.

A checkpoint folder holds the RM (`save_pretrained`: config + safetensors + tokenizer; LoRA merged), so
`load_rm(folder)` works; `trainable.safetensors` (the trained weights, fp32, exactly as in training);
`trainer_state.pt` (optimizer, scheduler and RNG states); and `rm_interp_checkpoint.json` (step, seed,
base name, base fingerprint, data hash, run settings). It is written to a hidden temporary folder and
renamed, so a killed run never leaves half a checkpoint.

The base fingerprint hashes the decoder body's weights only (`body_fingerprint`), so it is the same
whether the base is loaded as an LM or as an RM, and a checkpoint can be checked against its base.

>>> checkpoint_step(Path("out/checkpoint-120"))
120
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from interp.errors import UserError
from interp.lineage import Lineage
from interp.models import ModelHandle, load_rm, weights_hash

META = "rm_interp_checkpoint.json"
TRAINABLE = "trainable.safetensors"
STATE = "trainer_state.pt"


def body_fingerprint(handle: ModelHandle) -> str:
    """16-hex hash of ~1k values of every decoder-body weight (names, shapes, values; no config)."""
    return weights_hash(handle.body.named_parameters())


def checkpoint_step(folder: Path) -> int:
    return int(folder.name.rsplit("-", 1)[1])


def list_checkpoints(out: str | Path) -> list[Path]:
    """Complete checkpoints under `out`, by step."""
    folders = [p for p in Path(out).glob("checkpoint-*") if (p / META).is_file()]
    return sorted(folders, key=checkpoint_step)


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / META
    if not path.is_file():
        raise UserError(f"{folder} is not an rm-interp training checkpoint (no {META}).")
    return dict(json.loads(path.read_text()))


def save_checkpoint(
    out: Path,
    step: int,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    trainable: dict[str, torch.Tensor],
    state: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write `out/checkpoint-<step>` atomically and return it."""
    final = out / f"checkpoint-{step}"
    tmp = out / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    save_file(trainable, str(tmp / TRAINABLE))
    torch.save(state, tmp / STATE)
    (tmp / META).write_text(json.dumps({**meta, "step": step}, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def load_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The trainable weights and the optimizer/scheduler/RNG state of a checkpoint."""
    state = torch.load(folder / STATE, weights_only=True)
    return load_file(str(folder / TRAINABLE)), dict(state)


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
