"""Persistence against a seed floor: the floor logic on planted and sham directions, frozen layers skipped,
the LoRA experiment end to end on a tiny Llama, and bad input refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from experiments.persistence_lora import main
from interp._util.errors import UserError
from interp.models.tiny import Arch
from probes.data import ProbeData
from probes.seed_floor import direction_pairs, seed_floor, statement

pytestmark = pytest.mark.usefixtures("one_thread")
N_WORDS, PER_WORD, D = 80, 4, 24


def members(directions: list[list[torch.Tensor]], seed: int = 0) -> list[ProbeData]:
    """One ProbeData per model on the same inputs: shared word and example noise, plus a class shift of 6 along
    the model's own unit direction at each layer (`directions[model][layer]`)."""
    g = torch.Generator().manual_seed(seed)
    words = np.repeat(np.arange(N_WORDS), PER_WORD)
    y = torch.from_numpy(words % 2 == 0).float()
    n_layers = len(directions[0])
    noise = torch.randn(len(words), n_layers, D, generator=g) + torch.randn(N_WORDS, n_layers, D, generator=g)[words]
    datas = []
    for i, dirs in enumerate(directions):
        x = noise.clone()
        for layer, u in enumerate(dirs):
            x[:, layer] += 6 * (y[:, None] - 0.5) * u / u.norm()
        datas.append(
            ProbeData(x.numpy(), y.long().numpy(), np.char.add("w", words.astype(str)), f"model{i}", "lineage")
        )
    return datas


def unchanged(layers: int, seeds: int = 2, steps: tuple[int, ...] = (4,), value: float = 1e-3) -> pd.DataFrame:
    rows = [(s, t, j, value) for s in range(seeds) for t in steps for j in range(layers)]
    return pd.DataFrame(rows, columns=["seed", "step", "layer", "weight_change"])


@pytest.fixture(scope="module")
def planted_and_sham() -> pd.DataFrame:
    """Layer 0: nothing moves. Layer 1 (planted): both RMs turn far from the base the same way, and differ from
    each other by little. Layer 2 (sham): base and RMs are three directions at equal angles, so base-vs-RM change
    equals seed-vs-seed change."""
    e = torch.eye(D)
    u = e[0]
    base = [u, u, u + 0.5 * e[3]]
    rm0 = [u, u + 1.0 * e[1] + 0.1 * e[2], u + 0.5 * e[4]]
    rm1 = [u, u + 1.0 * e[1] - 0.1 * e[2], u + 0.5 * e[5]]
    data = members([base, rm0, rm1])
    pairs = direction_pairs(data[0], {(0, 4): data[1], (1, 4): data[2]})
    return seed_floor(pairs, unchanged(3)).set_index("layer")


def test_a_planted_change_beyond_a_small_seed_spread_is_flagged(planted_and_sham: pd.DataFrame) -> None:
    planted = planted_and_sham.loc[1]
    assert planted.verdict == "changes"
    assert planted.one_minus_cos == pytest.approx(1 - 1 / np.sqrt(2.01), abs=0.03)  # cos(u, u + e1 ± 0.1 e2)
    assert planted.floor < 0.05 and planted.excess_lo > 0.2
    assert planted.transfer_auc < planted.transfer_auc_floor


def test_the_sham_with_equal_base_and_seed_changes_and_the_unmoved_layer_stay_silent(
    planted_and_sham: pd.DataFrame,
) -> None:
    sham = planted_and_sham.loc[2]
    assert sham.verdict == "within seed floor"
    assert sham.one_minus_cos == pytest.approx(sham.floor, rel=0.15) and sham.one_minus_cos > 0.1
    assert sham.excess_lo < 0 < sham.floor_lo < sham.floor < sham.floor_hi
    still = planted_and_sham.loc[0]
    assert still.verdict == "within seed floor" and still.one_minus_cos < 0.01
    assert statement(planted_and_sham.reset_index()) == (
        "At step 4, 1 of 3 layers whose weights changed have a base-vs-RM (1 − cos) above the seed floor: layers 1."
    )


def test_frozen_layers_are_skipped_with_their_reason_and_leave_the_statement() -> None:
    e = torch.eye(D)
    turned = [e[0] + e[1] + 0.1 * e[2], e[0] + e[1] - 0.1 * e[2]]
    data = members([[e[0], e[0]], [turned[0], turned[0]], [turned[1], turned[1]]])
    pairs = direction_pairs(data[0], {(0, 4): data[1], (1, 4): data[2]})
    change = unchanged(2)
    change.loc[change.layer == 0, "weight_change"] = 0.0  # layer 0 frozen: its planted turn is ignored
    table = seed_floor(pairs, change).set_index("layer")
    assert table.loc[0, "verdict"] == "skipped" and "frozen in training" in table.loc[0, "reason"]
    assert table.loc[1, "verdict"] == "changes"
    assert statement(table.reset_index()).endswith("layers 1; 1 skipped.")
    change.loc[(change.layer == 1) & (change.seed == 1), "weight_change"] = 0.0  # frozen in one seed RM only
    assert (seed_floor(pairs, change).verdict == "skipped").all()
    with pytest.raises(UserError, match="missing for some seed RMs"):
        seed_floor(pairs, change[change.seed == 0])


def test_a_seed_floor_needs_two_seeds_at_every_step() -> None:
    data = members([[torch.eye(D)[0]]] * 3)
    with pytest.raises(UserError, match="at least 2"):
        direction_pairs(data[0], {(0, 4): data[1], (0, 8): data[2]})
    with pytest.raises(UserError, match="no data at step 8"):
        direction_pairs(data[0], {(0, 4): data[1], (1, 4): data[2], (0, 8): data[2]})


@pytest.fixture(scope="module")
def lora_run(tiny_folder: Callable[[Arch], Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("persistence-lora") / "out"
    assert main(["--base", str(tiny_folder("llama")), "--out", str(out), "--quick"]) == 0
    return {"out": out, **json.loads((out / "persistence.json").read_text())}


def test_the_quick_lora_run_writes_every_output_with_a_verdict_per_layer_and_checkpoint(
    lora_run: dict[str, Any],
) -> None:
    out = lora_run["out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "persistence.csv",
        "persistence.json",
        "persistence.png",
        "persistence_pairs.csv",
        "report.md",
    ]
    table = pd.read_csv(out / "persistence.csv")
    n_layers = table.layer.nunique()
    assert lora_run["checkpoint_steps"] == [3, 6, 12] and sorted(table.step.unique()) == [3, 6, 12]
    assert len(table) == 3 * n_layers and (table.weight_change > 0).all()  # LoRA: every layer trains
    assert set(table.verdict) <= {"changes", "within seed floor"} and lora_run["skipped_layers"] == {}
    assert (table.n_seeds == 2).all() and (table.n_seed_pairs == 1).all()
    pairs = pd.read_csv(out / "persistence_pairs.csv")
    base_rm = pairs[pairs.kind == "base_rm"].groupby(["layer", "step"]).one_minus_cos.mean()
    assert table.set_index(["layer", "step"]).one_minus_cos.to_numpy() == pytest.approx(base_rm.to_numpy())
    flagged = sorted(table[(table.step == 12) & (table.verdict == "changes")].layer)
    assert lora_run["layers_exceeding_floor"] == flagged
    assert lora_run["statement"] in (out / "report.md").read_text()
    assert ("no layer" in lora_run["statement"]) == (not flagged)
    by_step = {int(s): sorted(g.layer) for s, g in table[table.verdict == "changes"].groupby("step")}
    assert {int(s): v for s, v in lora_run["exceeding_by_step"].items()} == by_step
    earlier = any(s < 12 for s in by_step)
    assert ("Earlier: step" in lora_run["statement"]) == earlier
    assert ("Nor at the earlier steps 3, 6." in lora_run["statement"]) == (not earlier)
    assert len(lora_run["rm_accuracy"]) == 2 * 3 and lora_run["seeds"] == [0, 1]


def test_last_k_training_skips_its_frozen_layers_where_persistence_is_trivially_one(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    out = tmp_path / "last-k"
    args = ["--mode", "last-k", "--k", "1", "--steps", "4", "--checkpoints", "2", "--pairs", "40"]
    assert main(["--base", str(tiny_folder("llama")), "--out", str(out), "--quick", *args]) == 0
    result = json.loads((out / "persistence.json").read_text())
    table = pd.read_csv(out / "persistence.csv")
    top = table.layer.max()
    assert set(table[table.layer < top].verdict) == {"skipped"} and set(table[table.layer == top].verdict) != {
        "skipped"
    }
    assert sorted(result["skipped_layers"]) == [str(j) for j in range(top)]  # JSON keys
    assert all("frozen in training" in reason for reason in result["skipped_layers"].values())
    pairs = pd.read_csv(out / "persistence_pairs.csv")
    assert pairs[(pairs.kind == "base_rm") & (pairs.layer < top)].one_minus_cos.abs().max() < 1e-6
    assert "skipped (weights unchanged)" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "1"], "--seeds must be at least 2"),
        (["--steps", "10", "--checkpoints", "3"], "multiple of 4"),
        (["--probe-prompts", "nope"], "Unknown --probe-prompts key 'nope'"),
        (["--lr", "0"], "--lr must be positive"),
        (["--base", "/nonexistent/model"], "/nonexistent/model"),
    ],
)
def test_bad_input_is_refused_in_one_line_and_writes_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
