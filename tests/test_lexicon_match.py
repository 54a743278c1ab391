"""Matching lexicon words to tokens of an in-process byte-level BPE tokenizer (no download)."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from interp._util.errors import UserError
from interp.lexicons.matching import match_lexicon
from interp.lexicons.readers import Lexicon

SENTENCES = [
    "Love and freedom are good. love is kind, freedom is power.",
    "Power and success, success and love. Friendship matters.",
    "I love my friends; freedom, power, success, love.",
] * 20


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def test_single_token_words_with_and_without_leading_space(tokenizer: PreTrainedTokenizerFast) -> None:
    lex = Lexicon("t", {"agency": ("freedom", "power"), "communion": ("love",)}, "test")
    table = match_lexicon(lex, tokenizer).table
    love = table[(table["word"] == "love") & table["single_token"]]
    assert set(love["variant"]) >= {"love", " love", "Love"}
    spaced = love[love["variant"] == " love"]["token_ids"].iloc[0]
    assert spaced == tuple(tokenizer.encode(" love", add_special_tokens=False))
    assert tokenizer.decode(list(spaced)) == " love"
    assert table.groupby("word")["single_token"].any().all()


def test_multi_token_words_are_reported(tokenizer: PreTrainedTokenizerFast) -> None:
    lex = Lexicon("t", {"agency": ("power", "zymurgy"), "communion": ("love",)}, "test")
    result = match_lexicon(lex, tokenizer)
    zym = result.table[result.table["word"] == "zymurgy"]
    assert (zym["n_tokens"] > 1).all() and not zym["single_token"].any()
    assert result.unmatched.set_index("word").loc["zymurgy", "reason"] == "no variant is a single token"
    summary = result.summary().set_index("category")
    assert summary.loc["agency", "multi_token_only"] == 1 and summary.loc["agency", "single_token_words"] == 1
    assert "zymurgy" in result.report()


def test_globs_expand_to_token_words(tokenizer: PreTrainedTokenizerFast) -> None:
    lex = Lexicon("t", {"communion": ("friend*", "qqq*"), "agency": ("succ*",)}, "test")
    result = match_lexicon(lex, tokenizer)
    assert {"success"} <= set(result.table["word"])
    assert "glob matched no token" in set(result.unmatched["reason"])


def test_lexicon_with_no_single_token_word_is_an_error(tokenizer: PreTrainedTokenizerFast) -> None:
    with pytest.raises(UserError, match="is a single token of this tokenizer"):
        match_lexicon(Lexicon("t", {"a": ("zymurgy", "quixotic")}, "test"), tokenizer)
