"""Does the RM's score head read the base's unembedding contrast of agency vs communion words? Seed 0's head
against the contrast, and every seed RM's head against a null of shuffled contrasts."""

from __future__ import annotations

from typing import Any

from interp.lexicons.readers import Lexicon
from interp.models import ModelHandle
from interp.pipeline.seeds import Seeds
from interp.pipeline.words import token_ids
from probes.unembedding import head_reading, reading_against_null, shuffled_contrasts, unembedding_direction


def unembedding_reading(
    rm: ModelHandle, seeds: Seeds, base: ModelHandle, lexicon: Lexicon, seed: int, n_null: int = 200
) -> dict[str, Any]:
    """`head_reading` of `rm` (seed 0, loaded) and, under `seeds`, every seed RM's head against `n_null` shuffled
    contrasts of the lexicon's single-token words in the base's unembedding."""
    ids = token_ids(lexicon, base)
    direction, contrast = unembedding_direction(base, ids)
    reading: dict[str, Any] = head_reading(rm, direction, contrast)
    heads = [seeds.rm(name).head.weight.detach().float().cpu()[0].clone() for name in seeds.rms]
    reading["seeds"] = reading_against_null(contrast, shuffled_contrasts(base, ids, n_null, seed), heads)
    return reading
