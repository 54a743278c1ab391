"""Load base LMs and reward models by embedded name (`smollm2-135m-instruct`, `gemma3-270m`), hub id or local folder.

Here a tiny random model saved to a folder (`interp.models.tiny`) stands in for a real one:

>>> import tempfile
>>> from interp.models.tiny import build_tiny
>>> folder = str(build_tiny("llama", tempfile.mkdtemp()))
>>> lm, rm = load_lm(folder), rm_from_base(folder, seed=0)  # an RM: the LM's body plus a new scalar head
>>> lm.kind, rm.kind, rm.n_layers, rm.d_model, rm.head.out_features
('lm', 'rm', 4, 64, 1)
>>> saved = str(save(rm, tempfile.mkdtemp()))
>>> load_rm(saved).fingerprint == rm.fingerprint
True
>>> declares_reward_model(folder), declares_reward_model(saved), load_model(saved).kind
(False, True, 'rm')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict, Unpack

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
)

from interp._util.errors import UserError
from interp.models.embedded import EMBEDDED
from interp.models.handle import Kind, ModelHandle
from interp.models.hub import hub_reachable
from interp.models.registry import REGISTRY
from interp.models.sources import checked_source, first_line, remote_code_error

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


class LoadOptions(TypedDict, total=False):
    """How `load_lm` and `load_rm` load a model (keywords; defaults in brackets): `dtype` ("float32"; a name in
    DTYPES or a torch dtype), `device` ("cpu"), `device_map` (None: all on `device`; "auto" or a dict spreads
    the layers over devices with accelerate) and `trust_remote_code` (False)."""

    dtype: str | torch.dtype
    device: str
    device_map: str | dict[str, Any] | None
    trust_remote_code: bool


def _attn_for(config: Any) -> str:
    """Gemma models run eager attention (soft-capping, exact masks); others run SDPA."""
    return "eager" if "gemma" in str(config.get_text_config().model_type) else "sdpa"


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"Unknown dtype '{dtype}'; use one of: {', '.join(DTYPES)}.")
    return DTYPES[dtype]


def _load_error(name: str, source: str, what: str, err: Exception) -> UserError:
    """The one-sentence refusal for a failed `from_pretrained` of `what` (model, tokenizer, config)."""
    if "trust_remote_code" in str(err):
        return remote_code_error(name)
    if Path(source).is_dir():
        return UserError(
            f"Could not load the {what} in '{name}' ({first_line(err)}); point to a folder written by "
            "save_pretrained, or copy the missing or broken files again from the model's source."
        )
    if not hub_reachable():
        return UserError(
            f"'{name}' is neither a local folder nor a hub model in the local Hugging Face cache (the hub is "
            f"unreachable); check the path, or pass a local folder or an embedded model ({', '.join(EMBEDDED)})."
        )
    if what == "model" and "safetensors" in str(err):
        return UserError(
            f"The hub model '{name}' has no safetensors weights, and pickle weights are refused because they are "
            "unsafe to load; convert them to safetensors once where you trust them (save_pretrained) and pass "
            "that folder."
        )
    return UserError(
        f"Could not load the {what} of the hub model '{name}' ({first_line(err)}); check the id, or pass a "
        f"local folder or an embedded model ({', '.join(EMBEDDED)})."
    )


def _from_pretrained(auto: Any, name: str, source: str, what: str, **kwargs: Any) -> Any:
    if not Path(source).is_dir() and not hub_reachable():
        kwargs["local_files_only"] = True  # fail fast instead of retrying an unreachable hub
    try:
        return auto.from_pretrained(source, **kwargs)
    except Exception as err:  # transformers, tokenizers and safetensors raise many types for a bad model
        raise _load_error(name, source, what, err) from err


def _tokenizer(name: str, source: str, trust_remote_code: bool) -> PreTrainedTokenizerBase:
    tokenizer = _from_pretrained(AutoTokenizer, name, source, "tokenizer", trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise UserError(
                f"The tokenizer of '{name}' has no pad token and no EOS token to pad with; "
                "set tokenizer.pad_token before loading it here."
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(name: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with a pad token set (the EOS token when the model has none)."""
    return _tokenizer(name, checked_source(name, False, trust_remote_code), trust_remote_code)


def _load(
    auto: Any,
    name: str,
    kind: Kind,
    *,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    device_map: str | dict[str, Any] | None = None,
    trust_remote_code: bool = False,
    new_head: bool = False,
    **extra: Any,
) -> ModelHandle:
    """The model `name` through the auto class `auto`; `extra` goes to its config (e.g. num_labels=1)."""
    torch_dtype = _dtype(dtype)
    source = checked_source(name, True, trust_remote_code)
    tokenizer = _tokenizer(name, source, trust_remote_code)
    config = _from_pretrained(AutoConfig, name, source, "config", trust_remote_code=trust_remote_code, **extra)
    classes = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES if kind == "rm" else MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if config.model_type not in classes and not getattr(config, "auto_map", None):
        raise UserError(
            f"'{name}' is a {config.model_type} model, which transformers cannot load as a "
            f"{'reward model (sequence classification)' if kind == 'rm' else 'causal language model'}; "
            "pass a decoder model such as Llama, Gemma or Qwen."
        )
    if kind == "rm" and not new_head:
        _refuse_untrained_head(name, config)
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    model = _from_pretrained(
        auto,
        name,
        source,
        "model",
        config=config,
        dtype=torch_dtype,
        device_map=device_map,
        trust_remote_code=trust_remote_code,
        attn_implementation=_attn_for(config),
        use_safetensors=True,
    )
    if device_map is None:
        model.to(device)
    model.eval()
    if kind == "rm" and hasattr(model, "score"):
        model.score.float()  # the reward head always runs in fp32
    return ModelHandle(model, tokenizer, name, kind)


def load_lm(name: str, **options: Unpack[LoadOptions]) -> ModelHandle:
    """A causal LM (base or instruct) by embedded name, local folder or hub id; `options`: `LoadOptions`."""
    return _load(AutoModelForCausalLM, name, "lm", **options)


def _refuse_untrained_head(name: str, config: Any) -> None:
    """A folder saved as a causal LM has no trained score head: loading it as an RM would score with a random one."""
    architectures = list(getattr(config, "architectures", None) or [])
    heads = ("ForSequenceClassification", "ForRewardModel")
    if architectures and not getattr(config, "auto_map", None) and not any(a.endswith(heads) for a in architectures):
        raise UserError(
            f"'{name}' is a language model ({architectures[0]}), not a reward model, so its score head "
            "would be random; build an RM from it (rm_from_base, or --base-for-new-head / --base on the "
            "command line) or pass a trained RM."
        )


def load_rm(name: str, **options: Unpack[LoadOptions]) -> ModelHandle:
    """A sequence-classification reward model (scalar head) by local folder or hub id; `options`: `LoadOptions`."""
    return _load(AutoModelForSequenceClassification, name, "rm", num_labels=1, **options)


def rm_from_base(
    base: str,
    seed: int = 0,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    trust_remote_code: bool = False,
) -> ModelHandle:
    """A new RM: the base LM's body plus a freshly initialised scalar head (seeded, so reproducible)."""
    torch.manual_seed(seed)
    handle = _load(
        AutoModelForSequenceClassification,
        base,
        "rm",
        dtype=dtype,
        device=device,
        trust_remote_code=trust_remote_code,
        new_head=True,
        num_labels=1,
    )
    handle.model.config.rm_interp_base = base
    return handle


def save(handle: ModelHandle, folder: str | os.PathLike[str]) -> Path:
    """Save model and tokenizer with `save_pretrained`, loadable again with `load_rm` / `load_lm`."""
    out = Path(folder)
    handle.model.save_pretrained(out)
    handle.tokenizer.save_pretrained(out)
    return out


def declares_reward_model(name: str) -> bool:
    """Whether `name` is a registered RM or a local folder whose config names a sequence-classification model
    (an embedded name, a hub id outside the registry or an unreadable config: no)."""
    if any(e.hub_id.lower() == name.lower() for e in REGISTRY):
        return True
    config = Path(name).expanduser() / "config.json"
    if name in EMBEDDED or not config.is_file():
        return False
    try:
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (ValueError, AttributeError):  # not a readable config: the loader says what is wrong with it
        return False
    return any(str(a).endswith("ForSequenceClassification") for a in architectures)


def load_model(name: str, **options: Unpack[LoadOptions]) -> ModelHandle:
    """The model `name` as what it declares itself: an RM (`load_rm`) when `declares_reward_model`, else an LM."""
    return (load_rm if declares_reward_model(name) else load_lm)(name, **options)
