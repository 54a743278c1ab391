"""Lexical controls for probes: each example's word frequency (wordfreq Zipf) and length in the model's tokens.

Two word lists can be told apart by anything that differs between them; frequency and length are the
obvious lexical differences. `fit_probes` regresses these covariates out of the activations inside every
training fold and reports a probe on them alone as the lexical baseline. A word is counted as the model
reads it: bare when it is the whole answer (the answer view), after a space inside a sentence
(`leading_space`, the statement view).

>>> import tempfile
>>> from transformers import AutoTokenizer
>>> from interp.models.tiny import build_tiny
>>> tok = AutoTokenizer.from_pretrained(build_tiny("llama", tempfile.mkdtemp()))
>>> lexical_covariates(tok, ["power", "kindness", "power"], leading_space=True).round(1).tolist(), COVARIATES
([[5.5, 1.0], [4.0, 3.0], [5.5, 1.0]], ('zipf', 'n_tokens'))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers import PreTrainedTokenizerBase

from interp.stats.frequency import zipf_frequencies

COVARIATES = ("zipf", "n_tokens")


def lexical_covariates(
    tokenizer: PreTrainedTokenizerBase, words: Sequence[str], leading_space: bool = False
) -> np.ndarray:
    """(len(words), 2): each example's word's Zipf frequency and its number of tokens (`COVARIATES`)."""
    distinct = list(dict.fromkeys(words))
    zipf = zipf_frequencies(distinct)
    prefix = " " if leading_space else ""
    n_tokens = {w: len(tokenizer.encode(prefix + w, add_special_tokens=False)) for w in distinct}
    return np.array([[zipf[w], n_tokens[w]] for w in words], dtype=np.float64).reshape(len(words), 2)
