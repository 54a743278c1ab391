"""Sharded vocabulary sweeps: 2 gloo ranks under torchrun equal one process; a dead rank re-runs alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from interp._util.errors import UserError
from interp.cli import app
from interp.distributed import World, distributed_vocab_sweep, init_world, merge_vocab
from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.render.prompts import paper_prompts
from tests.refusal import assert_refused, run_cli

PROMPTS = paper_prompts()[:1]
KEY = PROMPTS[0].key
SHARD = 64  # the tiny tokenizer's 400 tokens make 7 shards


class Crash(RuntimeError):
    pass


@pytest.fixture(scope="module")
def rm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder("llama")), seed=3)


def sweep(rm: ModelHandle, out: Path, world: World, **kwargs: object) -> dict[str, Any] | None:
    return distributed_vocab_sweep(rm, PROMPTS, out, "tiny", world, SHARD, 16, False, **kwargs)  # type: ignore[arg-type]


def shard_times(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "shards" / KEY).glob("shard-*.parquet")}


@pytest.mark.slow
def test_torchrun_two_gloo_ranks_equal_one_process(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    base = str(tiny_folder("llama"))
    common = ["--base-for-new-head", base, "--seed", "3", "--limit-prompts", "2", "--shard-size", str(SHARD)]
    common += ["--batch-size", "16"]
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    done = subprocess.run(
        [*launch, "-m", "interp.cli", "sweep-distributed", *common, "--out", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun rank: another thread count changes the last bits of a sum
    try:
        result = CliRunner().invoke(app, ["sweep", *common, "--lexicon", "vocab", "--out", str(tmp_path / "one")])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    two = pd.read_parquet(tmp_path / "two" / "scores.parquet")
    assert len(two) > 300 and two["prompt"].nunique() == 2
    pd.testing.assert_frame_equal(two, pd.read_parquet(tmp_path / "one" / "scores.parquet"), check_exact=True)
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert (
        config["kind"] == "sweep"
        and config["world_size"] == 2
        and config["vocab_counts"] == json.loads((tmp_path / "one" / "config.json").read_text())["vocab_counts"]
    )


def test_dead_rank_reruns_alone_without_redoing_other_shards(rm: ModelHandle, tmp_path: Path) -> None:
    assert sweep(rm, tmp_path / "one", World()) is not None
    out = tmp_path / "two"
    assert sweep(rm, out, World(0, 2)) is None  # rank 0 wrote shards 0, 2, 4, 6; rank 1's are missing

    def die_after_first(key: str, shard: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        sweep(rm, out, World(1, 2), on_shard=die_after_first)
    before = shard_times(out)
    assert sorted(before) == [f"shard-{s:05d}.parquet" for s in (0, 1, 2, 4, 6)]
    redone: list[int] = []
    counts = sweep(rm, out, World(1, 2), on_shard=lambda key, shard: redone.append(shard))
    assert redone == [3, 5]  # rank 1's unfinished shards only
    after = shard_times(out)
    assert {name: after[name] for name in before} == before  # nobody else's shard was rewritten
    assert counts is not None and counts["vocab_counts"][KEY]["tokens"] == 400
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "scores.parquet"), pd.read_parquet(tmp_path / "one" / "scores.parquet"), check_exact=True
    )


def test_bad_worlds_and_folders_are_user_errors(rm: ModelHandle, tiny_folder: Callable[[Arch], Path], tmp_path: Path):
    with pytest.raises(UserError, match="world size 8 is larger than the 7 shards"):
        sweep(rm, tmp_path, World(0, 8))
    with pytest.raises(UserError, match=r"Rank 2 is not in 0\.\.1"):
        init_world(rank=2, size=2)
    with pytest.raises(UserError, match="both --rank and --world-size"):
        init_world(rank=1)
    sweep(rm, tmp_path, World(1, 2))
    with pytest.raises(UserError, match="4 vocabulary shards are missing"):
        merge_vocab(rm, PROMPTS, tmp_path, "tiny", SHARD, 16)
    other = rm_from_base(str(tiny_folder("llama")), seed=4)  # another head: another fingerprint
    with pytest.raises(UserError, match="written with a different model"):
        sweep(other, tmp_path, World(0, 2))


def test_sweep_and_sweep_distributed_share_a_folder(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    """Either command resumes the other's vocabulary shards, and both refuse another model's or lexicon's run."""
    out = tmp_path / "vocab"
    common = ["--base-for-new-head", str(tiny_folder("llama")), "--limit-prompts", "1", "--batch-size", "16"]
    common += ["--shard-size", str(SHARD), "--out", str(out)]
    assert run_cli("sweep", *common, "--lexicon", "vocab", "--seed", "3").exit_code == 0
    shards, table = shard_times(out), pd.read_parquet(out / "scores.parquet")
    done = run_cli("sweep-distributed", *common, "--seed", "3")
    assert done.exit_code == 0, done.output
    assert shard_times(out) == shards  # every shard reused, none rewritten
    pd.testing.assert_frame_equal(pd.read_parquet(out / "scores.parquet"), table, check_exact=True)
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "sweep" and config["answers"] == "vocab" and config["world_size"] == 1
    assert "fingerprint" in assert_refused(["sweep-distributed", *common, "--seed", "4"], tmp_path).output
    assert "answers" in assert_refused(["sweep", *common, "--seed", "3", "--lexicon", "default"], tmp_path).output
    refused = assert_refused(["logprobs", "--model", str(tiny_folder("llama")), "--out", str(out)], tmp_path)
    assert "output of `rm-interp sweep`" in refused.output
