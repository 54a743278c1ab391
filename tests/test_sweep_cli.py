"""Lexicon sweeps and the `sweep`, `logprobs`, `implicit-reward` commands end to end on tiny models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from interp._util.errors import UserError
from interp.cli import app
from interp.lexicons.readers import load_lexicon
from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.render.prompts import load_prompts, paper_prompts
from interp.score import reward_scores
from interp.stats.paper_tables import read_scores
from interp.sweep.answers import lexicon_answers, sweep_answers, sweep_lexicon

FIXTURES = Path(__file__).parent / "fixtures" / "sweep"
LEXICON = str(FIXTURES / "tiny_lexicon.csv")
PROMPTS = str(FIXTURES / "prompts.csv")


def invoke(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None:
        raise result.exception
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def rm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder("qwen2")), seed=0)


def test_lexicon_answers_expand_globs(rm: ModelHandle) -> None:
    entries = lexicon_answers(load_lexicon(LEXICON), rm.tokenizer)
    answers = entries["word"].tolist()
    assert answers[:2] == ["power", "best"] and {"word", "world"} <= set(answers) and "wor*" not in answers
    assert set(entries.loc[entries["word"] == "world", "category"]) == {"agency"}


def test_sweep_answers_equal_full_scores(rm: ModelHandle) -> None:
    prompts = paper_prompts()[:3]
    words = ["power", "care", "the best friend", "power"]
    table = sweep_answers(rm, prompts, words, model="tiny", batch_size=2, progress=False)
    assert list(table.columns) == ["model", "prompt", "word", "score", "framing"] and len(table) == 9
    full = reward_scores(rm, [(p.text, w) for p in prompts for w in ["power", "care", "the best friend"]])
    assert abs(full.double().numpy() - table["score"].to_numpy()).max() <= 1e-4
    with pytest.raises(UserError, match="empty"):
        sweep_answers(rm, prompts, [], progress=False)
    with pytest.raises(UserError, match="prompts is empty"):
        sweep_answers(rm, [], words, progress=False)


def test_sweep_lexicon_equals_full_scores_and_keeps_other_models_out(
    rm: ModelHandle, tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    prompts = paper_prompts()[:2]
    words = ["power", "care", "the best friend"]
    folders = [tmp_path / p.key for p in prompts]
    table = sweep_lexicon(rm, prompts, words, folders, model="tiny", batch_size=2, progress=False)
    assert list(table.columns) == ["model", "prompt", "word", "score", "framing"] and len(table) == 6
    full = reward_scores(rm, [(p.text, w) for p in prompts for w in words])
    assert abs(full.double().numpy() - table["score"].to_numpy()).max() <= 1e-4
    assert sorted(p.name for p in folders[0].iterdir()) == ["meta.json", "shard-00000.parquet"]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    other = rm_from_base(str(tiny_folder("llama")), seed=0)
    with pytest.raises(UserError, match="different"):
        sweep_lexicon(other, prompts[::-1], words, folders[::-1], progress=False)
    with pytest.raises(UserError, match="different answers"):
        sweep_lexicon(rm, prompts, words[:2], folders, progress=False)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_sweep_command_writes_a_table_stats_reads(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    invoke(
        "sweep",
        "--base-for-new-head",
        str(tiny_folder("llama")),
        "--prompts",
        PROMPTS,
        "--lexicon",
        LEXICON,
        "--out",
        str(tmp_path),
    )
    scores = read_scores([tmp_path / "scores.parquet"], load_prompts(PROMPTS))
    assert len(scores) == 2 * len(pd.read_csv(tmp_path / "scores.csv")["word"].unique())
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == "tiny-llama0+head-seed0" and "tiny_lexicon" in config["lexicon"]
    assert config["kind"] == "sweep" and sorted(config["prompts"]) == sorted(
        p.name for p in (tmp_path / "shards").iterdir()
    )


def test_sweep_command_whole_vocabulary(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    args = [
        "sweep",
        "--base-for-new-head",
        str(tiny_folder("gemma3")),
        "--limit-prompts",
        "1",
        "--lexicon",
        "vocab",
        "--shard-size",
        "128",
        "--dtype",
        "bf16",
        "--out",
        str(tmp_path),
    ]
    invoke(*args)
    table = pd.read_parquet(tmp_path / "scores.parquet")
    assert table["word"].is_unique and table["score"].notna().all()
    assert (
        sorted(p.name for p in (tmp_path / "shards" / "best_ever_one").glob("*.parquet"))[-1] == "shard-00003.parquet"
    )
    counts = json.loads((tmp_path / "config.json").read_text())["vocab_counts"]["best_ever_one"]
    assert counts["tokens"] == 400 and counts["rows"] == len(table)
    invoke(*args)  # a rerun finds every shard done and gives the same table
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "scores.parquet"), table)


def test_logprobs_command_reports_both_wrappers_for_base_models(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    invoke(
        "logprobs",
        "--model",
        str(tiny_folder("gemma3")),
        "--prompts",
        PROMPTS,
        "--lexicon",
        LEXICON,
        "--out",
        str(tmp_path),
    )
    table = pd.read_csv(tmp_path / "logprobs.csv")
    assert set(table["wrapper"]) == {"raw", "user_assistant"} and (table["score"] < 0).all()
    invoke(
        "logprobs",
        "--model",
        str(tiny_folder("gemma3")),
        "--prompts",
        PROMPTS,
        "--lexicon",
        LEXICON,
        "--wrapper",
        "user_assistant",
        "--out",
        str(tmp_path / "one"),
    )
    assert set(pd.read_csv(tmp_path / "one" / "logprobs.csv")["wrapper"]) == {"user_assistant"}


def test_implicit_reward_command(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    invoke(
        "implicit-reward",
        "--p",
        str(tiny_folder("llama")),
        "--q",
        str(tiny_folder("qwen2")),
        "--prompts",
        PROMPTS,
        "--lexicon",
        LEXICON,
        "--top",
        "3",
        "--out",
        str(tmp_path),
    )
    summary = pd.read_csv(tmp_path / "mwlr_summary.csv")
    assert summary["mean_mwlr"].is_monotonic_decreasing and set(summary["category"]) == {"agency", "communion"}
    assert (tmp_path / "fig3_mwlr.png").stat().st_size > 1000
    assert len(pd.read_csv(tmp_path / "mwlr.csv")) == 2 * len(summary)
    invoke(
        "implicit-reward",
        "--p",
        str(tiny_folder("gemma3")),
        "--q",
        str(tiny_folder("qwen2")),
        "--prompts",
        PROMPTS,
        "--lexicon",
        "vocab",
        "--wrapper-p",
        "user_assistant",
        "--out",
        str(tmp_path / "vocab"),
    )
    vocab = pd.read_csv(tmp_path / "vocab" / "mwlr_summary.csv", keep_default_na=False)
    assert len(vocab) > 100 and "the" in set(vocab["word"]) and "category" not in vocab
    assert json.loads((tmp_path / "vocab" / "config.json").read_text())["p"]["wrapper"] == "user_assistant"


def test_command_errors(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    folder = str(tiny_folder("llama"))
    with pytest.raises(UserError, match="exactly one"):
        invoke("sweep", "--rm", folder, "--base-for-new-head", folder, "--out", str(tmp_path))
    with pytest.raises(UserError, match="limit-prompts"):
        invoke("sweep", "--base-for-new-head", folder, "--limit-prompts", "0", "--out", str(tmp_path))
    with pytest.raises(UserError, match="wrapper"):
        invoke("logprobs", "--model", folder, "--wrapper", "chatml", "--out", str(tmp_path))


def test_outputs_are_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails before its rename (disk full, kill) leaves the earlier tables, config, JSON and report."""
    from interp._util.runinfo import write_json
    from interp.plots.report import write_report
    from interp.sweep.outputs import write_config, write_table

    summary = {"profile": {"name": "quick"}, "wall_seconds": 1.0, "peak_rss_mb": 1.0, "lineages": {}}
    write_table(pd.DataFrame({"score": [1.0]}), tmp_path, "scores")
    write_config(tmp_path, {"kind": "sweep", "run": "earlier"})
    write_json(tmp_path / "summary.json", {"run": "earlier"})
    write_report(tmp_path, summary, ["earlier"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("interp._util.files.os.replace", disk_full)
        with pytest.raises(OSError):
            write_table(pd.DataFrame({"score": [2.0, 3.0]}), tmp_path, "scores")
        with pytest.raises(OSError):
            write_config(tmp_path, {"kind": "sweep", "run": "later"})
        with pytest.raises(OSError):
            write_json(tmp_path / "summary.json", {"run": "later"})
        with pytest.raises(OSError):
            write_report(tmp_path, summary, ["later"])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary file left either
