"""Render one user turn + one assistant answer with the model's own chat template, and encode batches.

Traps handled here: no doubled BOS (the template's text already holds it, so text is tokenized without
special tokens and a BOS is added only when the tokenizer would add one and the text lacks it); the
readout index is the last real token whatever the padding side, found from the attention mask (not from
the pad id, which for SmolLM2 equals its end-of-turn token); position ids count real tokens only, so left
and right padding give the same result.

>>> from interp.render import GEMMA_TURN_TEMPLATE
>>> "<start_of_turn>model" in GEMMA_TURN_TEMPLATE
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError

PaddingSide = Literal["left", "right"]

# Gemma-3 base ships no chat template. We use Gemma's documented turn format (the one its instruction-tuned
# sibling uses: https://ai.google.dev/gemma/docs/core/prompt-structure), so RMs built from the base model
# see the same structure as RMs built from Gemma-it.
GEMMA_TURN_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


def chat_template(tokenizer: PreTrainedTokenizerBase) -> str:
    """The tokenizer's own template, Gemma's turn format for Gemma tokenizers without one, else an error."""
    if tokenizer.chat_template:
        return str(tokenizer.chat_template)
    turn = tokenizer.convert_tokens_to_ids("<start_of_turn>")  # a lookup, not get_vocab(): 262k entries for Gemma
    if turn is not None and turn != tokenizer.unk_token_id:
        return GEMMA_TURN_TEMPLATE
    raise UserError("This tokenizer has no chat template; set tokenizer.chat_template (a Jinja string) first.")


def _check_text(what: str, text: str) -> None:
    if not text or not text.strip():
        raise UserError(f"The {what} is empty; give a non-empty {what}.")


def render_pair(tokenizer: PreTrainedTokenizerBase, prompt: str, answer: str) -> str:
    """The conversation (user: prompt, assistant: answer) as the RM sees it, without a generation prompt."""
    _check_text("prompt", prompt)
    _check_text("answer", answer)
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return str(
        tokenizer.apply_chat_template(
            messages, chat_template=chat_template(tokenizer), tokenize=False, add_generation_prompt=False
        )
    )


def render_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str) -> str:
    """The user turn followed by the generation prompt: the context an LM's next-token answer follows."""
    _check_text("prompt", prompt)
    messages = [{"role": "user", "content": prompt}]
    return str(
        tokenizer.apply_chat_template(
            messages, chat_template=chat_template(tokenizer), tokenize=False, add_generation_prompt=True
        )
    )


def adds_bos(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer puts a BOS token first when it encodes text."""
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a").input_ids[:1] == [bos]


def token_ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of already rendered text, with exactly one BOS when the tokenizer uses one."""
    ids: list[int] = tokenizer(text, add_special_tokens=False).input_ids
    if adds_bos(tokenizer) and ids[:1] != [tokenizer.bos_token_id]:
        ids = [tokenizer.bos_token_id, *ids]
    return ids


@dataclass(frozen=True)
class Encoded:
    """A padded batch: ids, mask, position ids counting real tokens only, and the readout index per row."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    readout: torch.Tensor

    def to(self, device: torch.device | str) -> Encoded:
        return Encoded(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.position_ids, self.readout)))


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int, padding_side: PaddingSide = "right") -> Encoded:
    """Pad token-id rows into an `Encoded` batch.

    >>> enc = pad_ids([[5, 6, 7], [8]], pad_id=0, padding_side="left")
    >>> enc.input_ids.tolist(), enc.readout.tolist(), enc.position_ids.tolist()
    ([[5, 6, 7], [0, 0, 8]], [2, 2], [[0, 1, 2], [0, 0, 0]])
    """
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        ids[i, span] = torch.tensor(list(row), dtype=torch.long)
        mask[i, span] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    readout = width - 1 - mask.flip(-1).argmax(-1)
    return Encoded(ids, mask, positions, readout)


def encode_texts(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], padding_side: PaddingSide = "right"
) -> Encoded:
    """Tokenize rendered texts (one BOS each) and pad them."""
    return pad_ids([token_ids(tokenizer, t) for t in texts], int(tokenizer.pad_token_id), padding_side)


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]], padding_side: PaddingSide = "right"
) -> Encoded:
    """Render and encode (prompt, answer) pairs for reward scoring."""
    return encode_texts(tokenizer, [render_pair(tokenizer, p, a) for p, a in pairs], padding_side)
