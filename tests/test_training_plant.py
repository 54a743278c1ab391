"""Planted bias on a tiny model: the planted words' first-token log-prob ranks rise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from interp._util.errors import UserError
from interp.models import load_lm
from interp.models.tiny import Arch
from interp.render.prompts import paper_prompts
from interp.training.plant import PlantConfig, check_prompts, first_token_logprobs, plant_bias, plant_check

pytestmark = pytest.mark.usefixtures("one_thread")

PLANTED = ("power", "wealth")
OTHERS = ["love", "freedom", "success", "friendship", "family", "kindness", "achievement", "trust", "care"]


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_plant_raises_planted_word_ranks(tiny_folder: Callable[[Arch], Path], tmp_path: Path, arch: Arch) -> None:
    base = tiny_folder(arch)
    config = PlantConfig(
        base=str(base), out=str(tmp_path / "planted"), words=PLANTED, steps=30, batch_size=8, lr=3e-3, dtype="fp32"
    )
    planted = plant_bias(config, progress=False)
    assert (planted / "plant.json").is_file()
    prompts = check_prompts()[:4]
    check = plant_check(load_lm(str(base)), load_lm(str(planted)), PLANTED, OTHERS, prompts)
    assert check.took and check.planted_mean_rank < check.base_mean_rank - 2
    assert check.n_prompts == 4 and set(check.ranks["model"]) == {"base", "planted"}


def test_first_token_logprobs_rank_within_each_prompt(tiny_folder: Callable[[Arch], Path]) -> None:
    lm = load_lm(str(tiny_folder("llama")))
    table = first_token_logprobs(lm, check_prompts()[:2], ["love", "power", "wealth"])
    assert len(table) == 6 and (table["logprob"] < 0).all()
    assert sorted(table.groupby("prompt")["rank"].sum().tolist()) == [6.0, 6.0]
    assert len(check_prompts()) == sum(p.framing == "positive" for p in paper_prompts()) == 27


def test_plant_refuses_bad_settings(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="at least one word"):
        plant_bias(PlantConfig(base=str(tiny_folder("llama")), out=str(tmp_path), words=()), progress=False)
    with pytest.raises(UserError, match="retain_fraction"):
        plant_bias(PlantConfig(base=str(tiny_folder("llama")), out=str(tmp_path), retain_fraction=1.0), progress=False)
