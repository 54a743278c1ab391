"""`rm-interp train-rm` end to end on a tiny model, and its one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import MISSING, fields, replace
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from interp.cli import app, main
from interp.models import load_rm
from interp.models.tiny import Arch
from interp.score import reward_scores
from interp.training.batches import split_by_prompt
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.prefdata import load_pairs

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures" / "training"


def test_train_rm_options_are_the_train_config_fields() -> None:
    """Every `TrainConfig` field is a `train-rm` option with the field's default and help, beside the command's own."""
    options = {p.name: p for p in typer.main.get_command(app).commands["train-rm"].params}  # type: ignore[attr-defined]
    own = {"data", "pairs", "data_seed", "threads", "resume", "require_neutral"}
    assert set(options) == {f.name for f in fields(TrainConfig)} | own
    for f in fields(TrainConfig):
        assert options[f.name].help == f.metadata["help"]
        assert options[f.name].required == (f.default is MISSING)
        assert f.default is MISSING or options[f.name].default == f.default, f.name


def test_train_rm_writes_checkpoints_and_metrics(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    args = [
        "train-rm",
        "--base",
        str(tiny_folder("llama")),
        "--data",
        "neutral",
        "--pairs",
        "60",
        "--out",
        str(tmp_path),
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--k",
        "1",
        "--save-every",
        "2",
        "--dtype",
        "fp32",
        "--max-length",
        "128",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "passes the neutrality check" in result.output and "held-out pairwise accuracy" in result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["dropped_too_long"] == 0
    assert metrics["held_out_accuracy"] == pytest.approx(
        _accuracy(tmp_path / "checkpoint-4", metrics["held_out_pairs"])
    )
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert json.loads((tmp_path / "neutrality.json").read_text())["passed"] is True
    checks = json.loads((tmp_path / "conformance.json").read_text())
    assert {c["check"] for c in checks} >= {"determinism", "padding invariance", "own head", "readout token"}
    assert all(c["passed"] for c in checks), checks
    assert f"conformance: {len(checks)} of {len(checks)} checks passed" in result.output
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    resumed = json.loads((tmp_path / "metrics.json").read_text())
    assert resumed["resumed_from_step"] == 4 and resumed["held_out_accuracy_at_start"] is not None
    assert resumed["held_out_accuracy_at_start"] == metrics["held_out_accuracy_at_start"]


def _accuracy(checkpoint: Path, n_held: int) -> float:
    """The pairwise accuracy of a saved RM on the held-out pairs of `--data neutral --pairs 60`, recomputed
    with the public scorer (ties count one half, as in training)."""
    pairs = load_pairs("neutral", 60, 0)
    held = [pairs[i] for i in split_by_prompt(pairs, TrainConfig("", "").held_out, 0)[1]]
    assert len(held) == n_held
    rm = load_rm(str(checkpoint))
    chosen = reward_scores(rm, [(p.prompt, p.chosen) for p in held])
    rejected = reward_scores(rm, [(p.prompt, p.rejected) for p in held])
    return float(((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean())


def test_killed_run_resumed_from_the_cli_keeps_its_start_accuracy(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    base = str(tiny_folder("qwen2"))
    pairs = load_pairs("neutral", 60, 0)
    killed = TrainConfig(base, str(tmp_path / "killed"), k=1, dtype="fp32", steps=4, batch_size=4, save_every=2)
    killed = replace(killed, max_length=128)
    whole = train_rm(replace(killed, out=str(tmp_path / "whole")), pairs, progress=False)
    assert train_rm(killed, pairs, stop_after=3, progress=False).stopped
    args = ["train-rm", "--base", base, "--pairs", "60", "--out", killed.out, "--resume"]
    args += ["--k", "1", "--dtype", "fp32", "--steps", "4", "--batch-size", "4", "--save-every", "2"]
    result = CliRunner().invoke(app, [*args, "--max-length", "128"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert metrics["resumed_from_step"] == 2 and metrics["held_out_accuracy"] == whole.metrics["held_out_accuracy"]
    assert metrics["held_out_accuracy_at_start"] == whole.metrics["held_out_accuracy_at_start"] is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [("no_preference_fields.jsonl", "no chosen/rejected"), ("identical_answers.jsonl", "identical chosen")],
)
def test_bad_data_ends_in_one_line(
    tiny_folder: Callable[[Arch], Path],
    tmp_path: Path,
    data: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "rm-interp",
        "train-rm",
        "--base",
        str(tiny_folder("llama")),
        "--data",
        str(FIXTURES / data),
        "--out",
        str(tmp_path),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and message in err and "Traceback" not in err
    assert len(err.replace(str(FIXTURES), "").splitlines()) == 1
