"""The base LM's unembedding direction for agency vs communion, and how strongly an RM's head reads it.

The LM's logit for token t is W_U[t] · norm(h), with norm(h) = g ⊙ h / rms(h). So the contrast
u = mean_words(W_U[agency]) − mean_words(W_U[communion]) lives after the final norm, and g ⊙ u is the
residual-stream direction whose addition raises agency logits over communion ones. The RM's head reads
w · norm(h) in the same way, so `head_reading` compares u with w after the norm and g ⊙ u with g ⊙ w before.

>>> direction = unembedding_direction(base, {"agency": [[11]], "communion": [[12]]})  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from interp._util.errors import UserError
from interp.causal.directions import Direction, cosine
from interp.hooks.site import Site
from interp.models import ModelHandle


def norm_gain(handle: ModelHandle) -> torch.Tensor:
    """The final norm's per-dimension gain g (the norm applied to a vector of ones, whose rms is 1)."""
    norm = handle.body.norm
    weight = next(norm.parameters())
    with torch.no_grad():
        ones = torch.ones(1, handle.d_model, dtype=weight.dtype, device=weight.device)
        return norm(ones)[0].float().cpu()


def _category_mean(unembed: torch.Tensor, words: Sequence[Sequence[int]]) -> torch.Tensor:
    """Mean over words of the mean over each word's single-token variants."""
    rows = [unembed[list(ids)].float().mean(0) for ids in words if len(ids) > 0]
    if not rows:
        raise UserError(
            "A category has no word that is a single token of this model; use a lexicon with "
            "single-token words or another model."
        )
    return torch.stack(rows).mean(0)


def _ids_hash(token_ids: Mapping[str, Sequence[Sequence[int]]]) -> str:
    text = repr(sorted((c, [list(ids) for ids in words]) for c, words in token_ids.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def unembedding_direction(
    handle: ModelHandle,
    token_ids: Mapping[str, Sequence[Sequence[int]]],
    positive: str = "agency",
    negative: str = "communion",
) -> tuple[Direction, torch.Tensor]:
    """(residual-space Direction g ⊙ u at the last layer's readout, post-norm contrast u).

    `token_ids[category]` lists, per word, the ids of its single-token variants.
    """
    unembed = handle.model.get_output_embeddings().weight.detach().cpu()
    contrast = _category_mean(unembed, token_ids[positive]) - _category_mean(unembed, token_ids[negative])
    direction = Direction(
        norm_gain(handle) * contrast,
        Site(handle.n_layers - 1, "resid_post", "readout"),
        method="unembedding",
        model_fingerprint=handle.fingerprint,
        data_hash=_ids_hash(token_ids),
    )
    return direction, contrast


def head_reading(rm: ModelHandle, direction: Direction, contrast: torch.Tensor) -> dict[str, float]:
    """Cosines between the base's unembedding contrast and the RM's score head.

    `post_norm`: cos(u, w), both in the space the head and the unembedding read;
    `residual`: cos(g_base ⊙ u, g_rm ⊙ w), the two as residual-stream directions.
    """
    head = rm.head.weight.detach().float().cpu()[0]
    return {"post_norm": cosine(contrast, head), "residual": cosine(direction.vector, norm_gain(rm) * head)}


def shuffled_contrasts(
    handle: ModelHandle,
    token_ids: Mapping[str, Sequence[Sequence[int]]],
    n: int,
    seed: int = 0,
    positive: str = "agency",
    negative: str = "communion",
) -> torch.Tensor:
    """(n, d) post-norm contrasts with the words' categories shuffled (category sizes kept): the matched null for
    `head_reading` — the same words and unembedding, no agency/communion split.

    >>> shuffled_contrasts(base, {"agency": [[11]], "communion": [[12], [13]]}, 100).shape  # doctest: +SKIP
    torch.Size([100, 576])
    """
    unembed = handle.model.get_output_embeddings().weight.detach().cpu()
    words = [*token_ids[positive], *token_ids[negative]]
    k = len(token_ids[positive])
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        order = torch.randperm(len(words), generator=generator).tolist()
        chosen = [words[i] for i in order[:k]], [words[i] for i in order[k:]]
        rows.append(_category_mean(unembed, chosen[0]) - _category_mean(unembed, chosen[1]))
    return torch.stack(rows)


def reading_against_null(contrast: torch.Tensor, null: torch.Tensor, heads: Sequence[torch.Tensor]) -> dict[str, Any]:
    """cos(contrast, head) per head (post-norm; one head per seed RM), beside the 95 % band of cos(null row, head)
    over (head, null row), and whether every head's cosine lies outside that band.

    >>> e = torch.eye(4)
    >>> out = reading_against_null(e[0], torch.stack([e[1], e[2], -e[1]]), [e[0] + 0.1 * e[1]])
    >>> round(out["per_head"][0], 3), out["null_n"], out["outside"]
    (0.995, 3, True)
    """
    per_head = [cosine(contrast, head) for head in heads]
    null_cos = np.array([cosine(row, head) for head in heads for row in null])
    low, high = (float(q) for q in np.quantile(null_cos, [0.025, 0.975]))
    return {
        "per_head": per_head,
        "null_low": low,
        "null_high": high,
        "null_n": len(null_cos),
        "outside": all(c < low or c > high for c in per_head),
    }
