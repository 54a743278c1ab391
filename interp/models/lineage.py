"""A Lineage: a base LM, the RM built from it, and optional RM checkpoints, checked to be comparable.

>>> import tempfile
>>> from interp.models import load_lm, rm_from_base
>>> from interp.models.tiny import build_tiny
>>> folder = str(build_tiny("llama", tempfile.mkdtemp()))  # a tiny random base; embedded names work the same
>>> lineage = Lineage(load_lm(folder), rm_from_base(folder))
>>> float(lineage.weight_change().max())  # a fresh RM's body is the base's
0.0
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import pandas as pd
import torch

from interp._util.errors import UserError
from interp.models import ModelHandle

_LAYER = re.compile(r"^layers\.(\d+)\.")


def vocab_hash(handle: ModelHandle) -> str:
    """Hash of the tokenizer's token → id map."""
    items = sorted(handle.tokenizer.get_vocab().items())
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


@dataclass
class Lineage:
    """Base LM → RM (→ checkpoints). Refuses members with a different vocabulary or layer count."""

    base: ModelHandle
    rm: ModelHandle
    checkpoints: list[ModelHandle] = field(default_factory=list)

    def __post_init__(self) -> None:
        base_type = self.base.model.config.get_text_config().model_type
        for member in [self.rm, *self.checkpoints]:
            member_type = member.model.config.get_text_config().model_type
            if member_type != base_type:
                raise UserError(
                    f"'{member.name}' is a {member_type} model but '{self.base.name}' is a {base_type} "
                    "model, so they are not one lineage; pair an RM with the base it was trained from."
                )
            if vocab_hash(member) != vocab_hash(self.base):
                raise UserError(
                    f"'{member.name}' and '{self.base.name}' have different tokenizer vocabularies, "
                    "so they are not one lineage; pair an RM with the base it was trained from."
                )
            if member.n_layers != self.base.n_layers or member.d_model != self.base.d_model:
                raise UserError(
                    f"'{member.name}' has {member.n_layers} layers × {member.d_model} dims but "
                    f"'{self.base.name}' has {self.base.n_layers} × {self.base.d_model}; "
                    "pair an RM with the base it was trained from."
                )

    @property
    def lineage_id(self) -> str:
        """Shared by all members: the base's fingerprint."""
        return self.base.fingerprint

    def weight_change(self, member: ModelHandle | None = None) -> pd.Series:
        """Per-layer ‖W_member − W_base‖ / ‖W_base‖ over all weights of each decoder layer (the RM by default)."""
        other = dict((member or self.rm).body.named_parameters())
        diff = torch.zeros(self.base.n_layers, dtype=torch.float64)
        norm = torch.zeros(self.base.n_layers, dtype=torch.float64)
        with torch.no_grad():
            for name, weight in self.base.body.named_parameters():
                match = _LAYER.match(name)
                if match is None:
                    continue
                layer = int(match.group(1))
                w = weight.detach().double().cpu()
                diff[layer] += (other[name].detach().double().cpu() - w).pow(2).sum()
                norm[layer] += w.pow(2).sum()
        return pd.Series((diff.sqrt() / norm.sqrt()).numpy(), name="relative_weight_change").rename_axis("layer")
