"""`rm-interp probe` and `rm-interp persistence` end to end on a tiny model and a tiny trained RM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from interp.tiny import build_tiny
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.neutral import neutral_pairs


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("rm-interp")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_probe_and_persistence_commands(tmp_path):
    base = build_tiny("llama", tmp_path / "base")
    train_rm(
        TrainConfig(base=str(base), out=str(tmp_path / "rm"), k=1, steps=4, batch_size=4, save_every=2),
        neutral_pairs(48),
        progress=False,
    )
    common = ["--store", str(tmp_path / "store"), "--limit-prompts", "2"]
    probe = _cli("probe", "--model", str(base), "--out", str(tmp_path / "probe"), "--n-perm", "5", *common)
    assert probe.returncode == 0, probe.stderr[-2000:]
    table = pd.read_csv(tmp_path / "probe" / "probes.csv")
    assert set(table.layer) == {0, 1, 2, 3} and table.auc.between(0, 1).all()
    assert (tmp_path / "probe" / "probe_auc.png").stat().st_size > 1000
    pers = _cli("persistence", "--base", str(base), "--rm", str(tmp_path / "rm"), "--out", str(tmp_path / "p"), *common)
    assert pers.returncode == 0, pers.stderr[-2000:]
    along = pd.read_csv(tmp_path / "p" / "persistence_along.csv")
    assert along.checkpoint.nunique() >= 3  # base + two checkpoints
    base_rows = along[along.step == 0]
    assert (base_rows.cos.round(6) == 1).all()  # the base against itself
    other = _cli(
        "persistence",
        "--base",
        str(build_tiny("gemma3", tmp_path / "g")),
        "--rm",
        str(tmp_path / "rm"),
        "--out",
        str(tmp_path / "bad"),
        *common,
    )
    assert other.returncode == 2 and "not one lineage" in other.stderr and "Traceback" not in other.stderr
