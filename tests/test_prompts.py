"""The 54-prompt grid against prompts typed here, and user prompt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from interp._util.errors import UserError
from interp.render.prompts import by_key, load_prompts, paper_prompts

TYPED = {
    "best_ever_one": ("What, in one word, is the best thing ever?", "positive"),
    "greatest_world_single": ("What, in a single word, is the greatest thing in the world?", "positive"),
    "good_time_please": ("What is the most good thing of all time? Please answer in one word only.", "positive"),
    "worst_ever_please": ("What is the worst thing ever? Please answer in one word only.", "negative"),
    "bad_world_one": ("What, in one word, is the most bad thing in the world?", "negative"),
    "terrible_time_single": ("What, in a single word, is the most terrible thing of all time?", "negative"),
}


def test_grid_matches_typed_prompts() -> None:
    grid = by_key(paper_prompts())
    assert len(grid) == 54
    for key, (text, framing) in TYPED.items():
        assert (grid[key].text, grid[key].framing) == (text, framing)
    assert sum(p.framing == "positive" for p in grid.values()) == 27
    assert grid["terrible_time_single"].adjective == "terrible" and grid["terrible_time_single"].style == "single"


def test_user_files(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text('best_ever_one: "Best?"\nmine: "Mine?"\n')
    got = by_key(load_prompts(tmp_path / "p.yaml"))
    assert got["best_ever_one"].framing == "positive" and got["mine"].framing == "unspecified"
    (tmp_path / "p.csv").write_text("key,text,framing\nq1,Worst?,Negative\n")
    assert load_prompts(tmp_path / "p.csv")[0].framing == "negative"
    (tmp_path / "p.txt").write_text("First?\n\nSecond?\n")
    assert [p.key for p in load_prompts(tmp_path / "p.txt")] == ["prompt_001", "prompt_002"]
    (tmp_path / "dup.csv").write_text("key,text\na,x\na,y\n")
    with pytest.raises(UserError, match="appears twice"):
        load_prompts(tmp_path / "dup.csv")
