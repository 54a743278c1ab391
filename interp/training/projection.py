"""The projection test of preference data: the mean over pairs of (chosen − rejected) projected on the base
model's agency−communion direction (answers and words as mean input embeddings of their tokens), in units of
the spread of single answers' projections, with a p-value from directions with the words' agency/communion
labels permuted. `interp.training.neutrality` judges it.

>>> import torch
>>> from types import SimpleNamespace
>>> class Letters:  # a tokenizer with one id per letter
...     def __call__(self, text, add_special_tokens=False):
...         return SimpleNamespace(input_ids=[ord(c) - ord("a") for c in text])
>>> projector = Projector(Letters(), torch.eye(4), torch.eye(4)[:1], torch.eye(4)[1:2])  # agency "a", communion "b"
>>> projector.embed(["ab", "c"]).tolist()
[[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp._util.errors import UserError
from interp.lexicons.readers import Lexicon, default_lexicon
from interp.training.prefdata import PreferencePair


@dataclass(frozen=True)
class ProjectionTest:
    """Mean (chosen − rejected) projection on the agency−communion direction, in answer-spread units."""

    effect: float
    p_value: float
    n_pairs: int


@dataclass(frozen=True)
class Projector:
    """Answers as the base model's mean input embedding of their tokens; agency and communion words likewise."""

    tokenizer: Any
    embedding: torch.Tensor
    agency: torch.Tensor  # (words, d): each agency word's mean token embedding
    communion: torch.Tensor

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's mean token embedding, (len(texts), d)."""
        table = self.embedding.float()
        ids = [self.tokenizer(t, add_special_tokens=False).input_ids or [0] for t in texts]
        return torch.stack([table[i].mean(0) for i in ids]).numpy()


def lexicon_projector(tokenizer: Any, embedding: torch.Tensor, lexicon: Lexicon | None = None) -> Projector:
    """A `Projector` for the lexicon's agency and communion words (each word's mean token embedding)."""
    lex = default_lexicon() if lexicon is None else lexicon
    if not {"agency", "communion"} <= set(lex.categories):
        raise UserError("The projection check needs a lexicon with 'agency' and 'communion' categories.")

    def words(category: str) -> torch.Tensor:
        rows = [tokenizer(" " + w.rstrip("*"), add_special_tokens=False).input_ids for w in lex.categories[category]]
        return torch.stack([embedding[r].float().mean(0) for r in rows if r])

    return Projector(tokenizer, embedding, words("agency"), words("communion"))


def base_projector(base: str, trust_remote_code: bool = False) -> Projector | None:
    """The projector of a local or embedded base (its tokenizer and input embedding read from safetensors);
    None when the base keeps no local weights (e.g. a hub id not yet downloaded)."""
    from safetensors import safe_open

    from interp.models import checked_source, load_tokenizer

    folder = Path(checked_source(base, trust_remote_code=trust_remote_code))
    for file in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        with safe_open(str(file), "pt") as weights:
            key = next((k for k in weights.keys() if k.endswith("embed_tokens.weight")), None)  # noqa: SIM118
            if key is not None:
                return lexicon_projector(load_tokenizer(base, trust_remote_code), weights.get_tensor(key))
    return None


def projection_test(
    pairs: Sequence[PreferencePair], projector: Projector, n_resamples: int, rng: np.random.Generator
) -> ProjectionTest:
    """Mean (chosen − rejected) projection on the agency−communion direction, in units of the answers' spread
    along it; p-value from directions with the agency/communion labels of the words permuted (a difference
    every direction sees, such as a quality concept, is not a lean)."""
    chosen = projector.embed([p.chosen for p in pairs])
    rejected = projector.embed([p.rejected for p in pairs])
    answers, mean_diff = np.concatenate([chosen, rejected]), (chosen - rejected).mean(0)
    words = torch.cat([projector.agency, projector.communion]).numpy().astype(np.float64)
    n_agency = len(projector.agency)
    labels = np.zeros((n_resamples + 1, len(words)), dtype=bool)
    labels[:, :n_agency] = True
    for row in labels[1:]:
        rng.shuffle(row)
    directions = (labels @ words) / n_agency - ((~labels) @ words) / (len(words) - n_agency)
    spread = (answers @ directions.T).std(0) + 1e-12
    effects = (directions @ mean_diff) / spread
    extreme = int((np.abs(effects[1:]) >= abs(effects[0]) - 1e-12).sum())
    return ProjectionTest(float(effects[0]), (1 + extreme) / (1 + n_resamples), len(pairs))
