"""Lexicon readers (.dic, .dicx, CSV, plain), glob expansion, the bundled default, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from interp._util.errors import UserError
from interp.lexicons.readers import DEFAULT_LABEL, Lexicon, default_lexicon, default_lexicon_sources, load_lexicon

FIX = Path(__file__).parent / "fixtures" / "lexicon"


def test_dic_reads_header_globs_multiword_and_multi_category_entries() -> None:
    lex = load_lexicon(FIX / "toy.dic")
    assert lex.categories == {
        "drive": ("achiev*", "win", "love"),
        "warmth": ("best friend", "love"),
        "place": ("home",),
    }
    assert not lex.is_default


def test_dicx_marks_membership_with_x() -> None:
    lex = load_lexicon(FIX / "toy.dicx")
    assert lex.categories == {"drive": ("achiev*", "love"), "warmth": ("love", "hug")}


def test_csv_takes_any_word_column_name_and_plain_uses_file_stem() -> None:
    assert load_lexicon(FIX / "toy.csv").categories == {"drive": ("win",), "warmth": ("hug", "best friend")}
    assert load_lexicon(FIX / "drive.txt").categories == {"drive": ("win", "achiev*")}


def test_ten_categories_are_kept() -> None:
    lex = load_lexicon(FIX / "ten.dic")
    assert len(lex.categories) == 10
    assert lex.categories["sanctity.vice"] == ("dirt", "filth")


def test_restrict_expands_globs_case_insensitively_and_keeps_vocabulary_spelling() -> None:
    lex = load_lexicon(FIX / "toy.dic")
    vocab = ["Achieve", "achievement", "achy", "win", "love", "best friend", "home", "table"]
    got = lex.restrict(vocab).categories
    assert got["drive"] == ("Achieve", "achievement", "win", "love")
    assert got["warmth"] == ("best friend", "love")
    spaced = Lexicon("t", {"c": ("love",)}, "test").restrict([" Love", "love", "lovely"]).categories
    assert spaced == {"c": (" Love", "love")}


def test_malformed_line_names_file_and_line() -> None:
    with pytest.raises(UserError, match=r"bad_line\.dic:6: malformed entry") as err:
        load_lexicon(FIX / "bad_line.dic")
    assert "\n" not in str(err.value)


def test_empty_category_is_an_error() -> None:
    with pytest.raises(UserError, match="'Warmth' has no words"):
        load_lexicon(FIX / "empty_category.dic")
    with pytest.raises(UserError, match="is empty"):
        Lexicon("x", {"a": ("w",), "b": ()}, "test")


def test_no_word_in_vocabulary_is_an_error() -> None:
    with pytest.raises(UserError, match="None of the words of lexicon 'toy'"):
        load_lexicon(FIX / "toy.dic").restrict(["table", "chair"])


def test_unknown_name_lists_known_lexicons() -> None:
    with pytest.raises(UserError, match="known ones: default, big2-nouns"):
        load_lexicon("no-such-lexicon")


def test_default_lexicon_is_labelled_sourced_and_balanced() -> None:
    lex = default_lexicon()
    assert lex.is_default and lex.source == DEFAULT_LABEL and "not the Big Two" in lex.label
    assert set(lex.categories) == {"agency", "communion"}
    assert all(40 <= len(words) <= 60 for words in lex.categories.values())
    sources = default_lexicon_sources()
    assert sources["source"].str.contains(r"Bakan 1966|Abele & Wojciszke 2007|Schwartz 1992|Wiggins 1991").all()
    assert not set(lex.categories["agency"]) & set(lex.categories["communion"])
