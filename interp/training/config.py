"""The settings of a Bradley–Terry training run (`TrainConfig`), importable without torch.

Each field's `metadata["help"]` is the help of its `rm-interp train-rm` option: the command's options are
generated from these fields, so a new setting is an option at once.

>>> cfg = TrainConfig(base="smollm2-135m-instruct", out="/tmp/rm", steps=10)
>>> cfg.resume_key()["mode"], cfg.dtype, cfg.autocast_dtype
('last-k', 'fp32', None)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from interp._util.errors import UserError

if TYPE_CHECKING:
    import torch

TrainMode = Literal["last-k", "lora"]
HEAD_INITS: tuple[str, ...] = ("fit", "lm-contrast", "random")
BF16 = ("bf16", "bfloat16")
FP32 = ("fp32", "float32")
# Settings that may change between an interrupted run and its resume without changing the result.
FREE_ON_RESUME = ("out", "save_every", "eval_batch_size", "device", "trust_remote_code")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (see `rm-interp train-rm --help`)."""

    base: str = field(metadata=_help("base LM: embedded name, local folder or hub id"))
    out: str = field(metadata=_help("output folder (checkpoints, metrics.json, metrics.jsonl)"))
    mode: TrainMode = field(default="last-k", metadata=_help("'last-k' (last k layers + norm + head) or 'lora'"))
    k: int = field(default=4, metadata=_help("trainable decoder layers in last-k mode"))
    lora_r: int = field(default=32, metadata=_help("LoRA rank (lora mode)"))
    lora_alpha: int = field(default=64, metadata=_help("LoRA alpha (lora mode)"))
    lora_dropout: float = field(default=0.0, metadata=_help("LoRA dropout (lora mode), in [0, 1)"))
    dtype: str = field(default="auto", metadata=_help("auto (GPU: bf16 autocast; CPU: fp32), bf16 or fp32"))
    epochs: int = field(default=1, metadata=_help("passes over the training pairs (ignored with --steps)"))
    steps: int | None = field(default=None, metadata=_help("total optimizer steps (overrides --epochs)"))
    batch_size: int = field(default=16, metadata=_help("pairs per step"))
    lr: float = field(default=1e-4, metadata=_help("peak learning rate of the body (AdamW, cosine, warm-up --warmup)"))
    warmup: float = field(default=0.03, metadata=_help("warm-up fraction of the steps, in [0, 1)"))
    weight_decay: float = field(default=0.0, metadata=_help("AdamW weight decay of the body"))
    max_grad_norm: float = field(default=1.0, metadata=_help("gradient clipping norm"))
    save_every: int = field(default=100, metadata=_help("checkpoint every N steps (and at the end)"))
    seed: int = field(default=0, metadata=_help("seed of the head initialisation and the data order"))
    split_seed: int = field(default=0, metadata=_help("seed of the held-out split of the prompts"))
    held_out: float = field(default=0.15, metadata=_help("fraction of prompts held out for pairwise accuracy"))
    max_length: int = field(default=96, metadata=_help("drop pairs longer than this many tokens"))
    eval_batch_size: int = field(default=32, metadata=_help("pairs per forward pass when evaluating"))
    device: str = field(default="cpu", metadata=_help("cpu or cuda"))
    trust_remote_code: bool = field(
        default=False, metadata=_help("run Python code shipped with the base model; only if you trust it")
    )
    head_init: str = field(
        default="fit",
        metadata=_help(
            "'fit' (logistic regression on frozen features, then fine-tune), 'lm-contrast' (the LM's "
            "Good−Bad unembedding) or 'random'"
        ),
    )
    head_lr: float = field(default=1e-3, metadata=_help("peak learning rate of the score head"))

    def __post_init__(self) -> None:
        """Refuse, before anything is loaded or written, every setting that cannot run."""
        if self.dtype not in (*BF16, *FP32, "auto"):
            raise UserError(f"Unknown training dtype '{self.dtype}'; use auto, bf16 or fp32.")
        if self.mode not in ("last-k", "lora"):
            raise UserError(f"Unknown --mode '{self.mode}'; use 'last-k' or 'lora'.")
        for name in ("k", "lora_r", "batch_size", "epochs", "save_every", "eval_batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}.")
        if self.steps is not None and self.steps < 1:
            raise UserError(f"--steps must be at least 1, not {self.steps}.")
        if self.head_init not in HEAD_INITS:
            raise UserError(f"Unknown --head-init '{self.head_init}'; use one of: {', '.join(HEAD_INITS)}.")
        for name in ("lr", "head_lr", "lora_alpha", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive, not {getattr(self, name)}.")
        for name, value, low, high in (
            ("warmup", self.warmup, 0.0, 1.0),
            ("lora-dropout", self.lora_dropout, 0.0, 1.0),
            ("weight-decay", self.weight_decay, 0.0, math.inf),
        ):
            if not low <= value < high:
                raise UserError(f"--{name} must be at least {low:g} and below {high:g}, not {value}.")
        if not 0.0 < self.held_out < 1.0:
            raise UserError(f"--held-out must be a fraction between 0 and 1 (e.g. 0.1), not {self.held_out}.")
        check_device(self.device)
        if self.dtype == "auto":  # resolved here, so config.json and the resume check name the dtype used
            object.__setattr__(self, "dtype", "fp32" if self.device == "cpu" else "bf16")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype the body runs in under autocast (bf16), or None for plain fp32."""
        import torch

        return torch.bfloat16 if self.dtype in BF16 else None

    def resume_key(self) -> dict[str, Any]:
        """The settings a resumed run must share with the interrupted one."""
        return {k: v for k, v in asdict(self).items() if k not in FREE_ON_RESUME}


def check_device(device: str) -> None:
    """Refuse a device this torch build cannot run on (e.g. `cuda` with a CPU-only build), in one sentence."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise UserError(f"Unknown --device '{device}'; use cpu or cuda (or cuda:N).") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if kind not in available:
        raise UserError(f"Unknown --device '{device}'; use cpu or cuda (or cuda:N).")
    if not available[kind]:
        raise UserError(f"--device {device} is not available here (this torch build has no {kind} device); use cpu.")
    index = torch.device(device).index
    if kind == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise UserError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA devices; pick another.")
