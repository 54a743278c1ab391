"""`rm-interp probe` and `rm-interp persistence` end to end (in-process) on a tiny model and a tiny trained RM."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from interp.lexicons.readers import load_lexicon
from interp.models import load_lm
from interp.models.tiny import build_tiny
from interp.sweep.outputs import choose_prompts
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.neutral import neutral_pairs
from probes.collect import collect
from probes.fit import ProbeConfig, fit_probes
from probes.frames import build_inputs
from tests.refusal import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")


def shard_identities(store: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every activation shard in a store: equal before and after only if none was rewritten."""
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in store.rglob("shard-*")}


@pytest.mark.slow
def test_probe_and_persistence_commands(tmp_path):
    base = build_tiny("llama", tmp_path / "base")
    train_rm(
        TrainConfig(base=str(base), out=str(tmp_path / "rm"), k=1, steps=4, batch_size=4, save_every=2),
        neutral_pairs(48),
        progress=False,
    )
    common = ["--store", str(tmp_path / "store"), "--limit-prompts", "2"]
    probe = run_cli("probe", "--model", str(base), "--out", str(tmp_path / "probe"), "--n-perm", "5", *common)
    assert probe.exit_code == 0 and probe.traceback is None, probe.output[-2000:]
    table = pd.read_csv(tmp_path / "probe" / "probes.csv")
    assert set(table.layer) == {0, 1, 2, 3}
    # the command wrote what the library computes from the same stored activations, which it reuses
    stored = shard_identities(tmp_path / "store")
    lm = load_lm(str(base))
    inputs = build_inputs(lm.tokenizer, load_lexicon("default"), "answer", choose_prompts("grid", 2))
    data = collect(lm, inputs, range(lm.n_layers), tmp_path / "store", progress=False)
    assert stored and shard_identities(tmp_path / "store") == stored
    # collect attaches each example's lexical covariates; the table's headline is the controlled probe
    assert data.covariate_names == ("zipf", "n_tokens") and data.covariates is not None
    word = inputs.words[0]
    assert data.covariates[0, 1] == len(lm.tokenizer.encode(word, add_special_tokens=False)) >= 1
    assert (table.control == "zipf+n_tokens").all() and table.lexical_auc.notna().all()
    expected = fit_probes(data, ProbeConfig(n_perm=5), progress=False).table
    pd.testing.assert_frame_equal(table, expected.reset_index(drop=True), check_dtype=False, rtol=1e-9)
    assert (tmp_path / "probe" / "probe_auc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rm_folder, persistence_out = str(tmp_path / "rm"), str(tmp_path / "p")
    pers = run_cli("persistence", "--base", str(base), "--rm", rm_folder, "--out", persistence_out, *common)
    assert pers.exit_code == 0 and pers.traceback is None, pers.output[-2000:]
    along = pd.read_csv(tmp_path / "p" / "persistence_along.csv")
    named = along.groupby("step")["checkpoint"].first()
    assert named.index.tolist() == [0, 1, 2] and named.tolist()[1:] == ["checkpoint-2", "checkpoint-4"]  # base first
    base_rows = along[along.step == 0]
    assert (base_rows.cos.round(6) == 1).all()  # the base against itself
    other = run_cli(
        "persistence",
        "--base",
        str(build_tiny("gemma3", tmp_path / "g")),
        "--rm",
        str(tmp_path / "rm"),
        "--out",
        str(tmp_path / "bad"),
        *common,
    )
    assert other.exit_code == 2 and "not one lineage" in other.output and other.traceback is None
    assert "Traceback" not in other.output
