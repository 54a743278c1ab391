"""What a model reads: chat templates, one-word answers, the readout position, BOS de-duplication; the paper's prompts.

Names import their module on first use (`interp._util.lazy`), so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp.render.prompts import (
        ADJECTIVES,
        STYLES,
        SUPERLATIVES,
        UNSPECIFIED,
        Prompt,
        by_key,
        load_prompts,
        paper_prompts,
    )
    from interp.render.templates import (
        GEMMA_TURN_TEMPLATE,
        Encoded,
        PaddingSide,
        adds_bos,
        chat_template,
        encode_pairs,
        encode_texts,
        pad_ids,
        render_pair,
        render_prompt,
        token_ids,
    )
    from interp.render.texts import check_position, read_texts, render_texts

__all__ = [
    "ADJECTIVES",
    "GEMMA_TURN_TEMPLATE",
    "STYLES",
    "SUPERLATIVES",
    "UNSPECIFIED",
    "Encoded",
    "PaddingSide",
    "Prompt",
    "adds_bos",
    "by_key",
    "chat_template",
    "check_position",
    "encode_pairs",
    "encode_texts",
    "load_prompts",
    "pad_ids",
    "paper_prompts",
    "read_texts",
    "render_pair",
    "render_prompt",
    "render_texts",
    "token_ids",
]

__getattr__, __dir__ = lazy_exports(__name__)
