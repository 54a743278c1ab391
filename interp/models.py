"""Load base LMs and reward models by embedded name, hub id or local folder.

>>> lm = load_lm("smollm2-135m-instruct")  # doctest: +SKIP
>>> rm = rm_from_base("smollm2-135m-instruct", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from interp.embedded import EMBEDDED, embedded_path
from interp.errors import UserError

Kind = Literal["lm", "rm"]
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass
class ModelHandle:
    """A loaded model with its tokenizer, the name it was asked for, and whether it is an LM or an RM."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    kind: Kind
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def body(self) -> Any:
        """The decoder stack without LM head or score head (e.g. `LlamaModel`): `.layers`, `.norm`."""
        return self.model.base_model

    @property
    def layers(self) -> torch.nn.ModuleList:
        """The decoder layers, in order."""
        return cast(torch.nn.ModuleList, self.body.layers)

    @property
    def head(self) -> torch.nn.Linear:
        """The RM's scalar score head (fp32)."""
        return cast(torch.nn.Linear, self.model.score)

    @property
    def n_layers(self) -> int:
        return int(self.model.config.get_text_config().num_hidden_layers)

    @property
    def d_model(self) -> int:
        return int(self.model.config.get_text_config().hidden_size)

    @property
    def fingerprint(self) -> str:
        """A short hash of the config and a strided sample of every weight; changes when any layer is trained."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.model)
        return self._fingerprint


def fingerprint(model: torch.nn.Module) -> str:
    """Hash of the model's config and ~1k values sampled from each parameter (fast even for 8B models)."""
    config = getattr(model, "config", None)
    header = b""
    if config is not None:
        header = type(model).__name__.encode() + str(sorted(config.get_text_config().to_diff_dict().items())).encode()
    return weights_hash(model.named_parameters(), header)


def weights_hash(params: Iterable[tuple[str, torch.Tensor]], header: bytes = b"") -> str:
    """16-hex sha256 of `header`, then the name, shape and ~1k sampled values of each named parameter."""
    digest = hashlib.sha256(header)
    with torch.no_grad():
        for name, param in params:
            flat = param.detach().reshape(-1)
            step = max(1, flat.numel() // 1024)
            digest.update(name.encode())
            digest.update(str(tuple(param.shape)).encode())
            digest.update(flat[::step].to("cpu", torch.float32).numpy().tobytes())
    return digest.hexdigest()[:16]


def resolve(name: str) -> str:
    """Map an embedded name, local folder or hub id to something `from_pretrained` takes."""
    if name in EMBEDDED:
        return str(embedded_path(name))
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if _HUB_ID.match(name):
        return name
    raise UserError(
        f"Unknown model '{name}': use an embedded model ({', '.join(EMBEDDED)}), "
        "a local folder, or a hub id like org/name."
    )


def _attn_for(config: Any) -> str:
    """Gemma models run eager attention (soft-capping, exact masks); others run SDPA."""
    return "eager" if "gemma" in str(config.get_text_config().model_type) else "sdpa"


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"Unknown dtype '{dtype}'; use one of: {', '.join(DTYPES)}.")
    return DTYPES[dtype]


def _hub_reachable() -> bool:
    """Whether the Hugging Face hub answers within 2 s (cached per process)."""
    global _HUB_STATE
    if _HUB_STATE is None:
        try:
            socket.create_connection(("huggingface.co", 443), timeout=2).close()
            _HUB_STATE = os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false")
        except OSError:
            _HUB_STATE = False
    return _HUB_STATE


_HUB_STATE: bool | None = None


def _from_pretrained(auto: Any, name: str, **kwargs: Any) -> Any:
    path = resolve(name)
    is_hub = not Path(path).is_dir()
    if is_hub and not _hub_reachable():
        kwargs["local_files_only"] = True  # fail fast instead of retrying an unreachable hub
    try:
        return auto.from_pretrained(path, **kwargs)
    except OSError as err:
        if is_hub:
            raise UserError(
                f"Could not load the hub id '{name}': the hub is unreachable or the id is wrong and "
                "it is not in the local Hugging Face cache; pass a local folder or an embedded model "
                f"({', '.join(EMBEDDED)})."
            ) from err
        raise UserError(
            f"Could not load the local folder '{name}' ({str(err).splitlines()[0]}); "
            "point to a folder written by save_pretrained."
        ) from err


def load_tokenizer(name: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with a pad token set (the EOS token when the model has none)."""
    tokenizer = _from_pretrained(AutoTokenizer, name, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise UserError(
                f"The tokenizer of '{name}' has no pad token and no EOS token to pad with; "
                "set tokenizer.pad_token before loading it here."
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load(
    auto: Any,
    name: str,
    kind: Kind,
    dtype: str | torch.dtype,
    device: str,
    device_map: str | dict[str, Any] | None,
    trust_remote_code: bool,
    **extra: Any,
) -> ModelHandle:
    tokenizer = load_tokenizer(name, trust_remote_code)
    config = _from_pretrained(AutoConfig, name, trust_remote_code=trust_remote_code, **extra)
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    model = _from_pretrained(
        auto,
        name,
        config=config,
        dtype=_dtype(dtype),
        device_map=device_map,
        trust_remote_code=trust_remote_code,
        attn_implementation=_attn_for(config),
    )
    if device_map is None:
        model.to(device)
    model.eval()
    if kind == "rm" and hasattr(model, "score"):
        model.score.float()  # the reward head always runs in fp32
    return ModelHandle(model, tokenizer, name, kind)


def load_lm(
    name: str,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    device_map: str | dict[str, Any] | None = None,
    trust_remote_code: bool = False,
) -> ModelHandle:
    """A causal LM (base or instruct) by embedded name, local folder or hub id."""
    return _load(AutoModelForCausalLM, name, "lm", dtype, device, device_map, trust_remote_code)


def load_rm(
    name: str,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    device_map: str | dict[str, Any] | None = None,
    trust_remote_code: bool = False,
) -> ModelHandle:
    """A sequence-classification reward model (scalar head) by local folder or hub id."""
    return _load(
        AutoModelForSequenceClassification,
        name,
        "rm",
        dtype,
        device,
        device_map,
        trust_remote_code,
        num_labels=1,
    )


def rm_from_base(base: str, seed: int = 0, dtype: str | torch.dtype = "float32", device: str = "cpu") -> ModelHandle:
    """A new RM: the base LM's body plus a freshly initialised scalar head (seeded, so reproducible)."""
    torch.manual_seed(seed)
    handle = load_rm(base, dtype=dtype, device=device)
    handle.model.config.rm_interp_base = base
    return handle


def save(handle: ModelHandle, folder: str | os.PathLike[str]) -> Path:
    """Save model and tokenizer with `save_pretrained`, loadable again with `load_rm` / `load_lm`."""
    out = Path(folder)
    handle.model.save_pretrained(out)
    handle.tokenizer.save_pretrained(out)
    return out
