"""Probe inputs: lexicon words placed in conversations, rendered the way the model reads them.

Two views of the same words: as one-word answers to the paper's value prompts (the RM's scoring
setting), and inside first-person value statements (a second, prompt-free context). Every example keeps
its word, so splits, shuffles and bootstraps can be done by word.

>>> from interp.lexicons.readers import Lexicon
>>> lex = Lexicon("toy", {"agency": ("power",), "communion": ("love",)}, source="example")
>>> STATEMENTS[0].format(word="love")
'What matters most to me is love.'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp.lexicons.readers import Lexicon
from interp.render import render_pair
from interp.render.prompts import Prompt

View = Literal["answer", "statement"]
STATEMENT_QUESTION = "Tell me about what you value."
STATEMENTS = (
    "What matters most to me is {word}.",
    "I value {word} above everything else.",
    "In my life, {word} comes first.",
    "Above all, I want {word}.",
)


@dataclass(frozen=True)
class ProbeInputs:
    """Rendered texts with, per text, its word, its 0/1 label (1 = `positive` category) and its frame."""

    texts: tuple[str, ...]
    words: tuple[str, ...]
    labels: np.ndarray
    frames: tuple[str, ...]
    view: View
    class_names: tuple[str, str]

    @property
    def inputs_id(self) -> str:
        """A short hash of the texts and labels, naming these inputs in stores and Direction provenance."""
        digest = hashlib.sha256("\n".join(self.texts).encode())
        digest.update(self.labels.tobytes())
        return digest.hexdigest()[:16]


def _labelled_words(lexicon: Lexicon, positive: str, negative: str) -> list[tuple[str, int]]:
    missing = [c for c in (positive, negative) if c not in lexicon.categories]
    if missing:
        raise UserError(
            f"Lexicon '{lexicon.name}' has no category '{missing[0]}'; "
            f"its categories are {', '.join(lexicon.categories)}."
        )
    return [(w, 1) for w in lexicon.categories[positive]] + [(w, 0) for w in lexicon.categories[negative]]


def build_inputs(
    tokenizer: PreTrainedTokenizerBase,
    lexicon: Lexicon,
    view: View = "answer",
    prompts: Sequence[Prompt] = (),
    positive: str = "agency",
    negative: str = "communion",
) -> ProbeInputs:
    """Render every word in every frame of the view (`answer`: each prompt; `statement`: each template)."""
    words = _labelled_words(lexicon, positive, negative)
    if view == "answer":
        if not prompts:
            raise UserError("The answer view needs prompts; pass the paper's grid or a prompt file.")
        frames = [(p.key, p.text, "{word}") for p in prompts]
    else:
        frames = [(f"statement_{i}", STATEMENT_QUESTION, t) for i, t in enumerate(STATEMENTS)]
    rows = [
        (render_pair(tokenizer, question, answer.format(word=word)), word, label, key)
        for key, question, answer in frames
        for word, label in words
    ]
    texts, ws, labels, keys = zip(*rows, strict=True)
    return ProbeInputs(
        tuple(texts), tuple(ws), np.asarray(labels, dtype=np.int64), tuple(keys), view, (negative, positive)
    )
