"""The built-in neutral pairs and the neutrality check: neutral data pass, agency-biased data fail."""

from __future__ import annotations

import random

import pytest

from interp.errors import UserError
from interp.lexicon import default_lexicon
from interp.training.neutral import FAMILIES, iter_neutral, neutral_pair, neutral_pairs
from interp.training.neutrality import check_neutral, neutrality_report
from interp.training.prefdata import PreferencePair


def test_neutral_pairs_are_deterministic_balanced_and_short() -> None:
    pairs = neutral_pairs(700, seed=5)
    assert pairs == neutral_pairs(700, seed=5) and pairs != neutral_pairs(700, seed=6)
    assert pairs[123] == neutral_pair(123, seed=5)
    assert {f: sum(p.family == f for p in pairs) for f in FAMILIES} == dict.fromkeys(FAMILIES, 100)
    assert all(p.chosen != p.rejected for p in pairs)
    assert max(len(p.chosen.split()) + len(p.rejected.split()) for p in pairs) <= 10
    assert max(len(p.chosen) for p in pairs) <= 40


def test_neutral_stream_scales_lazily_to_100k() -> None:
    stream = iter_neutral(seed=0, families=["arithmetic", "units"])
    first = [next(stream) for _ in range(4)]
    assert [p.family for p in first] == ["arithmetic", "units"] * 2
    pairs = neutral_pairs(100_000, seed=1)
    assert len(pairs) == 100_000 and len({(p.prompt, p.chosen) for p in pairs}) > 50_000
    with pytest.raises(UserError, match="Unknown neutral task family 'ethics'"):
        neutral_pairs(3, families=["ethics"])


def test_neutrality_check_passes_on_builtin_data() -> None:
    report = check_neutral(neutral_pairs(5000, seed=0))
    assert report.passed and {r.category for r in report.rates} == {"agency", "communion"}
    assert all(r.chosen_hits == r.rejected_hits == 0 for r in report.rates)


def test_neutrality_check_fails_on_agency_biased_data() -> None:
    rng = random.Random(0)
    agency = list(default_lexicon().categories["agency"])
    biased = [
        PreferencePair(f"Question {i}?", f"The answer is {rng.choice(agency)}.", "The answer is a table.")
        for i in range(300)
    ]
    report = neutrality_report(biased, n_resamples=500)
    assert not report.passed and [r.category for r in report.biased()] == ["agency"]
    agency_row = next(r for r in report.rates if r.category == "agency")
    assert agency_row.difference > 100 and agency_row.ci_low > 0 and agency_row.p_value < 0.01
    with pytest.raises(UserError, match=r"not value-neutral: chosen answers use agency words .* p = 0\.00"):
        check_neutral(biased, n_resamples=500)


def test_balanced_value_words_pass_and_plain_dicts_with_stems_work() -> None:
    rng = random.Random(1)
    words = ["power", "achievement", "love"]
    pairs = []
    for i in range(400):
        w = rng.choice(words)
        answers = (f"It is {w}.", "It is a chair.")
        c, r = answers if rng.random() < 0.5 else answers[::-1]
        pairs.append(PreferencePair(f"q{i}", c, r))
    lexicon = {"agency": ["power", "achiev*"], "communion": ["love"]}
    report = neutrality_report(pairs, lexicon, n_resamples=500)
    assert report.passed and sum(r.chosen_hits + r.rejected_hits for r in report.rates) == 400
    hits = neutrality_report([PreferencePair("q", "Achievers achieve power", "x")], lexicon, n_resamples=10)
    assert hits.rates[0].chosen_hits == 3
