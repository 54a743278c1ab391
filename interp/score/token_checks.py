"""The token conformance checks (`interp.score.conformance`): the rendered conversation's tokens against known
traps: a doubled BOS, no end-of-turn token after the answer, a readout off the last real token, a pad token
that collides with EOS or the end of turn. Each returns (passed, detail).

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random RM, ChatML template
>>> readout_token(rm, [("Best thing?", "Love"), ("Best thing?", "Freedom and success")])[0]
True
"""

from __future__ import annotations

from collections.abc import Sequence

from interp._util.errors import UserError
from interp.models import ModelHandle
from interp.render import encode_pairs, pad_ids, render_pair, token_ids


def _token(handle: ModelHandle, token_id: int) -> str:
    return f"{handle.tokenizer.decode([token_id])!r} (id {token_id})"


def _special_ids(handle: ModelHandle) -> set[int]:
    tok = handle.tokenizer
    return set(tok.all_special_ids) | {i for i, t in tok.added_tokens_decoder.items() if t.special}


def _end_of_turn(handle: ModelHandle, prompt: str, answer: str) -> int | None:
    """The first special token the template puts after the answer (the end of the assistant's turn)."""
    text = render_pair(handle.tokenizer, prompt, answer)
    at = text.rfind(answer)
    if at < 0:
        raise UserError(f"The template does not show the answer {answer!r} verbatim; check its chat template.")
    special = _special_ids(handle)
    tail = handle.tokenizer(text[at + len(answer) :], add_special_tokens=False).input_ids
    return next((t for t in tail if t in special), None)


def template_tokens(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """One BOS at most at the start, and the tokens decode back to the rendered conversation."""
    tok = handle.tokenizer
    text = render_pair(tok, *pairs[0])
    ids = token_ids(tok, text)
    round_trip = tok.decode(ids) == text
    bos = tok.bos_token_id
    if bos is None:
        return round_trip, f"the tokenizer uses no BOS; tokens decode back to the text: {_yes(round_trip)}"
    doubled = ids[:2] == [bos, bos]
    again = tok(text).input_ids  # the trap: the rendered text tokenized again with special tokens
    trap = f"; tokenizing the rendered text again with special tokens would start with {_leading(again, bos)}"
    return (not doubled and round_trip), (
        f"starts with {_leading(ids, bos)} BOS {_token(handle, bos)}{trap}; "
        f"tokens decode back to the rendered text: {_yes(round_trip)}"
    )


def _leading(ids: Sequence[int], bos: int) -> int:
    return next((i for i, t in enumerate(ids) if t != bos), len(ids))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def end_of_turn_check(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """A special end-of-turn token follows the answer in every rendered conversation."""
    found = [_end_of_turn(handle, p, a) for p, a in pairs]
    if any(t is None for t in found):
        return False, "no special end-of-turn token follows the answer in the rendered conversation"
    kinds = sorted({_token(handle, t) for t in found if t is not None})
    return True, f"{', '.join(kinds)} follows the answer in every rendered conversation"


def readout_token(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """The readout is the last real token of every conversation, with left and right padding."""
    tok = handle.tokenizer
    rows = [token_ids(tok, render_pair(tok, p, a)) for p, a in pairs]
    wrong = []
    for side in ("left", "right"):
        enc = encode_pairs(tok, pairs, side)
        for i, row in enumerate(rows):
            at = int(enc.readout[i])
            if (
                enc.input_ids[i, at] != row[-1]
                or enc.attention_mask[i, at] != 1
                or enc.position_ids[i, at] != len(row) - 1
            ):
                wrong.append(f"row {i} ({side} padding)")
    if wrong:
        return False, f"the readout is not the last real token in {', '.join(wrong)}"
    last = sorted({_token(handle, r[-1]) for r in rows})
    return True, f"reads the last real token, {', '.join(last)}, with left and right padding"


def pad_collision(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """The pad token is not the readout token, and the readout survives a row that ends in the pad id."""
    tok = handle.tokenizer
    pad = int(tok.pad_token_id)
    eot = _end_of_turn(handle, *pairs[0])
    equal = [name for name, t in (("EOS", tok.eos_token_id), ("end of turn", eot)) if t == pad]
    rows = [token_ids(tok, render_pair(tok, p, a)) for p, a in pairs]
    # What masking by pad id (the model's own forward, many trainers) would do: drop real tokens equal to pad.
    dropped = max(row.count(pad) for row in rows)
    on_readout = [i for i, row in enumerate(rows) if row[-1] == pad]
    config_pad = handle.model.config.get_text_config().pad_token_id
    mismatch = "" if config_pad == pad else f"; the model config's pad_token_id is {config_pad}, not {pad}"
    collision = f"pad = {' = '.join(equal)} = {_token(handle, pad)}" if equal else f"pad {_token(handle, pad)}"
    if on_readout:
        # A readout index found from the attention mask stays right (pad_ids), but a pad-id mask, the model's
        # own forward and trainers that use it read an earlier token: scores would disagree with training.
        return False, (
            f"{collision}: the readout token is the pad token in {len(on_readout)} of {len(rows)} conversations, "
            f"so masking by pad id drops it and reads an earlier token; use another pad token{mismatch}"
        )
    # The toolkit finds the readout from the attention mask; a row ending in the pad id must still read its end.
    probe = pad_ids([[*rows[0][:-1], pad], rows[0]], pad, "right")
    safe = int(probe.readout[0]) == len(rows[0]) - 1
    if not equal:
        return safe, f"{collision} is neither EOS nor the end of turn; masking by pad id drops no real token{mismatch}"
    return safe, (
        f"warning: {collision}: masking by pad id would drop {dropped} real token(s) per conversation but not the "
        f"readout token; the toolkit masks by attention mask: {'safe' if safe else 'NOT safe'}{mismatch}"
    )
