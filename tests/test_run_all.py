"""The main job end to end on tiny random models (profile `smoke`), and its up-front input checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from interp.tiny import build_tiny

ROOT = Path(__file__).resolve().parents[1]


def _run_all(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "experiments.run_all", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.slow
def test_run_all_smoke_writes_report_figures_and_traceable_numbers(tmp_path):
    llama, gemma = build_tiny("llama", tmp_path / "llama"), build_tiny("gemma3", tmp_path / "gemma")
    result = _run_all("--profile", "smoke", "--out", str(tmp_path / "out"), "--bases", f"{llama}:llama,{gemma}:gemma")
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "out" / "smoke"
    report = (run / "report.md").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["wall_seconds"] > 0 and summary["peak_rss_mb"] > 0
    assert set(summary["lineages"]) == {"llama", "gemma"}
    # the ground truth opens the report, with its figure
    assert set(summary["ground_truth"]["arms"]) == {"positive_control", "naturalistic", "sham"}
    assert len(summary["ground_truth"]["rm_held_out_accuracy"]) == 2 * 2  # 2 seeds × 2 head starts
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[0].startswith("## Ground truth") and len(headings) == 5  # + 2 lineages, Figure 1, MWLR
    assert (run / "ground_truth" / "ground_truth.png").stat().st_size > 1000
    assert "](ground_truth/ground_truth.png)" in report
    for name, lineage in summary["lineages"].items():
        effect = lineage["ablation_base_direction"]["all_layers"]
        assert {"d_reward_gap", "null_lo", "null_hi"} <= set(effect[0])
        for figure in lineage["figures"].values():
            assert Path(figure).stat().st_size > 1000 and Path(figure).is_relative_to(run)
            assert Path(figure).relative_to(run).as_posix() in report
        # alpha = 0 steering is a bit-exact no-op: its gaps equal the unedited model's
        steering = pd.read_csv(run / name / "steering_scores.csv")
        zero = steering[steering.condition == "steer_base@+0.00"].set_index("prompt")
        none = steering[steering.condition == "none"].set_index("prompt")
        assert (zero.loc[none.index, "reward_gap"] == none["reward_gap"]).all()
    assert (run / "fig1_table.csv").exists() and (run / "mwlr.png").exists()
    truth_written = (run / "ground_truth" / "ground_truth.json").stat().st_mtime_ns
    again = _run_all("--profile", "smoke", "--out", str(tmp_path / "out"), "--bases", f"{llama}:llama,{gemma}:gemma")
    assert again.returncode == 0
    assert json.loads((run / "summary.json").read_text())["wall_seconds"] < summary["wall_seconds"]
    assert (run / "ground_truth" / "ground_truth.json").stat().st_mtime_ns == truth_written  # reused, not rerun


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "no-such-profile"], "Unknown profile"),
        (["--bases", "no-such-model:llama,gemma3-270m:gemma"], "Unknown model"),
        (["--out", "/proc/forbidden"], "Cannot write"),
    ],
)
def test_run_all_bad_input_fails_fast_with_one_line(args, message):
    result = _run_all(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
