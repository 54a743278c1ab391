"""The built-in neutral pairs and the neutrality check: neutral data pass, agency-biased data fail."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp._util.errors import UserError
from interp.lexicons.readers import default_lexicon
from interp.models.tiny import Arch
from interp.training.neutral import DEFAULT_FAMILIES, iter_neutral, neutral_pair, neutral_pairs
from interp.training.neutrality import check_neutral, neutrality_report
from interp.training.prefdata import PreferencePair
from interp.training.projection import Projector
from interp.training.quality import COLOURS, EVASIONS, QUALITY_FAMILIES


def test_neutral_pairs_are_deterministic_balanced_and_short() -> None:
    n = 100 * len(DEFAULT_FAMILIES)
    pairs = neutral_pairs(n, seed=5)
    assert pairs == neutral_pairs(n, seed=5) and pairs != neutral_pairs(n, seed=6)
    assert pairs[123] == neutral_pair(123, seed=5)
    assert {f: sum(p.family == f for p in pairs) for f in DEFAULT_FAMILIES} == dict.fromkeys(DEFAULT_FAMILIES, 100)
    assert all(p.chosen != p.rejected for p in pairs)
    assert max(len(p.chosen) + len(p.rejected) for p in pairs) <= 200


@pytest.mark.parametrize("family", [*QUALITY_FAMILIES, "format", "units", "arithmetic"])
def test_chosen_is_the_longer_answer_in_about_half_of_each_family(family: str) -> None:
    pairs = neutral_pairs(400, seed=2, families=[family])
    longer = sum(len(p.chosen) > len(p.rejected) for p in pairs)
    shorter = sum(len(p.chosen) < len(p.rejected) for p in pairs)
    assert longer + shorter > 300 and 0.4 < longer / (longer + shorter) < 0.6


def test_quality_families_carry_their_concept() -> None:
    pairs = {f: neutral_pairs(60, seed=0, families=[f]) for f in QUALITY_FAMILIES}
    assert all(p.chosen.split()[1] in p.prompt for p in pairs["on_topic"] if p.chosen.startswith("A "))
    assert all(not p.rejected.rstrip().endswith(".") for p in pairs["complete_truncated"])
    facts = pairs["correct_given_facts"]
    for p in facts:
        second = p.prompt.split(" and ")[1].split(".")[0].split()
        value = next(w for w in second if w.isdigit() or w in COLOURS)
        assert value in p.chosen.lower().rstrip(".").split() and value not in p.rejected.lower().rstrip(".").split()
    assert all(p.rejected in {e for pair in EVASIONS for e in pair} for p in pairs["answer_evasion"])
    capitals = [p for p in pairs["instruction_following"] if "capital letters" in p.prompt]
    assert capitals and all(p.chosen.isupper() and not p.rejected.isupper() for p in capitals)


def test_neutral_stream_scales_lazily_to_100k() -> None:
    stream = iter_neutral(seed=0, families=["arithmetic", "units"])
    first = [next(stream) for _ in range(4)]
    assert [p.family for p in first] == ["arithmetic", "units"] * 2
    pairs = neutral_pairs(100_000, seed=1)
    assert len(pairs) == 100_000 and len({(p.prompt, p.chosen) for p in pairs}) > 30_000
    with pytest.raises(UserError, match="Unknown neutral task family 'ethics'"):
        neutral_pairs(3, families=["ethics"])


def test_neutrality_check_passes_on_builtin_data() -> None:
    report = check_neutral(neutral_pairs(5000, seed=0))
    assert report.passed and {r.category for r in report.rates} == {"agency", "communion"}
    assert all(r.chosen_hits == r.rejected_hits == 0 for r in report.rates)
    assert {b.family for b in report.lengths} == set(DEFAULT_FAMILIES) and not report.length_skewed()


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


def test_length_check_fails_when_chosen_answers_are_longer() -> None:
    pairs = [PreferencePair(f"Task {i}?", f"The result is {i} units.", f"{i + 1}.", "padded") for i in range(200)]
    pairs += neutral_pairs(300, seed=0)
    report = neutrality_report(pairs, n_resamples=200)
    assert not report.passed and [b.family for b in report.length_skewed()] == ["padded"]
    assert not report.biased() and report.lengths[0].share == 1.0
    with pytest.raises(UserError, match=r"in family 'padded' the chosen answer is the longer one in 100%"):
        check_neutral(pairs, n_resamples=200)


def _toy_projector() -> tuple[Projector, list[str], list[str], list[str]]:
    """Words are tokens with random embeddings; 10 play agency, 10 communion, 40 are plain (no lexicon word)."""
    vocab = {f"{'a' if i < 10 else 'c' if i < 20 else 'p'}{i % 10}{i // 10}": i for i in range(60)}

    class Tok:
        def __call__(self, text: str, add_special_tokens: bool = False) -> object:
            ids = [vocab[w] for w in text.replace(".", "").split() if w in vocab]
            return type("Enc", (), {"input_ids": ids})()

    embedding = torch.randn(60, 16, generator=torch.Generator().manual_seed(0))
    words = list(vocab)
    return Projector(Tok(), embedding, embedding[:10], embedding[10:20]), words[:10], words[10:20], words[20:]


def test_projection_check_fails_on_a_lean_the_lexicon_cannot_see() -> None:
    projector, agentic, communal, plain = _toy_projector()
    rng = random.Random(0)

    def answer(lean: list[str]) -> str:
        return f"{rng.choice(lean)} {rng.choice(plain)} {rng.choice(plain)}."

    leaning = [PreferencePair(f"q{i}", answer(agentic), answer(communal)) for i in range(200)]
    report = neutrality_report(leaning, n_resamples=300, projector=projector)
    assert not report.biased() and not report.length_skewed()
    assert report.projection is not None and report.projection.effect > 0.3 and report.projection.p_value < 0.01
    assert not report.passed and "agency−communion direction" in report.message()
    quality = [PreferencePair(f"q{i}", answer(plain[:20]), answer(plain[20:])) for i in range(200)]
    assert neutrality_report(quality, n_resamples=300, projector=projector).passed  # a difference, but no lean


def test_base_projector_reads_the_base_embedding(tiny_folder: Callable[[Arch], Path]) -> None:
    from interp.models import load_lm
    from interp.training.projection import base_projector

    projector = base_projector(str(tiny_folder("llama")))
    lm = load_lm(str(tiny_folder("llama")))
    assert projector is not None
    torch.testing.assert_close(projector.embedding, lm.body.get_input_embeddings().weight.detach())
    power = lm.tokenizer(" power", add_special_tokens=False).input_ids
    torch.testing.assert_close(torch.from_numpy(projector.embed([" power"])[0]), projector.embedding[power].mean(0))
    assert projector.agency.shape[0] == len(default_lexicon().categories["agency"])
    report = neutrality_report(neutral_pairs(260, seed=0), n_resamples=300, projector=projector)
    assert report.projection is not None and report.passed


def test_training_pairs_refuse_biased_data_only_when_asked(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    """`training_pairs`: the pairs and their report (the projection test on the base's embedding included); with
    `require_neutral`, data that fail are refused in the report's sentence. `save` writes neutrality.json."""
    from interp.training.neutrality import training_pairs
    from interp.training.prefdata import write_pairs

    base = str(tiny_folder("llama"))
    agency = list(default_lexicon().categories["agency"])
    rng = random.Random(0)
    biased = [PreferencePair(f"Q{i}?", f"It is {rng.choice(agency)}.", "It is a table.") for i in range(200)]
    path = write_pairs(biased, tmp_path / "biased.jsonl")
    pairs, report = training_pairs(str(path), None, 0, base)
    assert len(pairs) == 200 and not report.passed and report.projection is not None
    with pytest.raises(UserError, match="not value-neutral"):
        training_pairs(str(path), None, 0, base, require_neutral=True)
    _, neutral = training_pairs("neutral", 70, 0, base, require_neutral=True)
    saved = json.loads(neutral.save(tmp_path).read_text())
    assert saved["passed"] is True and saved["n_pairs"] == 70
    assert saved == json.loads(json.dumps(neutral.record(), default=str))
