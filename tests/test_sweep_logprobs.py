"""Base-LM log-probabilities of answers, variant merging, and the implicit reward (MWLR)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from interp._util.errors import UserError
from interp.models import ModelHandle, load_lm
from interp.models.tiny import Arch
from interp.render import render_prompt
from interp.render.prompts import paper_prompts
from interp.sweep.implicit import mwlr, mwlr_summary
from interp.sweep.logprobs import (
    answer_logprobs,
    context,
    default_wrappers,
    next_token_logprobs,
    single_token_variants,
    vocab_logprobs,
)

PROMPTS = paper_prompts()[:2]
WORDS = ["the", "best", "two", "zebra"]  # single tokens of the tiny tokenizer in several variants; zebra is not


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def lm(request: pytest.FixtureRequest, tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return load_lm(str(tiny_folder(request.param)))


def test_logprobs_equal_a_plain_forward(lm: ModelHandle) -> None:
    text = context(lm.tokenizer, PROMPTS[0].text, default_wrappers(lm.tokenizer)[0])
    plain = lm.model(**lm.tokenizer(text, return_tensors="pt")).logits[0, -1].log_softmax(-1)
    got = next_token_logprobs(lm, text)
    assert got.shape == (len(lm.tokenizer),)
    assert torch.allclose(got, plain.detach(), atol=1e-5)
    assert math.isclose(got.exp().sum().item(), 1.0, rel_tol=1e-5)


def test_words_merge_their_single_token_variants(lm: ModelHandle) -> None:
    table, unmatched = answer_logprobs(lm, PROMPTS, WORDS, progress=False)
    assert set(unmatched["word"]) == {"zebra"}
    wrappers = default_wrappers(lm.tokenizer)
    assert set(table["wrapper"]) == set(wrappers) and len(table) == 3 * len(PROMPTS) * len(wrappers)
    variants, _ = single_token_variants(lm.tokenizer, ["the"])
    assert len(variants["the"]) >= 2  # e.g. " the", "The", " The"
    logprobs = next_token_logprobs(lm, context(lm.tokenizer, PROMPTS[1].text, wrappers[0]))
    expected = math.log(sum(logprobs[i].exp().item() for i in variants["the"]))
    row = table[(table["word"] == "the") & (table["prompt"] == PROMPTS[1].key) & (table["wrapper"] == wrappers[0])]
    assert row["score"].item() == pytest.approx(expected, abs=1e-5)
    assert row["n_variants"].item() == len(variants["the"])


def test_wrappers() -> None:
    class Tok:
        chat_template = None

    assert default_wrappers(Tok()) == ("raw", "user_assistant")  # type: ignore[arg-type]
    assert context(Tok(), "Q?", "user_assistant") == "User: Q?\nAssistant:"  # type: ignore[arg-type]
    assert context(Tok(), "Q?", "raw") == "Q?"  # type: ignore[arg-type]
    with pytest.raises(UserError, match="wrapper"):
        context(Tok(), "Q?", "chatml")  # type: ignore[arg-type]


def test_chat_wrapper_uses_the_generation_prompt(tiny_folder: Callable[[Arch], Path]) -> None:
    lm = load_lm(str(tiny_folder("llama")))
    assert context(lm.tokenizer, "Q?", "chat") == render_prompt(lm.tokenizer, "Q?")
    assert render_prompt(lm.tokenizer, "Q?").endswith("<|im_start|>assistant\n")


def test_vocab_logprobs_merge_case_and_space(lm: ModelHandle) -> None:
    wrapper = default_wrappers(lm.tokenizer)[0]
    table = vocab_logprobs(lm, PROMPTS[:1], [wrapper], progress=False)
    assert table["word"].is_unique and "" not in set(table["word"])
    logprobs = next_token_logprobs(lm, context(lm.tokenizer, PROMPTS[0].text, wrapper))
    ids = [i for i in range(len(lm.tokenizer)) if lm.tokenizer.decode([i]).strip().lower() == "the"]
    assert len(ids) >= 2
    expected = torch.logsumexp(logprobs[ids].double(), 0).item()
    assert table.loc[table["word"] == "the", "score"].item() == pytest.approx(expected, abs=1e-6)
    total = torch.logsumexp(torch.tensor(table["score"].to_numpy()), 0).exp().item()
    assert 0.5 < total <= 1.0 + 1e-9  # whitespace-only tokens are left out, everything else is counted once


def test_mwlr_sign_weight_and_join() -> None:
    logp = pd.DataFrame({"prompt": "k", "word": ["love", "freedom", "only_p"], "score": [-1.0, -3.0, -2.0]})
    logq = pd.DataFrame({"prompt": "k", "word": ["love", "freedom", "only_q"], "score": [-2.0, -1.5, -2.0]})
    table = mwlr(logp, logq).set_index("word")
    assert set(table.index) == {"love", "freedom"}
    assert table.loc["freedom", "mwlr"] > 0 > table.loc["love", "mwlr"]  # positive = preferred by q
    p, q = math.exp(-3.0), math.exp(-1.5)
    assert table.loc["freedom", "mwlr"] == pytest.approx(0.5 * (p + q) * (-1.5 + 3.0))
    swapped = mwlr(logq, logp).set_index("word")
    assert swapped.loc["freedom", "mwlr"] == pytest.approx(-table.loc["freedom", "mwlr"])
    with pytest.raises(UserError, match="both models"):
        mwlr(logp[logp["word"] == "only_p"], logq)


def test_mwlr_summary_over_prompts() -> None:
    table = pd.DataFrame({"prompt": ["a", "b", "a", "b"], "word": ["x", "x", "y", "y"], "mwlr": [0.2, 0.4, -0.1, -0.3]})
    summary = mwlr_summary(table)
    assert summary["word"].tolist() == ["x", "y"]
    assert summary["mean_mwlr"].tolist() == pytest.approx([0.3, -0.2])
    assert summary["n_prompts"].tolist() == [2, 2] and summary["se"].notna().all()


def test_bad_input(lm: ModelHandle, tiny_folder: Callable[[Arch], Path]) -> None:
    with pytest.raises(UserError, match="empty"):
        answer_logprobs(lm, PROMPTS, [], progress=False)
    with pytest.raises(UserError, match="single token"):
        answer_logprobs(lm, PROMPTS, ["zebra"], progress=False)
    from interp.models import rm_from_base

    with pytest.raises(UserError, match="load_lm"):
        next_token_logprobs(rm_from_base(str(tiny_folder("llama"))), "Q?")
