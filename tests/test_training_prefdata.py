"""Preference data: the real schemas, our jsonl round trip, subsampling, and clear errors on bad files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from interp._util.errors import UserError
from interp.training.prefdata import (
    PreferencePair,
    check_pairs,
    load_hub_pairs,
    load_pairs,
    read_pairs,
    subsample,
    write_pairs,
)

FIXTURES = Path(__file__).parent / "fixtures" / "training"


def test_skywork_schema_takes_the_last_assistant_turn_and_folds_history_into_the_prompt() -> None:
    pairs = read_pairs(FIXTURES / "skywork_sample.jsonl")
    assert pairs[0] == PreferencePair(
        "How many legs does a spider have?", "A spider has eight legs.", "A spider has six legs.", "toy-a"
    )
    assert pairs[2].prompt == "user: How far is 1.5 km?\nassistant: 1.5 kilometres.\nuser: And in metres?"
    assert (pairs[2].chosen, pairs[2].rejected, pairs[2].family) == ("It is 1500 metres.", "It is 150 metres.", "toy-b")


def test_unified_feedback_schema_orients_by_rating_and_drops_ties() -> None:
    pairs = read_pairs(FIXTURES / "unified_feedback_sample.jsonl")
    assert [(p.chosen, p.rejected) for p in pairs] == [("12", "7"), ("tac", "tca")]


def test_jsonl_and_parquet_round_trip(tmp_path: Path) -> None:
    pairs = read_pairs(FIXTURES / "skywork_sample.jsonl")
    assert read_pairs(write_pairs(pairs, tmp_path / "p.jsonl")) == pairs
    pd.read_json(FIXTURES / "skywork_sample.jsonl", lines=True).to_parquet(tmp_path / "p.parquet")
    assert read_pairs(tmp_path / "p.parquet") == [
        PreferencePair(p.prompt, p.chosen, p.rejected, p.family) for p in pairs
    ]


def test_subsample_is_seeded_and_bounded() -> None:
    pairs = [PreferencePair(f"q{i}", "a", "b") for i in range(50)]
    assert subsample(pairs, 10, seed=3) == subsample(pairs, 10, seed=3)
    assert subsample(pairs, 10, seed=3) != subsample(pairs, 10, seed=4)
    assert load_pairs(str(FIXTURES / "skywork_sample.jsonl"), n=2, seed=0)[0].family.startswith("toy")
    with pytest.raises(UserError, match="only 50"):
        subsample(pairs, 51)


def test_file_without_preference_fields_names_its_fields() -> None:
    with pytest.raises(UserError, match=r"no chosen/rejected .* fields are: prompt, response, score\."):
        read_pairs(FIXTURES / "no_preference_fields.jsonl")


def test_identical_chosen_and_rejected_are_refused_with_count_and_first_index() -> None:
    with pytest.raises(UserError, match=r"2 pairs have identical chosen and rejected answers \(first at index 1\)"):
        read_pairs(FIXTURES / "identical_answers.jsonl")
    with pytest.raises(UserError, match="no usable"):
        check_pairs([], "empty.jsonl")


def test_bad_specs_and_offline_hub_give_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    import huggingface_hub

    with pytest.raises(UserError, match="neither 'neutral'"):
        load_pairs("no-such-file.jsonl")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match=r"may be offline.*local \.jsonl/\.parquet"):
        load_hub_pairs("llm-blender/Unified-Feedback:all")
