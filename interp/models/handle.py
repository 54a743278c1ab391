"""The loaded model: `ModelHandle` (model, tokenizer, name, LM or RM) and its fingerprint, a hash that changes
when any layer is trained.

>>> import torch
>>> layer = torch.nn.Linear(4, 2)
>>> weights_hash(layer.named_parameters()) == weights_hash(layer.named_parameters()), len(fingerprint(layer))
(True, 16)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

Kind = Literal["lm", "rm"]


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

    def summary(self) -> dict[str, str | int]:
        """Kind, architecture, layers, d_model, vocabulary size, dtype and fingerprint, as one row."""
        config = self.model.config
        return {
            "kind": self.kind,
            "architecture": config.architectures[0] if config.architectures else type(self.model).__name__,
            "layers": self.n_layers,
            "d_model": self.d_model,
            "vocab": len(self.tokenizer),
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "fingerprint": self.fingerprint,
        }


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
