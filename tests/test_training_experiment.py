"""The planted-bias experiment end to end on a tiny model (the SmolLM2 run is slow)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from experiments.planted_bias import main
from interp.tiny import Arch

pytestmark = pytest.mark.usefixtures("one_thread")


def run(base: str, out: Path, *extra: str) -> dict[str, Any]:
    main(["--base", base, "--out", str(out), *extra])
    return dict(json.loads((out / "summary.json").read_text()))


def test_planted_bias_experiment_on_a_tiny_model(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    summary = run(
        str(tiny_folder("llama")),
        tmp_path,
        "--seeds",
        "2",
        "--pairs",
        "60",
        "--prompts",
        "2",
        "--plant-steps",
        "20",
        "--k",
        "2",
        "--lr",
        "1e-3",
    )
    assert summary["plant_check"]["rank_gain"] > 0
    contrasts = summary["rm_contrasts"]
    assert [c["word_set"] for c in contrasts] == ["planted", "control"]
    assert all(c["n_treated"] == c["n_reference"] == 2 and c["unit"] == "RM" for c in contrasts)
    scores = pd.read_csv(tmp_path / "rm_scores.csv")
    assert scores["model"].nunique() == 4 and scores["prompt"].nunique() == 2
    assert not list(tmp_path.glob("rms/*/checkpoint-*"))  # weights removed unless --keep-rms
    assert "## RM inheritance" in (tmp_path / "report.md").read_text()
    again = run(
        str(tiny_folder("llama")),
        tmp_path,
        "--seeds",
        "2",
        "--pairs",
        "60",
        "--prompts",
        "2",
        "--plant-steps",
        "20",
        "--k",
        "2",
        "--lr",
        "1e-3",
    )
    assert again["rm_contrasts"] == summary["rm_contrasts"]  # reruns reuse the planted base and RM scores


@pytest.mark.slow
@pytest.mark.timeout(2400)  # plant + 4 RMs with frozen-feature passes: >900 s on a 2-core machine under load
def test_planted_bias_experiment_quick_on_smollm2(tmp_path: Path) -> None:
    summary = run("smollm2-135m-instruct", tmp_path, "--quick")
    assert summary["plant_check"]["took"] is True
    # 200 pairs leave ~11 held-out pairs per RM: accuracy is reported, not required above chance here (the
    # 2,000-pair acceptance runs of train-rm are where accuracy is measured).
    assert len(summary["rms"]) == 4 and all(0 <= r["held_out_accuracy"] <= 1 for r in summary["rms"])
    assert [c["word_set"] for c in summary["rm_contrasts"]] == ["planted", "control"]
