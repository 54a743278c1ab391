"""Which weights train: the last k decoder layers (+ final norm, + score head), or LoRA adapters (+ head).

Works for RMs (sequence classification, head `score`) and for LMs (planted-bias SFT; the LM head is tied
to the embeddings in the embedded models, so it stays frozen). LoRA adapters are injected in place with
`peft`, so `handle.body` and `handle.model.score` keep working; `export_model` returns a plain model with
the adapters merged, for `save_pretrained`.

>>> TrainMode.__args__
('last-k', 'lora')
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

from interp._util.errors import UserError
from interp.models import ModelHandle
from interp.training.config import TrainMode

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass
class Prepared:
    """A handle made trainable: its trainable parameters by name and, in LoRA mode, the peft wrapper."""

    handle: ModelHandle
    params: dict[str, torch.nn.Parameter]
    peft: PeftModel | None = None

    @property
    def n_trainable(self) -> int:
        return sum(p.numel() for p in self.params.values())


def final_norm(handle: ModelHandle) -> torch.nn.Module:
    """The body's final norm (`body.norm`), the module the score head reads through."""
    norm = getattr(handle.body, "norm", None)
    if not isinstance(norm, torch.nn.Module):
        raise UserError(
            f"'{handle.name}' has no final norm at body.norm; last-k training supports "
            "Llama-, Gemma- and Qwen-style decoders."
        )
    return norm


def prepare(
    handle: ModelHandle,
    mode: TrainMode = "last-k",
    k: int = 4,
    lora_r: int = 32,
    lora_alpha: int = 64,
    lora_dropout: float = 0.0,
) -> Prepared:
    """Freeze `handle` except what `mode` trains; the RM's score head always trains."""
    model = handle.model
    model.requires_grad_(False)
    head = getattr(model, "score", None) if handle.kind == "rm" else None
    peft_model = None
    if mode == "last-k":
        if not 1 <= k <= handle.n_layers:
            raise UserError(f"--k must be between 1 and {handle.n_layers} (the layers of '{handle.name}'), not {k}.")
        for layer in list(handle.layers)[-k:]:
            layer.requires_grad_(True)
        final_norm(handle).requires_grad_(True)
    elif mode == "lora":
        if lora_r < 1:
            raise UserError(f"--lora-r must be at least 1, not {lora_r}.")
        config = LoraConfig(
            r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=list(LORA_TARGETS), bias="none"
        )
        peft_model = get_peft_model(model, config)  # injects adapters into `model` in place
    else:
        raise UserError(f"Unknown training mode '{mode}'; use 'last-k' or 'lora'.")
    if head is not None:
        head.requires_grad_(True)
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    return Prepared(handle, params, peft_model)


def trainable_state(prepared: Prepared) -> dict[str, torch.Tensor]:
    """Detached fp32-exact copies of the trainable parameters (what a resume needs besides the base)."""
    return {name: p.detach().clone().contiguous() for name, p in prepared.params.items()}


def load_trainable(prepared: Prepared, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Copy saved trainable parameters back in; refuses names or shapes that do not match (another run's)."""
    if set(tensors) != set(prepared.params):
        missing = sorted(set(prepared.params) ^ set(tensors))[0]
        raise UserError(
            f"{where} was written for other trainable weights (e.g. '{missing}'); resume with the "
            "same --mode, --k and --lora-r, or start a new --out."
        )
    for name, p in prepared.params.items():
        if tensors[name].shape != p.shape:
            raise UserError(
                f"{where} holds '{name}' of shape {list(tensors[name].shape)}, not {list(p.shape)}, so it is from "
                "another run; delete that checkpoint folder and rerun, or give the --out of the run it came from."
            )
    with torch.no_grad():
        for name, p in prepared.params.items():
            p.copy_(tensors[name])


def export_model(prepared: Prepared) -> PreTrainedModel:
    """A plain transformers model to save: the model itself, or a merged copy in LoRA mode."""
    if prepared.peft is None:
        return prepared.handle.model
    merged = copy.deepcopy(prepared.peft).merge_and_unload()
    merged.requires_grad_(False)
    return merged  # type: ignore[no-any-return]


def param_groups(prepared: Prepared, lr: float, head_lr: float) -> list[dict[str, object]]:
    """AdamW groups: the RM's score head at `head_lr`, everything else that trains at `lr`."""
    head = {id(p) for p in prepared.handle.head.parameters()} if prepared.handle.kind == "rm" else set()
    groups = [
        {"params": [p for p in prepared.params.values() if id(p) in head], "lr": head_lr},
        {"params": [p for p in prepared.params.values() if id(p) not in head], "lr": lr},
    ]
    return [g for g in groups if g["params"]]
