"""Whole-vocabulary sweep: shards, resume after a crash ends equal to an uninterrupted run, tidy output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from interp._util.errors import UserError
from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.render.prompts import paper_prompts
from interp.score import reward_scores
from interp.sweep.vocab import EMPTY, n_shards, sweep_vocab, vocab_table

PROMPT = paper_prompts()[0]
SHARD = 64


class Crash(RuntimeError):
    pass


@pytest.fixture(scope="module")
def rm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder("llama")), seed=3)


def test_killed_run_resumes_to_the_same_result(rm: ModelHandle, tmp_path: Path) -> None:
    whole = sweep_vocab(rm, PROMPT, tmp_path / "whole", SHARD, batch_size=16, progress=False)
    assert len(whole) == len(rm.tokenizer) and n_shards(rm, SHARD) == 7

    def crash_after_shard_2(shard: int) -> None:
        if shard == 2:
            raise Crash

    with pytest.raises(Crash):
        sweep_vocab(rm, PROMPT, tmp_path / "resumed", SHARD, 16, False, on_shard=crash_after_shard_2)
    redone: list[int] = []
    resumed = sweep_vocab(rm, PROMPT, tmp_path / "resumed", SHARD, 16, False, on_shard=redone.append)
    assert redone == [3, 4, 5, 6]  # finished shards are skipped, not recomputed
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)


def test_subsets_of_shards_write_the_same_files(rm: ModelHandle, tmp_path: Path) -> None:
    odd = sweep_vocab(rm, PROMPT, tmp_path / "split", SHARD, 16, False, shard_ids=[5, 1, 3])
    assert sorted(set(odd["token_id"] // SHARD)) == [1, 3, 5]
    rest = sweep_vocab(rm, PROMPT, tmp_path / "split", SHARD, 16, False, shard_ids=range(0, 7, 2))
    assert sorted(set(rest["token_id"] // SHARD)) == [0, 2, 4, 6]
    whole = sweep_vocab(rm, PROMPT, tmp_path / "whole", SHARD, 16, False)
    merged = sweep_vocab(rm, PROMPT, tmp_path / "split", SHARD, 16, False)
    pd.testing.assert_frame_equal(merged, whole, check_exact=True)


def test_vocab_scores_equal_full_sequence_scores(rm: ModelHandle, tmp_path: Path) -> None:
    rows = sweep_vocab(rm, PROMPT, tmp_path, SHARD, 32, False, shard_ids=[2])
    scored = rows[rows["skipped"] == ""]
    full = reward_scores(rm, [(PROMPT.text, w) for w in scored["word"]])
    assert abs(full.double().numpy() - scored["score"].to_numpy()).max() <= 1e-4


def test_tidy_table_drops_blank_and_repeated_strings(rm: ModelHandle, tmp_path: Path) -> None:
    rows = sweep_vocab(rm, PROMPT, tmp_path, SHARD, 64, False)
    blank = rows["word"].str.strip() == ""
    assert blank.any() and rows.loc[blank, "score"].isna().all() and (rows.loc[blank, "skipped"] == EMPTY).all()
    table, counts = vocab_table(rows, "tiny", PROMPT)
    assert list(table.columns) == ["model", "prompt", "word", "score", "framing", "token_id"]
    assert table["word"].is_unique and table["score"].notna().all()
    assert counts["skipped_empty"] == int(blank.sum())
    assert counts["rows"] + counts["skipped_empty"] + counts["duplicate_strings"] == len(rm.tokenizer)


def test_folder_of_another_model_is_refused(
    rm: ModelHandle, tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    sweep_vocab(rm, PROMPT, tmp_path, SHARD, 64, False, shard_ids=[0])
    other = rm_from_base(str(tiny_folder("llama")), seed=4)
    with pytest.raises(UserError, match="different model"):
        sweep_vocab(other, PROMPT, tmp_path, SHARD, 64, False, shard_ids=[0])
    with pytest.raises(UserError, match="different"):
        sweep_vocab(rm, paper_prompts()[1], tmp_path, SHARD, 64, False, shard_ids=[0])


def test_bad_shard_requests(rm: ModelHandle, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Shard ids"):
        sweep_vocab(rm, PROMPT, tmp_path, SHARD, 64, False, shard_ids=[7])
    with pytest.raises(UserError, match="shard size"):
        sweep_vocab(rm, PROMPT, tmp_path, 0, 64, False)


@pytest.mark.slow
def test_embedded_vocab_slice_resumes(embedded_rm: Callable[[str], ModelHandle], tmp_path: Path) -> None:
    """A slice of SmolLM2's vocabulary (3 shards of 128 tokens): crash after the first, resume, compare."""
    rm = embedded_rm("smollm2-135m-instruct")
    shards = [0, 100, 383]
    whole = sweep_vocab(rm, PROMPT, tmp_path / "whole", 128, 64, False, shard_ids=shards)

    def crash(shard: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        sweep_vocab(rm, PROMPT, tmp_path / "resumed", 128, 64, False, shard_ids=shards, on_shard=crash)
    resumed = sweep_vocab(rm, PROMPT, tmp_path / "resumed", 128, 64, False, shard_ids=shards)
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)
    sample = whole[whole["skipped"] == ""].iloc[::16]
    full = reward_scores(rm, [(PROMPT.text, w) for w in sample["word"]])
    assert abs(full.double().numpy() - sample["score"].to_numpy()).max() <= 1e-4
