"""The main job end to end on tiny random models (profile `smoke`), and its up-front input checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from interp.models.tiny import build_tiny

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


def identities(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every file under `folder`: equal before and after only if none was rewritten."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


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
    assert set(summary["ground_truth"]["arms"]) == {"positive_control", "naturalistic", "naturalistic_matched", "sham"}
    assert len(summary["ground_truth"]["rm_held_out_accuracy"]) == 2 * 2  # 2 seeds × 2 head starts
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[0].startswith("## Ground truth") and len(headings) == 5  # + 2 lineages, Figure 1, MWLR
    assert (run / "ground_truth" / "ground_truth.png").stat().st_size > 1000
    assert "](ground_truth/ground_truth.png)" in report
    for name, lineage in summary["lineages"].items():
        causal = lineage["causal"]
        assert (causal["n_seeds"], causal["n_eval_words"], causal["n_eval_prompts"]) == (2, 8, 2)  # 1 per framing
        assert not set(causal["eval_prompts"]) & set(causal["fitting_prompts"])
        answer = [e for e in causal["ablation"] if e["positions"] == "answer"]
        assert {e["layer"] for e in answer} >= {0, lineage["best_probe_layer"]}
        for effect in answer:  # one per (layer, framing), every null by name beside it
            assert effect["ci_low"] <= effect["estimate"] <= effect["ci_high"]
            assert set(effect["nulls"]) == {"shuffled_label", "covariance_matched", "isotropic", "placebo"}
            assert effect["nulls"]["shuffled_label"]["n"] == 3 * 2 and effect["nulls"]["placebo"]["n"] == 2
            assert effect["survives"] == all(
                effect["ci_high"] < n["band_low"] or effect["ci_low"] > n["band_high"] for n in effect["nulls"].values()
            )
            assert (effect["n_seeds"], effect["n_eval_words"], effect["n_eval_prompts"]) == (2, 8, 1)
        assert any(e["positions"] == "all" for e in causal["ablation"])  # the every-position edit, beside
        head = lineage["head_reads_unembedding"]["seeds"]  # every seed's head beside the label-shuffled null
        assert len(head["per_head"]) == 2 and head["null_n"] == 2 * 200 and head["null_low"] < head["null_high"]
        assert head["per_head"][0] == pytest.approx(lineage["head_reads_unembedding"]["post_norm"], abs=1e-6)
        paths = lineage["gap_paths"]  # attribution and patching: two code paths to the same unpatched gap
        patched = pd.DataFrame(paths["patching"])
        assert set(patched["layer"]) == {paths["first_trained_layer"]} == {3}  # smoke trains the last layer only
        for framing, total in paths["total_gap"].items():
            unpatched = patched[patched.framing == framing]["gap"].iloc[0]
            # fp32 scores of order 1–10: agree to 1e-5 relative
            assert abs(total["estimate"] - unpatched) < 1e-5 * max(1.0, abs(unpatched)) and total["n_rms"] == 2
        assert len({e["dose"] for e in causal["steering"]}) == 5  # ±0.5, ±1 separations and 0
        for figure in lineage["figures"].values():
            assert Path(figure).stat().st_size > 1000 and Path(figure).is_relative_to(run)
            assert Path(figure).relative_to(run).as_posix() in report
        # a zero dose changes nothing (up to the rounding of another batch composition)
        steering = pd.read_csv(run / name / "steering_changes.csv")
        assert steering[steering.dose == 0]["d_reward_gap"].abs().max() < 1e-4
        assert steering[steering.dose != 0]["d_reward_gap"].abs().max() > 1e-4
    assert report.count("### Causal claims on held-out data") == 2 and "Δ rewardΔ gap" not in report
    assert set(pd.read_csv(run / "fig1_table.csv")["family"]) == {"llama", "gemma"}
    assert (run / "mwlr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    truth = identities(run / "ground_truth")
    again = _run_all("--profile", "smoke", "--out", str(tmp_path / "out"), "--bases", f"{llama}:llama,{gemma}:gemma")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "ground_truth.json" in truth and identities(run / "ground_truth") == truth  # reused, not rerun


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
