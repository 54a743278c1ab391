"""The planted-bias experiment end to end on a tiny model (its real-model successor is `experiments.ground_truth`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from experiments.planted_bias import main
from interp.models.tiny import Arch

pytestmark = pytest.mark.usefixtures("one_thread")


def run(base: str, out: Path, *extra: str) -> dict[str, Any]:
    main(["--base", base, "--out", str(out), *extra])
    return dict(json.loads((out / "summary.json").read_text()))


def identities(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every file under `folder`: equal before and after only if none was rewritten."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


def test_planted_bias_experiment_on_a_tiny_model(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    args = ["--seeds", "2", "--pairs", "60", "--prompts", "2", "--plant-steps", "20", "--k", "2", "--lr", "1e-3"]
    summary = run(str(tiny_folder("llama")), tmp_path, *args)
    assert summary["plant_check"]["rank_gain"] > 0
    contrasts = summary["rm_contrasts"]
    assert [c["word_set"] for c in contrasts] == ["planted", "control"]
    assert all(c["n_treated"] == c["n_reference"] == 2 and c["unit"] == "RM" for c in contrasts)
    scores = pd.read_csv(tmp_path / "rm_scores.csv")
    assert scores["model"].nunique() == 4 and scores["prompt"].nunique() == 2
    assert not list(tmp_path.glob("rms/*/checkpoint-*"))  # weights removed unless --keep-rms
    assert "## RM inheritance" in (tmp_path / "report.md").read_text()
    planted, rms = identities(tmp_path / "planted_base"), identities(tmp_path / "rms")
    assert "plant.json" in planted and sum(name.endswith("scores.csv") for name in rms) == 4
    again = run(str(tiny_folder("llama")), tmp_path, *args)
    # reruns reuse the planted base and every RM's scores: no file of theirs was rewritten
    assert identities(tmp_path / "planted_base") == planted and identities(tmp_path / "rms") == rms
    assert again["rm_contrasts"] == summary["rm_contrasts"]
