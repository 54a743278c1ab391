"""`rm-interp train-rm` end to end on a tiny model, and its one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interp.cli import app, main
from interp.tiny import Arch

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures" / "training"


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
    assert metrics["steps"] == 4 and 0 <= metrics["held_out_accuracy"] <= 1
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert json.loads((tmp_path / "neutrality.json").read_text())["passed"] is True
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output


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
