"""The study's words and layers: the agency/communion words of a lexicon, their single-token ids in a tokenizer
(for the unembedding direction), and the layers of the ablation grid."""

from __future__ import annotations

import numpy as np

from interp.lexicons.matching import match_lexicon
from interp.lexicons.readers import Lexicon
from interp.models import ModelHandle


def word_categories(lexicon: Lexicon) -> dict[str, str]:
    """word -> category for the agency/communion words (a word in both is dropped).

    >>> lexicon = Lexicon("demo", {"agency": ("freedom", "love"), "communion": ("love", "friend")}, "doctest")
    >>> word_categories(lexicon)
    {'freedom': 'agency', 'friend': 'communion'}
    """
    entries = lexicon.entries()
    entries = entries[entries["category"].isin(["agency", "communion"])].drop_duplicates("word", keep=False)
    return dict(zip(entries["word"], entries["category"], strict=True))


def token_ids(lexicon: Lexicon, handle: ModelHandle) -> dict[str, list[list[int]]]:
    """Per category, per word, the ids of the word's single-token variants."""
    table = match_lexicon(lexicon, handle.tokenizer).table
    single = table[table["single_token"]]
    out: dict[str, list[list[int]]] = {}
    for (category, _word), group in single.groupby(["category", "word"]):
        out.setdefault(str(category), []).append([int(ids[0]) for ids in group["token_ids"]])
    return out


def grid_layers(n_layers: int, spread_over: int | None, best: int) -> list[int]:
    """The ablation grid: `spread_over` layers spread evenly (every second one when None), the last and the best.

    >>> grid_layers(30, 4, 13)
    [0, 10, 13, 19, 29]
    >>> grid_layers(7, None, 3)
    [0, 2, 3, 4, 6]
    """
    if spread_over is None:
        spread = list(range(0, n_layers, 2))
    else:
        spread = np.linspace(0, n_layers - 1, spread_over).round().astype(int).tolist()
    return sorted({*spread, n_layers - 1, best})
