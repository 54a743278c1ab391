"""Prompt-prefix KV-cache scoring equals full-sequence scoring (fp32, |Δ| ≤ 1e-4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp._util.errors import UserError
from interp.models import ModelHandle, load_lm, rm_from_base
from interp.models.tiny import Arch
from interp.render import render_pair, token_ids
from interp.score import reward_scores
from interp.sweep.prefix import CachedScorer, PrefixCache, shared_prefix_length

PROMPT = "What, in one word, is the greatest thing in the world? Please answer in one word only."
ANSWERS = ["Love", "freedom", "power", "kindness and trust", "x", "Success!", "love", "Paris", "care"]
PROMPTS = [PROMPT, "Best thing?", "What is the most terrible thing of all time, in the whole wide world, ever?"]


@pytest.fixture(scope="module", params=["llama", "gemma3", "qwen2"])
def tiny_rm(request: pytest.FixtureRequest, tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder(request.param)), seed=1)


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_cached_equals_full(tiny_rm: ModelHandle, padding_side: str, batch_size: int) -> None:
    full = reward_scores(tiny_rm, [(PROMPT, a) for a in ANSWERS], batch_size=3, padding_side=padding_side)
    cached = CachedScorer(tiny_rm, batch_size=batch_size).score(PROMPT, ANSWERS)
    assert cached.shape == (len(ANSWERS),)
    assert (cached - full).abs().max().item() <= 1e-4


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_mixed_prompts_equal_full(tiny_rm: ModelHandle, padding_side: str, batch_size: int) -> None:
    """Prompts of different lengths share batches: left-padded prefixes, right-padded tails."""
    pairs = [(p, a) for p in PROMPTS for a in ANSWERS[:5]]
    full = reward_scores(tiny_rm, pairs, batch_size=4, padding_side=padding_side)
    cached = CachedScorer(tiny_rm, batch_size=batch_size).score_pairs(pairs)
    assert (cached - full).abs().max().item() <= 1e-4


def test_prefix_crosses_gemma_sliding_window(tiny_rm: ModelHandle) -> None:
    """The tiny Gemma has a sliding window of 8 tokens; the shared prefix is far longer, tails pass it too."""
    tok = tiny_rm.tokenizer
    rows = [token_ids(tok, render_pair(tok, PROMPT, a)) for a in ANSWERS]
    n = shared_prefix_length(rows)
    window = getattr(tiny_rm.model.config, "sliding_window", None) or 0
    assert n > window
    long_answers = ["the greatest thing is kindness power achievement wealth trust and care", "Love"]
    full = reward_scores(tiny_rm, [(PROMPT, a) for a in long_answers])
    assert (CachedScorer(tiny_rm, 2).score(PROMPT, long_answers) - full).abs().max().item() <= 1e-4


def test_cache_is_not_mutated_by_batches(tiny_rm: ModelHandle) -> None:
    tok = tiny_rm.tokenizer
    rows = [token_ids(tok, render_pair(tok, PROMPT, a)) for a in ANSWERS]
    cache = PrefixCache(tiny_rm, [rows[0][: shared_prefix_length(rows)], rows[0][:5]])
    before = [layer.keys.clone() for layer in cache.cache.layers]
    scorer = CachedScorer(tiny_rm, batch_size=2)
    first = scorer.score(PROMPT, ANSWERS)
    assert torch.equal(first, scorer.score(PROMPT, ANSWERS))  # a mutated cache would change the second run
    reordered = scorer.score(PROMPT, list(reversed(ANSWERS)))
    assert torch.allclose(first, reordered.flip(0), atol=1e-6)
    assert cache.for_rows(torch.tensor([0] * 5)).layers[0].keys.shape[0] == 5
    assert cache.for_rows(torch.tensor([1, 0, 1])).layers[0].keys.shape[0] == 3
    assert all(torch.equal(b, layer.keys) for b, layer in zip(before, cache.cache.layers, strict=True))


def test_duplicates_and_order_are_kept(tiny_rm: ModelHandle) -> None:
    scores = CachedScorer(tiny_rm).score(PROMPT, ["care", "Love", "care"])
    assert scores[0].item() == scores[2].item()
    assert scores[0].item() != scores[1].item()


def test_bad_input(tiny_rm: ModelHandle) -> None:
    with pytest.raises(UserError, match="empty"):
        CachedScorer(tiny_rm).score(PROMPT, [])
    with pytest.raises(UserError, match="batch size"):
        CachedScorer(tiny_rm, batch_size=0)


def test_nan_scores_raise(tiny_folder: Callable[[Arch], Path]) -> None:
    rm = rm_from_base(str(tiny_folder("llama")), seed=0)
    with torch.no_grad():
        rm.model.score.weight.fill_(float("nan"))
    with pytest.raises(UserError, match="NaN or infinite"):
        CachedScorer(rm).score(PROMPT, ANSWERS)


def test_language_model_is_refused(tiny_folder: Callable[[Arch], Path]) -> None:
    lm = load_lm(str(tiny_folder("qwen2")))
    with pytest.raises(UserError, match="load_rm"):
        CachedScorer(lm)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma3-270m"])
def test_cached_equals_full_embedded(name: str, embedded_rm: Callable[[str], ModelHandle]) -> None:
    rm = embedded_rm(name)
    answers = ["love", "freedom", "Success", "family", "power", " peace", "a good friend", "智慧"]
    prompts = [
        "What, in one word, is the best thing ever?",
        "What is the worst thing of all time? Please answer in one word only.",
    ]
    for prompt in prompts:
        full = reward_scores(rm, [(prompt, a) for a in answers], batch_size=4)
        cached = CachedScorer(rm, batch_size=5).score(prompt, answers)
        assert (cached - full).abs().max().item() <= 1e-4
