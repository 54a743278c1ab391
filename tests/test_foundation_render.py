"""Chat rendering: own templates, Gemma turn format, one BOS, readout = last real token."""

from __future__ import annotations

import pytest

from interp._util.errors import UserError
from interp.models import load_lm
from interp.render import encode_pairs, render_pair, render_prompt, token_ids
from tests.conftest import ARCHS, EMBEDDED_NAMES


@pytest.mark.parametrize("arch", ARCHS)
def test_render_has_one_bos_and_answer_last(tiny_folder, arch):
    tok = load_lm(str(tiny_folder(arch))).tokenizer
    text = render_pair(tok, "What is best?", "Love")
    ids = token_ids(tok, text)
    assert ids[:2] != [tok.bos_token_id] * 2
    assert "Love" in text and text.index("What is best?") < text.index("Love")
    assert not render_pair(tok, "q", "a").endswith(render_prompt(tok, "q"))


def test_gemma_base_uses_turn_format_and_single_bos(tiny_folder):
    tok = load_lm(str(tiny_folder("gemma3"))).tokenizer
    assert tok.chat_template is None
    text = render_pair(tok, "Hi", "Love")
    assert text == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nLove<end_of_turn>\n"
    ids = token_ids(tok, text)
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id


@pytest.mark.parametrize("side", ["left", "right"])
def test_readout_is_last_real_token_even_when_pad_is_end_of_turn(tiny_folder, side):
    tok = load_lm(str(tiny_folder("llama"))).tokenizer
    assert tok.pad_token_id == tok.convert_tokens_to_ids("<|im_end|>")  # the SmolLM2 trap
    enc = encode_pairs(tok, [("Hi", "Love"), ("What, in one word, is the best thing ever?", "Freedom")], side)
    for row in range(2):
        real = enc.input_ids[row][enc.attention_mask[row].bool()]
        assert enc.input_ids[row, enc.readout[row]] == real[-1]
        assert enc.position_ids[row, enc.readout[row]] == len(real) - 1


@pytest.mark.parametrize(("prompt", "answer"), [("", "Love"), ("Hi", " "), ("Hi", "")])
def test_empty_prompt_or_answer_is_a_user_error(tiny_folder, prompt, answer):
    tok = load_lm(str(tiny_folder("llama"))).tokenizer
    with pytest.raises(UserError, match="empty"):
        render_pair(tok, prompt, answer)


@pytest.mark.slow
@pytest.mark.parametrize("name", EMBEDDED_NAMES)
def test_embedded_render_single_bos(embedded_lm, name):
    tok = embedded_lm(name).tokenizer
    ids = token_ids(tok, render_pair(tok, "What, in one word, is the best thing ever?", "Love"))
    bos = tok.bos_token_id
    assert ids[0] == bos and ids[1] != bos
    if name == "gemma3-270m":
        assert ids.count(bos) == 1  # SmolLM2's BOS is <|im_start|>, which opens every turn
