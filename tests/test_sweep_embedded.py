"""The sweep, logprobs and implicit-reward commands end to end on both embedded models (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from interp.cli import app
from interp.render.prompts import paper_prompts
from interp.stats.paper_tables import read_scores

pytestmark = pytest.mark.slow
LIMIT = ["--prompts", "grid", "--limit-prompts", "2"]


def invoke(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None:
        raise result.exception
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma3-270m"])
def test_default_lexicon_sweep(name: str, tmp_path: Path) -> None:
    invoke("sweep", "--base-for-new-head", name, *LIMIT, "--out", str(tmp_path))
    scores = read_scores([tmp_path / "scores.parquet"], paper_prompts())
    assert scores["prompt"].nunique() == 2 and scores["word"].nunique() > 100
    config = json.loads((tmp_path / "config.json").read_text())
    assert "default lexicon" in config["lexicon"] and config["model"] == f"{name}+head-seed0"


@pytest.mark.parametrize(
    ("name", "wrappers"), [("smollm2-135m-instruct", {"chat"}), ("gemma3-270m", {"raw", "user_assistant"})]
)
def test_logprobs(name: str, wrappers: set[str], tmp_path: Path) -> None:
    invoke("logprobs", "--model", name, *LIMIT, "--out", str(tmp_path))
    table = pd.read_parquet(tmp_path / "logprobs.parquet")
    assert set(table["wrapper"]) == wrappers
    contexts = table.groupby(["wrapper", "prompt"])
    # log-probabilities of distinct next tokens (no two words share a variant): their mass is below 1
    tokens = table.assign(token=table["variants"].str.split("|")).explode("token")
    assert not tokens.duplicated(["wrapper", "prompt", "token"]).any()
    assert (contexts["score"].apply(lambda s: np.exp(s).sum()) < 1).all()
    # "the best thing ever?" -> "love" is the likeliest lexicon answer of both models in every wrapper (measured)
    assert set(table.loc[contexts["score"].idxmax(), "word"]) == {"love"}
    assert table["word"].nunique() > 90  # most default-lexicon words are a single token in some variant


def test_implicit_reward(tmp_path: Path) -> None:
    invoke("implicit-reward", "--p", "gemma3-270m", "--q", "smollm2-135m-instruct", *LIMIT, "--out", str(tmp_path))
    summary = pd.read_csv(tmp_path / "mwlr_summary.csv")
    assert len(summary) > 90 and summary["mean_mwlr"].is_monotonic_decreasing
    assert (tmp_path / "fig3_mwlr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["p"]["wrapper"] == "raw" and config["q"]["wrapper"] == "chat"
