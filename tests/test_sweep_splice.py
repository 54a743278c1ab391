"""Spliced conversation token ids equal full rendering + tokenising (`interp.render`) exactly, answer by answer."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp.lexicons.readers import default_lexicon
from interp.models import load_tokenizer
from interp.models.tiny import Arch
from interp.render import render_pair, token_ids
from interp.render.prompts import paper_prompts
from interp.sweep.splice import Splicer, shared_prefix_length, splicer

PROMPTS = [
    "What, in one word, is the best thing ever?",
    "  Best thing?  ",
    "What is the most terrible thing of all time, in the whole wide world, ever?\nAnswer in one word.",
]
TRICKY = [
    "Love",
    " love",
    "love ",
    "  two  spaced words ",
    "\nLove",
    "Love\n",
    "a\n\nb",
    "\tfreedom",
    "<|im_end|>",
    "<end_of_turn>",
    "x<|im_start|>y",
    "<bos>",
    "naïve café",
    "😀",
    "Success!",
    "?",
    "'s",
    "42",
]


def full_rows(tok: PreTrainedTokenizerBase, prompt: str, answers: list[str]) -> list[list[int]]:
    return [token_ids(tok, render_pair(tok, prompt, a)) for a in answers]


def lexicon_words() -> list[str]:
    return list(dict.fromkeys(w for ws in default_lexicon().categories.values() for w in ws))


def vocabulary(tok: PreTrainedTokenizerBase, n: int) -> list[str]:
    """About `n` decoded single tokens spread over the vocabulary (whitespace-only ones left out)."""
    step = max(1, len(tok) // n)
    return [w for w in (str(tok.decode([i])) for i in range(0, len(tok), step)) if w.strip()]


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def tiny_tok(request: pytest.FixtureRequest, tiny_folder: Callable[[Arch], Path]) -> PreTrainedTokenizerBase:
    """SmolLM2-like (ChatML, no trimming, pad = end of turn) and Gemma-like (BOS added, turn format, trimming)."""
    return load_tokenizer(str(tiny_folder(request.param)))


def test_spliced_equals_rendered(tiny_tok: PreTrainedTokenizerBase) -> None:
    answers = [*TRICKY, *lexicon_words(), *vocabulary(tiny_tok, 400)]
    sp = Splicer(tiny_tok)
    for prompt in PROMPTS:
        assert sp.plan(prompt) is not None  # the fast path is taken
        assert sp.rows(prompt, answers) == full_rows(tiny_tok, prompt, answers)


def test_split_is_the_shared_prefix_of_rendered_rows(tiny_tok: PreTrainedTokenizerBase) -> None:
    for answers in (["Love", "freedom", "kindness and trust"], ["Love", "Love"], ["x"], TRICKY):
        full = full_rows(tiny_tok, PROMPTS[0], answers)
        n = shared_prefix_length(full)
        prefix, tails = Splicer(tiny_tok).split(PROMPTS[0], answers)
        assert (prefix, tails) == (full[0][:n], [r[n:] for r in full])
        assert all(tails)


def test_answer_ids_are_reused_across_prompts(tiny_tok: PreTrainedTokenizerBase) -> None:
    sp = Splicer(tiny_tok)
    counting = Counting(sp.backend)
    sp.backend = counting
    answers = lexicon_words()[:50]
    first = sp.rows(PROMPTS[0], answers)
    tokenised = counting.texts
    second = sp.rows(PROMPTS[2], [*answers, "brand-new"])
    assert counting.texts == tokenised + 1  # only the new answer (plans' own probes excepted)
    assert first == full_rows(tiny_tok, PROMPTS[0], answers)
    assert second == full_rows(tiny_tok, PROMPTS[2], [*answers, "brand-new"])
    assert splicer(tiny_tok) is splicer(tiny_tok)
    assert splicer(tiny_tok).rows(PROMPTS[1], answers[:3]) == full_rows(tiny_tok, PROMPTS[1], answers[:3])


class Counting:
    """A tokenizer backend that counts the texts it is asked to encode in batches (after the first call)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.texts = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_batch_fast(self, texts: list[str], **kwargs: Any) -> Any:
        self.texts += len(texts)
        return self.inner.encode_batch_fast(texts, **kwargs)


def test_template_that_rewrites_answers_is_rendered_whole(tiny_tok: PreTrainedTokenizerBase) -> None:
    tok = copy.deepcopy(tiny_tok)
    tok.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'].replace('o', '0') }}"
        "{{ '<|im_end|>\n' }}{% endfor %}"
    )
    sp = Splicer(tok)
    assert sp.plan(PROMPTS[0]) is None
    assert sp.rows(PROMPTS[0], TRICKY) == full_rows(tok, PROMPTS[0], TRICKY)


def test_tail_without_added_token_is_tokenised_with_the_answer(tiny_tok: PreTrainedTokenizerBase) -> None:
    tok = copy.deepcopy(tiny_tok)
    tok.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + ' END.\n' }}{% endfor %}"
    )
    plan = Splicer(tok).plan(PROMPTS[0])
    assert plan is not None and plan.right == " END.\n" and not plan.tail_ids
    answers = [*TRICKY, *lexicon_words()]
    assert Splicer(tok).rows(PROMPTS[0], answers) == full_rows(tok, PROMPTS[0], answers)


def test_added_token_across_the_cut_falls_back(tiny_folder: Callable[[Arch], Path]) -> None:
    """With added tokens '\\n' and 'assistant\\n\\n', an answer starting with '\\n' joins a token begun in the
    head before its last added token: such answers are rendered whole, the others still spliced. The same
    splicer notices tokens added after its first use."""
    tok = load_tokenizer(str(tiny_folder("llama")))
    sp = Splicer(tok)
    answers = ["\nfoo", "foo", " foo", "\n\nbar", "Love"]
    assert sp.rows(PROMPTS[0], answers) == full_rows(tok, PROMPTS[0], answers)
    tok.add_tokens(["\n", "assistant\n\n"])
    plan = sp.plan(PROMPTS[0])
    assert plan is not None and "\n" in plan.bad_first
    assert sp.rows(PROMPTS[0], answers) == full_rows(tok, PROMPTS[0], answers)
    naive = plan.head_ids + sp.backend.encode(plan.left + "\nfoo", add_special_tokens=False).ids + plan.tail_ids
    assert naive != full_rows(tok, PROMPTS[0], ["\nfoo"])[0]  # splicing it would have been wrong


def test_empty_answer_is_refused_like_rendering(tiny_tok: PreTrainedTokenizerBase) -> None:
    for bad in ("", "   ", "\n"):
        with pytest.raises(UserError, match="answer is empty"):
            Splicer(tiny_tok).rows(PROMPTS[0], ["Love", bad])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma3-270m"])
def test_embedded_tokenizers_whole_lexicon_and_vocabulary(name: str) -> None:
    tok = load_tokenizer(name)
    answers = [*TRICKY, *lexicon_words(), *vocabulary(tok, 3000)]
    sp = Splicer(tok)
    for prompt in (paper_prompts()[0].text, paper_prompts()[-1].text):
        assert sp.plan(prompt) is not None
        assert sp.rows(prompt, answers) == full_rows(tok, prompt, answers)
