"""Bradley–Terry RM training on tiny models: determinism, exact resume, learning, checkpoints, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from interp._util.errors import UserError
from interp.models import load_lm, load_rm
from interp.models.lineage import Lineage
from interp.models.tiny import Arch, build_tiny
from interp.score import reward_scores
from interp.training.bradley_terry import TrainConfig, train_rm
from interp.training.checkpoints import (
    check_conformance,
    checkpoint_lineage,
    folders_lineage,
    list_checkpoints,
    load_checkpoint,
    read_meta,
    rm_folders,
)
from interp.training.neutral import neutral_pairs

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = neutral_pairs(120, seed=0, families=["format"])


def config(base: Path, out: Path, **changes: object) -> TrainConfig:
    cfg = TrainConfig(
        base=str(base),
        out=str(out),
        k=2,
        dtype="fp32",
        steps=6,
        batch_size=8,
        lr=1e-3,
        save_every=2,
        max_length=128,
        eval_batch_size=64,
        held_out=0.1,  # the splits these tests were written against
    )
    return replace(cfg, **changes)  # type: ignore[arg-type]


def tensors(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint: model, trainable weights, optimizer state."""
    out = {f"model/{k}": v for k, v in load_file(str(folder / "model.safetensors")).items()}
    out |= {f"trainable/{k}": v for k, v in load_file(str(folder / "trainable.safetensors")).items()}
    state = torch.load(folder / "trainer_state.pt", weights_only=True)
    for pid, slots in state["optimizer"]["state"].items():
        out |= {f"adam/{pid}/{k}": v for k, v in slots.items()}
    return out


def assert_same(a: Path, b: Path) -> None:
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    assert all(torch.equal(ta[k], tb[k]) for k in ta), [k for k in ta if not torch.equal(ta[k], tb[k])][:3]


def test_same_seed_gives_identical_checkpoints(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    base = tiny_folder("llama")
    first = train_rm(config(base, tmp_path / "a"), PAIRS, progress=False)
    second = train_rm(config(base, tmp_path / "b"), PAIRS, progress=False)
    assert [p.name for p in first.checkpoints] == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    for a, b in zip(first.checkpoints, second.checkpoints, strict=True):
        assert_same(a, b)
    other = train_rm(config(base, tmp_path / "c", seed=1), PAIRS, progress=False)
    assert not torch.equal(
        tensors(first.checkpoints[-1])["model/score.weight"], tensors(other.checkpoints[-1])["model/score.weight"]
    )


@pytest.mark.parametrize(("arch", "mode"), [("llama", "last-k"), ("gemma3", "lora")])
def test_killed_and_resumed_run_ends_with_identical_fp32_weights(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path, arch: Arch, mode: str
) -> None:
    cfg = config(tiny_folder(arch), tmp_path / "whole", mode=mode, lora_r=4, lora_alpha=8)
    whole = train_rm(cfg, PAIRS, progress=False)
    interrupted = replace(cfg, out=str(tmp_path / "resumed"))
    halted = train_rm(interrupted, PAIRS, stop_after=3, progress=False)  # step 3 is lost, as in a kill
    assert halted.stopped and [p.name for p in list_checkpoints(halted.out)] == ["checkpoint-2"]
    resumed = train_rm(interrupted, PAIRS, resume=True, progress=False)
    assert resumed.metrics["resumed_from_step"] == 2
    assert_same(whole.checkpoints[-1], resumed.checkpoints[-1])
    assert resumed.metrics["held_out_accuracy"] == whole.metrics["held_out_accuracy"]
    logged = [json.loads(line) for line in (resumed.out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 3, 4, 5, 6]
    reference = [json.loads(line) for line in (whole.out / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in logged] == [r["loss"] for r in reference]


def test_bf16_resume_matches_held_out_accuracy(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    cfg = config(tiny_folder("qwen2"), tmp_path / "whole", dtype="bf16")
    whole = train_rm(cfg, PAIRS, progress=False)
    interrupted = replace(cfg, out=str(tmp_path / "resumed"))
    train_rm(interrupted, PAIRS, stop_after=5, progress=False)
    resumed = train_rm(interrupted, PAIRS, resume=True, progress=False)
    assert round(resumed.metrics["held_out_accuracy"], 3) == round(whole.metrics["held_out_accuracy"], 3)


def test_learns_an_easy_family_above_chance(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    pairs = neutral_pairs(400, seed=0, families=["format"])
    train_rm(
        config(
            tiny_folder("llama"), tmp_path, k=4, steps=50, batch_size=16, lr=3e-3, save_every=50, head_init="random"
        ),
        pairs,
        progress=False,
    )
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["held_out_accuracy"] > max(0.65, metrics["held_out_accuracy_at_start"] + 0.1)
    assert metrics["steps"] == 50 and metrics["wall_seconds"] > 0 and metrics["peak_rss_mb"] > 0


def test_checkpoints_load_as_rms_and_join_the_base_lineage(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    base = tiny_folder("llama")
    result = train_rm(config(base, tmp_path), PAIRS, progress=False)
    rm = load_rm(str(result.checkpoint))
    assert torch.isfinite(reward_scores(rm, [(p.prompt, p.chosen) for p in PAIRS[:4]])).all()
    base_lm = load_lm(str(base))
    lineage = checkpoint_lineage(tmp_path, base_lm)
    assert isinstance(lineage, Lineage) and len(lineage.checkpoints) == 2
    change = lineage.weight_change()
    assert (change.iloc[:2] == 0).all() and (change.iloc[2:] > 0).all()  # k=2: only the last two layers move
    assert result.checkpoint is not None and read_meta(result.checkpoint)["step"] == 6
    checks = check_conformance(result.checkpoint, tmp_path)
    assert all(c.passed for c in checks), checks
    assert [c["check"] for c in json.loads((tmp_path / "conformance.json").read_text())] == [c.check for c in checks]


def test_checkpoint_or_resume_from_another_base_is_refused(tmp_path: Path, tiny_folder: Callable[[Arch], Path]) -> None:
    base = tiny_folder("llama")
    other = build_tiny("llama", tmp_path / "other", seed=1)
    result = train_rm(config(base, tmp_path / "run"), PAIRS, progress=False)
    assert result.checkpoint is not None
    with pytest.raises(UserError, match=r"was trained from base .* use the checkpoint with the base"):
        load_checkpoint(result.checkpoint, base=load_lm(str(other)))
    with pytest.raises(UserError, match="was trained from base"):
        train_rm(config(other, tmp_path / "run"), PAIRS, resume=True, progress=False)
    with pytest.raises(UserError, match=r"already holds checkpoints .* --resume"):
        train_rm(config(base, tmp_path / "run"), PAIRS, progress=False)
    with pytest.raises(UserError, match=r"was written with lr=0\.001, not 0\.002"):
        train_rm(config(base, tmp_path / "run", lr=2e-3), PAIRS, resume=True, progress=False)
    folders = rm_folders(tmp_path / "run")  # a training folder: its checkpoints, by step
    assert [f.name for f in folders] == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    assert rm_folders(result.checkpoint) == [result.checkpoint]  # one RM folder: itself
    lineage = folders_lineage(load_lm(str(base)), folders)  # the base the RM was trained from (as an LM)
    assert lineage.rm.name == str(folders[-1]) and len(lineage.checkpoints) == 2
    with pytest.raises(UserError, match="was trained from base"):
        folders_lineage(load_lm(str(other)), folders)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: root / "file", "is a file"),
        (lambda root: root / "metrics_only", "holds no complete checkpoint"),
    ],
    ids=["missing", "file", "no-checkpoint"],
)
def test_rm_folders_refuses_what_holds_no_rm(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    (tmp_path / "file").write_text("a file\n")
    (tmp_path / "metrics_only").mkdir()
    (tmp_path / "metrics_only" / "metrics.json").write_text("{}\n")
    with pytest.raises(UserError, match=message):
        rm_folders(make(tmp_path))


def test_tokenizer_without_pad_or_eos_is_refused(tmp_path: Path) -> None:
    base = build_tiny("llama", tmp_path / "nopad")
    settings = json.loads((base / "tokenizer_config.json").read_text())
    settings.pop("pad_token")
    settings.pop("eos_token")
    (base / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(UserError, match="no pad token and no EOS token"):
        train_rm(config(base, tmp_path / "run"), PAIRS, progress=False)


def test_bad_settings_are_refused_in_one_sentence(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Unknown training dtype 'int8'"):
        config(tiny_folder("llama"), tmp_path, dtype="int8")
    with pytest.raises(UserError, match="--k must be between 1 and 4"):
        train_rm(config(tiny_folder("llama"), tmp_path, k=9), PAIRS, progress=False)
    with pytest.raises(UserError, match="longer than --max-length 8"):
        train_rm(config(tiny_folder("llama"), tmp_path, max_length=8), PAIRS, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("base", ["smollm2-135m-instruct", "gemma3-270m"])
def test_real_model_resume_is_exact_in_bf16(base: str, tmp_path: Path) -> None:
    pairs = neutral_pairs(60, seed=0)  # the frozen-feature pass covers every pair: keep it small
    cfg = TrainConfig(base=base, out=str(tmp_path / "whole"), steps=6, save_every=3, batch_size=4)
    whole = train_rm(cfg, pairs, progress=False)
    interrupted = replace(cfg, out=str(tmp_path / "resumed"))
    train_rm(interrupted, pairs, stop_after=4, progress=False)
    resumed = train_rm(interrupted, pairs, resume=True, progress=False)
    assert whole.checkpoint is not None and resumed.checkpoint is not None
    a = load_file(str(whole.checkpoint / "trainable.safetensors"))
    b = load_file(str(resumed.checkpoint / "trainable.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert round(resumed.metrics["held_out_accuracy"], 3) == round(whole.metrics["held_out_accuracy"], 3)
