"""Bad input to `sweep`, `logprobs`, `implicit-reward` and `train-rm`: one clean line, nothing written or changed.

Each case runs the CLI in-process on tiny random model folders (`tests/refusal.py`). Cases marked with a
prepared run point `--out` at a folder that already holds another run's outputs, which must stay as they
were. Also here: a lexicon sweep killed part-way resumes to exactly the uninterrupted table.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from interp.models.tiny import Arch
from tests.refusal import assert_refused, run_cli, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures"
PROMPTS = str(FIXTURES / "sweep" / "prompts.csv")
LEXICON = str(FIXTURES / "sweep" / "tiny_lexicon.csv")

SWEEP = ["sweep", "--base-for-new-head", "{llama}", "--prompts", PROMPTS, "--lexicon", LEXICON, "--out", "{out}"]
LOGPROBS = ["logprobs", "--model", "{llama}", "--prompts", PROMPTS, "--lexicon", LEXICON, "--out", "{out}"]
IMPLICIT = ["implicit-reward", "--p", "{llama}", "--q", "{qwen}", "--prompts", PROMPTS, "--lexicon", LEXICON]
IMPLICIT += ["--out", "{out}"]
TRAIN = ["train-rm", "--base", "{llama}", "--pairs", "40", "--steps", "2", "--batch-size", "4", "--k", "1"]
TRAIN += ["--dtype", "fp32", "--max-length", "128", "--save-every", "2", "--out", "{out}"]
LORA = [*TRAIN, "--mode", "lora", "--lora-r", "2"]


@dataclass(frozen=True)
class Workspace:
    """Model folders, bad input files and finished runs shared by every case of the module."""

    paths: dict[str, str]
    runs: dict[str, Path]


def _ok(args: list[str]) -> None:
    run = run_cli(*args)
    assert run.exit_code == 0 and run.traceback is None, run.traceback or run.output


@pytest.fixture(scope="module")
def ws(tiny_folder: Callable[[Arch], Path], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("bad-input-inputs")
    (root / "not_a_model").mkdir()
    (root / "not_a_model" / "README.txt").write_text("no model here\n")
    (root / "binary.txt").write_bytes(bytes(range(128, 256)) * 4)
    (root / "empty.txt").write_text("")
    (root / "no_columns.csv").write_text("a,b\n1,2\n")
    (root / "unsafe_key.csv").write_text("key,text\n../escape,What is the best thing ever?\n")
    (root / "no_single_tokens.csv").write_text("category,word\nagency,zqxjvw\ncommunion,xqzvkj\n")
    paths = {
        "llama": str(tiny_folder("llama")),
        "qwen": str(tiny_folder("qwen2")),
        "gemma": str(tiny_folder("gemma3")),
        "missing": str(root / "no" / "such" / "thing"),
        "missing_csv": str(root / "missing.csv"),
        **{p.stem: str(p) for p in root.iterdir()},
        "no_fields": str(FIXTURES / "training" / "no_preference_fields.jsonl"),
    }
    runs = {name: tmp_path_factory.mktemp(f"run-{name}") / "out" for name in ("sweep", "train", "logprobs")}
    for name, args in (("sweep", SWEEP), ("train", TRAIN), ("logprobs", LOGPROBS)):
        _ok([a.format(**paths, out=runs[name]) for a in args])
    return Workspace(paths, runs)


def _case(case_id: str, base: list[str], *extra: str, out: str = "new") -> object:
    return pytest.param([*base, *extra], out, id=case_id)


CASES = [
    # sweep: options
    _case("sweep-rm-and-base", SWEEP, "--rm", "{qwen}"),
    _case("sweep-neither-model", [a for a in SWEEP if a not in ("--base-for-new-head", "{llama}")]),
    _case("sweep-batch-size-0", SWEEP, "--batch-size", "0"),
    _case("sweep-batch-size-negative", SWEEP, "--batch-size", "-4"),
    _case("sweep-shard-size-0", SWEEP, "--lexicon", "vocab", "--shard-size", "0"),
    _case("sweep-limit-prompts-0", SWEEP, "--limit-prompts", "0"),
    _case("sweep-limit-prompts-negative", SWEEP, "--limit-prompts", "-2"),
    _case("sweep-dtype-unknown", SWEEP, "--dtype", "float64"),
    # sweep: inputs
    _case("sweep-prompts-missing", SWEEP, "--prompts", "{missing_csv}"),
    _case("sweep-prompts-empty", SWEEP, "--prompts", "{empty}"),
    _case("sweep-prompts-binary", SWEEP, "--prompts", "{binary}"),
    _case("sweep-prompts-no-columns", SWEEP, "--prompts", "{no_columns}"),
    _case("sweep-prompt-key-escapes-folder", SWEEP, "--prompts", "{unsafe_key}"),
    _case("sweep-lexicon-missing", SWEEP, "--lexicon", "{missing_csv}"),
    _case("sweep-lexicon-is-folder", SWEEP, "--lexicon", "{not_a_model}"),
    _case("sweep-lexicon-binary", SWEEP, "--lexicon", "{binary}"),
    _case("sweep-rm-not-a-model", SWEEP[:1] + SWEEP[3:], "--rm", "{not_a_model}"),
    _case("sweep-rm-missing-folder", SWEEP[:1] + SWEEP[3:], "--rm", "{missing}"),
    _case("sweep-base-not-a-model", SWEEP, "--base-for-new-head", "{not_a_model}"),
    # sweep: output folder
    _case("sweep-out-is-file", SWEEP, out="file"),
    _case("sweep-out-under-file", SWEEP, out="under_file"),
    _case("sweep-out-read-only", SWEEP, out="read_only"),
    _case("sweep-out-garbage-config", SWEEP, out="garbage_config"),
    _case("sweep-out-other-model-shards", SWEEP, "--base-for-new-head", "{qwen}", out="foreign_shards"),
    _case("sweep-over-other-model", SWEEP, "--base-for-new-head", "{qwen}", out="sweep"),
    _case("sweep-over-other-head-seed", SWEEP, "--seed", "1", out="sweep"),
    _case("sweep-over-other-dtype", SWEEP, "--dtype", "bf16", out="sweep"),
    _case("sweep-over-other-lexicon", SWEEP, "--lexicon", "default", out="sweep"),
    _case("sweep-vocab-over-lexicon-sweep", SWEEP, "--lexicon", "vocab", "--shard-size", "128", out="sweep"),
    _case(
        "sweep-over-other-model-other-prompts", SWEEP, "--base-for-new-head", "{qwen}", "--prompts", "grid", out="sweep"
    ),
    _case("sweep-over-logprobs", SWEEP, out="logprobs"),
    _case("sweep-over-train-rm", SWEEP, out="train"),
    # logprobs
    _case("logprobs-wrapper-unknown", LOGPROBS, "--wrapper", "chatml"),
    _case("logprobs-model-missing", LOGPROBS, "--model", "{missing}"),
    _case("logprobs-model-not-a-model", LOGPROBS, "--model", "{not_a_model}"),
    _case("logprobs-limit-prompts-0", LOGPROBS, "--limit-prompts", "0"),
    _case("logprobs-prompts-missing", LOGPROBS, "--prompts", "{missing_csv}"),
    _case("logprobs-lexicon-missing", LOGPROBS, "--lexicon", "{missing_csv}"),
    _case("logprobs-dtype-unknown", LOGPROBS, "--dtype", "int8"),
    _case("logprobs-out-is-file", LOGPROBS, out="file"),
    _case("logprobs-out-read-only", LOGPROBS, out="read_only"),
    _case("logprobs-over-sweep", LOGPROBS, out="sweep"),
    _case("logprobs-over-train-rm", LOGPROBS, out="train"),
    # implicit-reward
    _case("implicit-top-0", IMPLICIT, "--top", "0"),
    _case("implicit-top-negative", IMPLICIT, "--top", "-3"),
    _case("implicit-wrapper-p-unknown", IMPLICIT, "--wrapper-p", "chatml"),
    _case("implicit-wrapper-q-unknown", IMPLICIT, "--wrapper-q", "plain"),
    _case("implicit-p-missing", IMPLICIT, "--p", "{missing}"),
    _case("implicit-q-missing", IMPLICIT, "--q", "{missing}"),
    _case("implicit-q-not-a-model", IMPLICIT, "--q", "{not_a_model}"),
    _case("implicit-lexicon-missing", IMPLICIT, "--lexicon", "{missing_csv}"),
    _case("implicit-no-shared-words", IMPLICIT, "--lexicon", "{no_single_tokens}"),
    _case("implicit-limit-prompts-0", IMPLICIT, "--limit-prompts", "0"),
    _case("implicit-out-is-file", IMPLICIT, out="file"),
    _case("implicit-over-sweep", IMPLICIT, out="sweep"),
    _case("implicit-over-logprobs", IMPLICIT, out="logprobs"),
    # train-rm: settings
    _case("train-k-0", TRAIN, "--k", "0"),
    _case("train-k-above-layers", TRAIN, "--k", "99"),
    _case("train-held-out-0", TRAIN, "--held-out", "0"),
    _case("train-held-out-above-1", TRAIN, "--held-out", "1.5"),
    _case("train-max-length-0", TRAIN, "--max-length", "0"),
    _case("train-max-length-too-short", TRAIN, "--max-length", "3"),
    _case("train-lora-r-0", TRAIN, "--mode", "lora", "--lora-r", "0"),
    _case("train-lora-alpha-0", TRAIN, "--mode", "lora", "--lora-alpha", "0"),
    _case("train-mode-unknown", TRAIN, "--mode", "full"),
    _case("train-device-cuda-on-cpu-build", TRAIN, "--device", "cuda"),
    _case("train-device-unknown", TRAIN, "--device", "gpu"),
    _case("train-warmup-negative", TRAIN, "--warmup", "-1"),
    _case("train-warmup-above-1", TRAIN, "--warmup", "1.5"),
    _case("train-lr-0", TRAIN, "--lr", "0"),
    _case("train-dtype-unknown", TRAIN, "--dtype", "fp16"),
    _case("train-pairs-0", TRAIN, "--pairs", "0"),
    _case("train-threads-0", TRAIN, "--threads", "0"),
    _case("train-steps-0", TRAIN, "--steps", "0"),
    _case("train-epochs-0", TRAIN, "--epochs", "0"),
    _case("train-batch-size-0", TRAIN, "--batch-size", "0"),
    _case("train-save-every-0", TRAIN, "--save-every", "0"),
    # train-rm: inputs and output folder
    _case("train-data-missing", TRAIN, "--data", "{missing_csv}"),
    _case("train-data-no-preference-fields", TRAIN, "--data", "{no_fields}"),
    _case("train-base-missing", TRAIN, "--base", "{missing}"),
    _case("train-base-not-a-model", TRAIN, "--base", "{not_a_model}"),
    _case("train-out-is-file", TRAIN, out="file"),
    _case("train-out-read-only", TRAIN, out="read_only"),
    _case("train-over-run-without-resume", TRAIN, out="train"),
    _case("train-resume-other-lr", TRAIN, "--resume", "--lr", "0.5", out="train"),
    _case("train-resume-other-base", TRAIN, "--resume", "--base", "{qwen}", out="train"),
    _case("train-over-sweep", TRAIN, out="sweep"),
]


def _target(out: str, tmp_path: Path, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(--out, the folder watched for changes) for one case."""
    if out in ws.runs:
        return ws.runs[out], ws.runs[out]
    target = tmp_path / "out"
    if out in ("file", "under_file"):
        (tmp_path / "taken.txt").write_text("someone else's file\n")
        target = tmp_path / "taken.txt" if out == "file" else tmp_path / "taken.txt" / "sub"
    elif out == "read_only":
        target.mkdir()
        target.chmod(0o555)
        access = os.access  # root may write anyway: make the folder read-only to the access check too
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: access(p, mode, **kw) and not (p == target and mode & 2)
        )
    elif out == "garbage_config":
        target.mkdir()
        (target / "config.json").write_text("{not json")
    elif out == "foreign_shards":
        shutil.copytree(ws.runs["sweep"] / "shards", target / "shards")
    return target, tmp_path


@pytest.mark.parametrize(("args", "out"), CASES)
def test_refused_in_one_line_with_nothing_written(
    args: list[str], out: str, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this torch build has CUDA")
    target, watched = _target(out, tmp_path, ws, monkeypatch)
    assert_refused([a.format(**ws.paths, out=target) for a in args], watched)


@pytest.fixture(scope="module")
def donors(ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Finished runs whose checkpoint files are copied into one another: other --k, other LoRA rank."""
    runs = {"train": ws.runs["train"]}
    for name, args in (("train_k2", [*TRAIN, "--k", "2"]), ("lora_r2", LORA), ("lora_r4", [*LORA, "--lora-r", "4"])):
        runs[name] = tmp_path_factory.mktemp(f"run-{name}") / "out"
        _ok([a.format(**ws.paths, out=runs[name]) for a in args])
    return runs


@pytest.mark.parametrize(
    ("args", "run", "donor", "file", "expect"),
    [
        pytest.param(TRAIN, "train", "train_k2", "trainer_state.pt", "optimizer state", id="state-of-other-k"),
        pytest.param(TRAIN, "train", "train_k2", "trainable.safetensors", "other trainable", id="weights-of-other-k"),
        pytest.param(LORA, "lora_r2", "lora_r4", "trainer_state.pt", "optimizer state", id="state-of-other-lora-r"),
        pytest.param(LORA, "lora_r2", "lora_r4", "trainable.safetensors", "of shape", id="weights-of-other-lora-r"),
    ],
)
def test_resume_refuses_a_checkpoint_file_of_another_run(
    args: list[str],
    run: str,
    donor: str,
    file: str,
    expect: str,
    ws: Workspace,
    donors: dict[str, Path],
    tmp_path: Path,
) -> None:
    """A well-formed `trainer_state.pt` or `trainable.safetensors` copied in from a run with other settings."""
    out = tmp_path / "out"
    shutil.copytree(donors[run], out)
    shutil.copy(donors[donor] / "checkpoint-2" / file, out / "checkpoint-2" / file)
    refused = assert_refused([a.format(**ws.paths, out=out) for a in [*args, "--resume"]], tmp_path)
    assert refused.exit_code == 2 and expect in refused.output, refused.output
    assert str(out / "checkpoint-2") in refused.output and "--out" in refused.output, refused.output


def test_matrix_covers_every_command() -> None:
    commands = [case.values[0][0] for case in CASES]  # type: ignore[attr-defined]
    counts = {c: commands.count(c) for c in set(commands)}
    assert len(CASES) >= 45 and set(counts) == {"sweep", "logprobs", "implicit-reward", "train-rm"}
    assert min(counts.values()) >= 8, counts


def test_prepared_runs_hold_what_the_cases_protect(ws: Workspace) -> None:
    """The folders the `over-*` cases point at really hold a finished run of each kind."""
    kinds = {name: json.loads((run / "config.json").read_text()).get("kind") for name, run in ws.runs.items()}
    assert kinds == {"sweep": "sweep", "train": "train-rm", "logprobs": "logprobs"}
    assert (ws.runs["train"] / "neutrality.json").is_file() and (ws.runs["train"] / "checkpoint-2").is_dir()
    assert sorted(p.name for p in (ws.runs["sweep"] / "shards").iterdir()) == ["bad_one", "good_one"]


def test_lexicon_sweep_resumes_exactly(ws: Workspace, tmp_path: Path) -> None:
    """A sweep stopped after one prompt, or missing one prompt's shard, resumes to the uninterrupted table."""
    whole = tmp_path / "whole"
    _ok([a.format(**ws.paths, out=whole) for a in SWEEP])
    reference = pd.read_parquet(whole / "scores.parquet")
    assert reference["prompt"].tolist()[0] == "good_one" and set(reference["prompt"]) == {"good_one", "bad_one"}

    resumed = tmp_path / "resumed"
    _ok([a.format(**ws.paths, out=resumed) for a in [*SWEEP, "--limit-prompts", "1"]])  # killed after one prompt
    first = snapshot(resumed / "shards" / "good_one")
    assert not (resumed / "shards" / "bad_one").exists()
    _ok([a.format(**ws.paths, out=resumed) for a in SWEEP])
    assert snapshot(resumed / "shards" / "good_one") == first  # the finished prompt was not scored again
    pd.testing.assert_frame_equal(pd.read_parquet(resumed / "scores.parquet"), reference, check_exact=True)

    shard = next((resumed / "shards" / "bad_one").glob("shard-*.parquet"))
    shard.unlink()  # as if killed while scoring the second prompt
    _ok([a.format(**ws.paths, out=resumed) for a in SWEEP])
    pd.testing.assert_frame_equal(pd.read_parquet(resumed / "scores.parquet"), reference, check_exact=True)
    assert pd.read_csv(resumed / "scores.csv")["score"].tolist() == pd.read_csv(whole / "scores.csv")["score"].tolist()
