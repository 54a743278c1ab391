"""The ten reward models the paper studies: base family, dtype, and how each reports its score.

>>> entry = lookup("big2_rewards_Ray2333_GRM-gemma2-2B-rewardmodel-ft.csv")
>>> entry.family, entry.readout
('gemma', 'logits0')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from interp._util.errors import UserError

if TYPE_CHECKING:
    import torch

Readout = Literal["logits0", "score_attr"]
Family = Literal["llama", "gemma"]


@dataclass(frozen=True)
class RegistryEntry:
    """One published RM: its hub id, base family, weight dtype, score readout and whether it needs remote code."""

    hub_id: str
    family: Family
    dtype: str
    readout: Readout
    trust_remote_code: bool = False
    base_model: str = ""

    @property
    def file_key(self) -> str:
        """The `org_name` form the paper uses in its file names."""
        return self.hub_id.replace("/", "_")


REGISTRY: tuple[RegistryEntry, ...] = (
    RegistryEntry(
        "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
        "llama",
        "bfloat16",
        "logits0",
        base_model="meta-llama/Llama-3.1-8B-Instruct",
    ),
    RegistryEntry(
        "Skywork/Skywork-Reward-Gemma-2-27B",
        "gemma",
        "bfloat16",
        "logits0",
        base_model="google/gemma-2-27b-it",
    ),
    RegistryEntry(
        "Skywork/Skywork-Reward-Gemma-2-27B-v0.2",
        "gemma",
        "bfloat16",
        "logits0",
        base_model="google/gemma-2-27b-it",
    ),
    RegistryEntry(
        "nicolinho/QRM-Llama3.1-8B",
        "llama",
        "bfloat16",
        "score_attr",
        True,
        base_model="meta-llama/Llama-3.1-8B-Instruct",
    ),
    RegistryEntry(
        "nicolinho/QRM-Gemma-2-27B",
        "gemma",
        "bfloat16",
        "score_attr",
        True,
        base_model="google/gemma-2-27b-it",
    ),
    RegistryEntry(
        "LxzGordon/URM-LLaMa-3.1-8B",
        "llama",
        "bfloat16",
        "logits0",
        True,
        base_model="meta-llama/Llama-3.1-8B-Instruct",
    ),
    RegistryEntry(
        "Ray2333/GRM-Llama3-8B-rewardmodel-ft",
        "llama",
        "bfloat16",
        "logits0",
        base_model="meta-llama/Meta-Llama-3-8B-Instruct",
    ),
    RegistryEntry(
        "Ray2333/GRM-Llama3.2-3B-rewardmodel-ft",
        "llama",
        "bfloat16",
        "logits0",
        base_model="meta-llama/Llama-3.2-3B-Instruct",
    ),
    RegistryEntry(
        "Ray2333/GRM-gemma2-2B-rewardmodel-ft",
        "gemma",
        "bfloat16",
        "logits0",
        base_model="google/gemma-2-2b-it",
    ),
    RegistryEntry(
        "RLHFlow/ArmoRM-Llama3-8B-v0.1",
        "llama",
        "bfloat16",
        "score_attr",
        True,
        base_model="meta-llama/Meta-Llama-3-8B-Instruct",
    ),
)


def _normalise(name: str) -> str:
    return re.sub(r"\.(csv|parquet)$", "", name.strip().lower()).replace("/", "_")


def lookup(name: str) -> RegistryEntry:
    """Find an RM by hub id, `org_name` key, or a file name that ends in that key (e.g. the paper's CSVs)."""
    key = _normalise(name)
    for entry in REGISTRY:
        if entry.hub_id.lower() == name.lower() or key.endswith(entry.file_key.lower()):
            return entry
    known = ", ".join(e.hub_id for e in REGISTRY)
    raise UserError(f"'{name}' is not a registered reward model; known ones: {known}.")


def read_score(output: Any, readout: Readout) -> torch.Tensor:
    """Return one scalar reward per sequence from a model's forward output, as fp32 of shape (batch,)."""
    readers: dict[Readout, Callable[[Any], torch.Tensor]] = {
        "logits0": lambda out: out.logits[:, 0],
        "score_attr": lambda out: out.score.reshape(out.score.shape[0], -1)[:, 0],
    }
    return readers[readout](output).float()
