"""Load base LMs and reward models by embedded name (`smollm2-135m-instruct`, `gemma3-270m`), hub id or local folder.

Here a tiny random model saved to a folder (`interp.models.tiny`) stands in for a real one:

>>> import tempfile
>>> from interp.models.tiny import build_tiny
>>> folder = str(build_tiny("llama", tempfile.mkdtemp()))
>>> lm, rm = load_lm(folder), rm_from_base(folder, seed=0)  # an RM: the LM's body plus a new scalar head
>>> lm.kind, rm.kind, rm.n_layers, rm.d_model, rm.head.out_features
('lm', 'rm', 4, 64, 1)
>>> load_rm(str(save(rm, tempfile.mkdtemp()))).fingerprint == rm.fingerprint
True
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
)

from interp._util.errors import UserError
from interp.models.embedded import EMBEDDED, embedded_path
from interp.models.hub import HUB_ID, hub_reachable, looks_like_path

Kind = Literal["lm", "rm"]
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "spiece.model")


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


def _remote_code_error(name: str) -> UserError:
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
            f"{path} is not a readable JSON file ({_first_line(err)}); restore it from the model's source "
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
            f"The weights file {path} is missing, truncated or corrupted ({_first_line(err)}); copy or download "
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
        raise _remote_code_error(name)
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


def _attn_for(config: Any) -> str:
    """Gemma models run eager attention (soft-capping, exact masks); others run SDPA."""
    return "eager" if "gemma" in str(config.get_text_config().model_type) else "sdpa"


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"Unknown dtype '{dtype}'; use one of: {', '.join(DTYPES)}.")
    return DTYPES[dtype]


def _first_line(err: BaseException) -> str:
    """The first sentence of an exception's message, to quote inside a one-sentence refusal."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0].split(". ")[0].rstrip(".") if lines else type(err).__name__


def _load_error(name: str, source: str, what: str, err: Exception) -> UserError:
    """The one-sentence refusal for a failed `from_pretrained` of `what` (model, tokenizer, config)."""
    if "trust_remote_code" in str(err):
        return _remote_code_error(name)
    if Path(source).is_dir():
        return UserError(
            f"Could not load the {what} in '{name}' ({_first_line(err)}); point to a folder written by "
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
        f"Could not load the {what} of the hub model '{name}' ({_first_line(err)}); check the id, or pass a "
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
    dtype: str | torch.dtype,
    device: str,
    device_map: str | dict[str, Any] | None,
    trust_remote_code: bool,
    new_head: bool = False,
    **extra: Any,
) -> ModelHandle:
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


def load_lm(
    name: str,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    device_map: str | dict[str, Any] | None = None,
    trust_remote_code: bool = False,
) -> ModelHandle:
    """A causal LM (base or instruct) by embedded name, local folder or hub id."""
    return _load(AutoModelForCausalLM, name, "lm", dtype, device, device_map, trust_remote_code)


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


def _new_rm(base: str, dtype: str | torch.dtype, device: str, trust_remote_code: bool) -> ModelHandle:
    return _load(
        AutoModelForSequenceClassification, base, "rm", dtype, device, None, trust_remote_code, True, num_labels=1
    )


def rm_from_base(
    base: str,
    seed: int = 0,
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    trust_remote_code: bool = False,
) -> ModelHandle:
    """A new RM: the base LM's body plus a freshly initialised scalar head (seeded, so reproducible)."""
    torch.manual_seed(seed)
    handle = _new_rm(base, dtype, device, trust_remote_code)
    handle.model.config.rm_interp_base = base
    return handle


def save(handle: ModelHandle, folder: str | os.PathLike[str]) -> Path:
    """Save model and tokenizer with `save_pretrained`, loadable again with `load_rm` / `load_lm`."""
    out = Path(folder)
    handle.model.save_pretrained(out)
    handle.tokenizer.save_pretrained(out)
    return out
