"""Reading score tables (paper layout and tidy long) and the errors bad tables give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interp._util.errors import UserError
from interp.render.prompts import paper_prompts
from interp.stats.paper_tables import assign_families, prompts_with_table_framing, read_scores
from interp.stats.ranks import rank_scores

FIX = Path(__file__).parent / "fixtures" / "stats"
PROMPTS = paper_prompts()


def test_paper_layout_reads_to_long_with_registry_families() -> None:
    scores = read_scores([FIX / "planted"], PROMPTS)
    assert len(scores) == 6 * 12 * 54
    fams = assign_families("registry", scores["model"].unique())
    assert sorted(fams.values()).count("gemma") == 3


def test_long_parquet_equals_wide(tmp_path: Path) -> None:
    wide = read_scores([FIX / "null"], PROMPTS)
    wide.to_parquet(tmp_path / "long.parquet")
    assert read_scores([tmp_path / "long.parquet"], PROMPTS).equals(wide)


def test_family_csv(tmp_path: Path) -> None:
    models = ["rm_a1", "rm_b1"]
    assert assign_families(str(FIX / "null_families.csv"), models) == {"rm_a1": "alpha", "rm_b1": "beta"}
    with pytest.raises(UserError, match="gives no family for model 'other'"):
        assign_families(str(FIX / "null_families.csv"), ["other"])
    with pytest.raises(UserError, match="not in the RM registry"):
        assign_families("registry", ["rm_a1"])


def _wide(tmp_path: Path) -> pd.DataFrame:
    return pd.read_csv(FIX / "null" / "rm_a1.csv")


def test_columns_not_matching_prompts(tmp_path: Path) -> None:
    frame = _wide(tmp_path).drop(columns=["best_ever_one"]).assign(extra_prompt=1.0)
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(UserError, match=r"do not match the prompt set \(missing \['best_ever_one'\]") as err:
        read_scores([tmp_path / "m.csv"], PROMPTS)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_scores(tmp_path: Path, bad: float) -> None:
    frame = _wide(tmp_path)
    frame.loc[3, "worst_time_one"] = bad
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(UserError, match=r"1 scores are NaN or infinite .*prompt 'worst_time_one'"):
        read_scores([tmp_path / "m.csv"], PROMPTS)


def test_unknown_layout_and_missing_folder(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(UserError, match="expected a 'response' column"):
        read_scores([tmp_path / "x.csv"], PROMPTS)
    with pytest.raises(UserError, match="does not exist"):
        read_scores([tmp_path / "nope"], PROMPTS)


def test_ranks_match_r_average_ties() -> None:
    s = pd.DataFrame({"model": "m", "prompt": "p", "word": list("abcde"), "score": [3.0, 1.0, 3.0, 5.0, 1.0]})
    # R: rank(-c(3, 1, 3, 5, 1)) == c(2.5, 4.5, 2.5, 1.0, 4.5)
    assert rank_scores(s)["rank"].tolist() == [2.5, 4.5, 2.5, 1.0, 4.5]


def test_sweep_folder_with_parquet_and_csv_and_own_prompts(tmp_path: Path) -> None:
    rows = [
        ("rm", key, w, s, fr)
        for key, fr in (("q1", "positive"), ("q2", "negative"))
        for w, s in ((" love", 1.0), ("freedom", 2.0), ("table", 0.5))
    ]
    table = pd.DataFrame(rows, columns=["model", "prompt", "word", "score", "framing"])
    table.to_parquet(tmp_path / "scores.parquet")
    table.to_csv(tmp_path / "scores.csv", index=False)
    scores = read_scores([tmp_path], PROMPTS)
    assert len(scores) == 6
    prompts = prompts_with_table_framing(scores, PROMPTS)
    assert {p.key: p.framing for p in prompts}["q2"] == "negative"
