"""The ground-truth experiment end to end on a tiny model: the positive control is found, the sham is not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from experiments.ground_truth import main
from interp.models.tiny import Arch

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ["--seeds", "5", "--pairs", "80", "--prompts", "3", "--plant-prompts", "6", "--plant-steps", "4", "--k", "1"]


@pytest.fixture(scope="module")
def result(tiny_folder: Callable[[Arch], Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ground-truth")
    base = str(tiny_folder("llama"))
    assert main(["--base", base, "--out", str(out), "--planted-words", "kindness", *SMALL]) == 0
    return {"out": out, **json.loads((out / "ground_truth.json").read_text())}


def test_the_positive_control_is_detected_with_a_dose_response_and_the_sham_is_not(result: dict[str, Any]) -> None:
    doses = result["arms"]["positive_control"]
    assert [d["dose"] for d in doses] == [0.25, 0.5, 1.0]
    assert doses[-1]["detected"] and doses[-1]["ci_low"] > 0 and doses[-1]["n_rms"] == 5
    assert doses[0]["effect"] <= doses[1]["effect"] <= doses[2]["effect"]
    sham = result["arms"]["sham"]
    assert not sham["detected"] and sham["ci_low"] <= 0 <= sham["ci_high"]
    assert abs(sham["eval_readout_shift_sd"]) < 0.5 * doses[-1]["eval_readout_shift_sd"]


def test_ablating_the_fitted_planted_direction_removes_the_effect_and_the_matched_nulls_do_not(
    result: dict[str, Any],
) -> None:
    mechanism = result["mechanism"]
    ablation, nulls = mechanism["ablation"], mechanism["nulls"]
    assert ablation["n_rms"] == 5 and ablation["fraction_removed"] > 0.5
    assert ablation["beats_every_null"]
    assert set(nulls) == {"shuffled_label", "covariance_matched", "isotropic", "placebo"}
    assert nulls["isotropic"]["n"] == 5 * 20 and abs(nulls["isotropic"]["median"]) < 0.2
    per_rm = mechanism["per_rm"]
    assert [r["effect"] for r in per_rm] == pytest.approx(
        [e["effect"] for e in _effects(result["out"]) if e["arm"] == "positive_control@1"], abs=1e-9
    )


def _effects(out: Path) -> list[dict[str, Any]]:
    import pandas as pd

    return pd.read_csv(out / "effects.csv").to_dict("records")


def test_the_output_has_the_promised_shape_and_files(result: dict[str, Any]) -> None:
    row_keys = {"dose", "effect", "ci_low", "ci_high", "p", "unit", "n_rms", "detected"}
    arms = result["arms"]
    assert all(row_keys <= set(r) for r in [*arms["positive_control"], arms["naturalistic"], arms["sham"]])
    assert arms["naturalistic"]["unit"] == "RM" and arms["naturalistic"]["dose"] is None
    assert len(result["rm_held_out_accuracy"]) == 10  # 5 seeds × (lm-contrast, fit) heads
    assert result["planted_words"] == ["kindness"]  # one token in the tiny vocabulary: no training pair uses it
    out = result["out"]
    assert (out / "ground_truth.png").stat().st_size > 5000
    assert (out / "report.md").read_text().startswith("## Ground truth")
    assert len(list((out / "plants").glob("*.safetensors"))) == 3 + 5 + 2  # doses, a sham per seed, naturalistic ×2
    fits = result["plant_fits"]
    assert fits["naturalistic_matched"]["edit_norm"] <= fits["positive_control@1"]["edit_norm"] * (1 + 1e-5)
    assert fits["naturalistic"]["edit_norm"] > fits["naturalistic_matched"]["edit_norm"]
    assert arms["naturalistic_matched"]["n_rms"] == 5
    assert "naturalistic, norm-matched" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--doses", "0.5,x"], "--doses must be comma-separated numbers"),
        (["--doses", "0,1"], "--doses must all be positive"),
        (["--planted-words", " , "], "--planted-words needs distinct"),
        (["--seeds", "1"], "--seeds must be at least 2"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert main(["--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_words_whose_tokens_fill_the_training_pairs_are_refused_before_anything_is_written(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"  # the tiny vocabulary splits "freedom" into pieces most training pairs use
    base = str(tiny_folder("llama"))
    assert main(["--base", base, "--out", str(out), "--planted-words", "freedom,success", *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training pairs contain a token of the planted words" in err[0]
    assert not out.exists()
