"""Chat rendering: own templates, Gemma turn format, one BOS, readout = last real token; texts to capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from interp._util.errors import UserError
from interp.models import load_lm
from interp.render import (
    check_position,
    encode_pairs,
    read_texts,
    render_pair,
    render_prompt,
    render_texts,
    token_ids,
)
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


BAD_TEXTS = {  # file name: (content, or None for a folder or no file; a fragment of the one-sentence refusal)
    "missing.txt": (None, "does not exist"),
    "folder.txt": (b"", "is a folder"),
    "empty.txt": (b"", "empty"),
    "blank.txt": (b"\n   \n\n", "empty"),
    "latin1.txt": ("caf\xe9 cr\xe8me\n".encode("latin-1"), "UTF-8"),
    "binary.txt": (b"abc\x00\x01\x02\xff\n", "binary"),
    "garbage.jsonl": (b"{not json\n", "Cannot read"),
    "latin1.jsonl": ('{"text": "caf\xe9"}\n'.encode("latin-1"), "UTF-8"),
    "no_text.csv": (b"a,b\n1,2\n", "no 'text'"),
    "answer_only.csv": (b"answer\nyes\n", "no 'text'"),
    "header_only.csv": (b"text\n", "holds no texts"),
    "blank_row.csv": (b'text\nhello\n""\n', "row 2"),
    "blank_answer.csv": (b"prompt,answer\nHi,Love\nHi, \n", "row 2 has an empty prompt or answer"),
    "garbage.parquet": (b"not a parquet file", "Cannot read"),
    "texts.docx": (b"hello", ".txt"),
}


@pytest.mark.parametrize("name", list(BAD_TEXTS))
def test_read_texts_refuses_a_bad_file_in_one_sentence(tmp_path: Path, name: str) -> None:
    content, problem = BAD_TEXTS[name]
    path = tmp_path / name
    if name == "folder.txt":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=problem) as refused:
        read_texts(path)
    message = str(refused.value)
    assert "\n" not in message and (name in message or str(path) in message) and "codec" not in message


def test_texts_render_as_given_as_prompts_or_as_pairs(tiny_folder, tmp_path: Path) -> None:
    tok = load_lm(str(tiny_folder("llama"))).tokenizer
    (tmp_path / "texts.txt").write_text("hello world\n\nanother text\n")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "Hi", "extra": 1}\n')
    (tmp_path / "pairs.csv").write_text("prompt,answer,extra\nHi,Love,1\n")
    assert render_texts(tok, read_texts(tmp_path / "texts.txt")) == ["hello world", "another text"]
    assert render_texts(tok, read_texts(tmp_path / "prompts.jsonl")) == [render_prompt(tok, "Hi")]
    assert render_texts(tok, ["Hi"]) == [render_prompt(tok, "Hi")]  # a list of prompts
    assert render_texts(tok, read_texts(tmp_path / "pairs.csv")) == [render_pair(tok, "Hi", "Love")]


def test_position_must_fit_the_shortest_text(tiny_folder) -> None:
    tok = load_lm(str(tiny_folder("llama"))).tokenizer
    texts = ["a b c", "a"]
    shortest = min(len(token_ids(tok, t)) for t in texts)
    for fits in ("readout", "all", 0, shortest - 1, -shortest):
        check_position(tok, texts, fits)
    for outside in (shortest, -shortest - 1):
        with pytest.raises(UserError, match=f"--position {outside} is outside the shortest input"):
            check_position(tok, texts, outside)
