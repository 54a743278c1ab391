"""Bad input files and damaged state: every reader refuses in one sentence naming the file, never a traceback.

Library cases call each reader on each bad file (lexicons, prompts, texts) or damaged state file (store and
vocabulary-sweep shards, `meta.json`, training checkpoints) and check the `UserError` names the file. CLI
cases run the same inputs through `rm-interp` in-process (`tests/refusal.py`): non-zero exit, no traceback,
at most 3 lines, no file changed. A truncated shard is not refused but redone: the rerun ends exactly equal
to an uninterrupted run.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from interp._util.errors import UserError
from interp._util.files import read_text
from interp.hooks import Site
from interp.lexicons.readers import load_lexicon
from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.render.prompts import load_prompts, paper_prompts
from interp.store import capture_to_store, find_captures, is_complete, load_rows, load_site
from interp.store.shards import ShardFolder
from interp.sweep.vocab import sweep_vocab
from interp.training.checkpoints import list_checkpoints, load_state, read_meta
from tests.refusal import assert_refused, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).parent
STATS_SCORES = ROOT / "fixtures" / "stats" / "planted"
TEXTS = [f"Text {i}: {'love and trust ' * (i % 3)}freedom" for i in range(7)]
PROMPT = paper_prompts()[0]

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01"
LATIN1 = "Category,word\ndrive,caf\xe9\n".encode("latin-1")
BAD_FILES: dict[str, bytes | str] = {
    # lexicons
    "binary.csv": BINARY,
    "binary.dic": BINARY,
    "binary.dicx": BINARY,
    "binary.txt": BINARY,
    "latin1.csv": LATIN1,
    "latin1.dic": "%\n1\tdrive\n%\ncaf\xe9\t1\n".encode("latin-1"),
    "latin1.dicx": "DicTerm,drive\ncaf\xe9,X\n".encode("latin-1"),
    "latin1.txt": "caf\xe9\n".encode("latin-1"),
    "empty.csv": "",
    "empty.dic": "",
    "empty.dicx": "",
    "empty.txt": "",
    "blank.dicx": ",,\n\n , \n",
    "header_only.dicx": "DicTerm,drive\n",
    "huge_field.csv": 'Category,word\ndrive,"' + "w" * 200_000 + '"\n',
    # prompts
    "bad.yaml": "best: [1, 2\nworst: x\n",
    "tag.yaml": 'best: !!python/object/apply:os.system ["echo pwned"]\n',
    "nested.yaml": "best:\n  text: What is best?\n",
    "null.yaml": "~\n",
    "latin1.yaml": "best: caf\xe9\n".encode("latin-1"),
    "short.csv": "key,text\nbest\n",
}
FOLDER = "folder.csv"  # a folder where a file is expected
MISSING = "missing.csv"


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding every bad file, a folder named like a file, and a good texts file."""
    folder = tmp_path_factory.mktemp("bad")
    for name, data in BAD_FILES.items():
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    (folder / FOLDER).mkdir()
    (folder / "texts.txt").write_text("\n".join(TEXTS) + "\n")
    return folder


@pytest.fixture
def case(bad: Path, tmp_path: Path) -> Path:
    """A fresh copy of the bad files (`case/in`) for one CLI case; the whole `case` folder is watched."""
    shutil.copytree(bad, tmp_path / "in")
    return tmp_path


def _refused(call: Callable[[], object], *names: str) -> str:
    with pytest.raises(UserError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message, message
    for name in names:
        assert name in message, message
    return message


# ---------------------------------------------------------------------------------------- library: text files

LEXICON_CASES = [
    ("binary.csv", "binary file"),
    ("binary.dic", "binary file"),
    ("binary.dicx", "binary file"),
    ("binary.txt", "binary file"),
    ("latin1.csv", "not UTF-8"),
    ("latin1.dic", "not UTF-8"),
    ("latin1.dicx", "not UTF-8"),
    ("latin1.txt", "not UTF-8"),
    ("empty.csv", "is empty"),
    ("empty.dic", "is empty"),
    ("empty.dicx", "is empty"),
    ("empty.txt", "is empty"),
    ("blank.dicx", "holds no rows"),
    ("header_only.dicx", "no words"),
    ("huge_field.csv", "not a readable CSV"),
    (FOLDER, "is a folder"),
    (MISSING, "does not exist"),
]


@pytest.mark.parametrize(("name", "problem"), LEXICON_CASES)
def test_bad_lexicon_file_is_refused_naming_it(bad: Path, name: str, problem: str) -> None:
    _refused(lambda: load_lexicon(bad / name), str(bad / name), problem)


PROMPT_CASES = [
    ("binary.txt", "binary file"),
    ("latin1.txt", "not UTF-8"),
    ("latin1.yaml", "not UTF-8"),
    ("empty.txt", "is empty"),
    ("binary.csv", "binary file"),
    ("bad.yaml", "bad.yaml:2 is not valid YAML"),
    ("tag.yaml", "YAML tag !!python/object/apply:os.system, which is not allowed"),
    ("nested.yaml", "expected a mapping"),
    ("null.yaml", "expected a mapping"),
    ("short.csv", "short.csv:2: a prompt row needs a key and a text"),
    (FOLDER, "is a folder"),
    (MISSING, "does not exist"),
]


@pytest.mark.parametrize(("name", "problem"), PROMPT_CASES)
def test_bad_prompt_file_is_refused_naming_it(bad: Path, name: str, problem: str) -> None:
    _refused(lambda: load_prompts(bad / name), str(bad / name), problem)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("binary.txt", "binary file"), ("latin1.txt", "not UTF-8"), ("empty.txt", "is empty"), (FOLDER, "is a folder")],
)
def test_read_text_names_the_file_and_its_option(bad: Path, name: str, problem: str) -> None:
    message = _refused(lambda: read_text(bad / name, "texts file", "--texts"), problem)
    assert message.startswith(f"The texts file {bad / name} (--texts) ")
    assert read_text(bad / "texts.txt", "texts file").splitlines() == TEXTS


def test_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffwin\nachiev*\n".encode())
    assert load_lexicon(tmp_path / "bom.txt").categories == {"bom": ("win", "achiev*")}


# ---------------------------------------------------------------------------------- library: damaged state

GARBAGE_JSON = {"garbage": (b"\x00\xffnot json", "not valid JSON"), "list": (b"[1, 2]", "not a JSON object")}


@pytest.fixture(scope="module")
def rm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder("llama")), seed=0)


@pytest.fixture(scope="module")
def store(rm: ModelHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted capture of TEXTS (4 shards of 2 rows) under a store root."""
    root = tmp_path_factory.mktemp("store")
    capture_to_store(rm, TEXTS, [Site(0), Site(1)], root, shard_size=2, batch_size=3, progress=False)
    return root


def _copy_capture(store: Path, tmp_path: Path) -> Path:
    shutil.copytree(store, tmp_path / "store")
    (folder,) = find_captures(tmp_path / "store")
    return folder


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("kind", [*GARBAGE_JSON, "fields"])
def test_damaged_store_key_is_refused_by_every_reader(rm: ModelHandle, store: Path, tmp_path: Path, kind: str) -> None:
    folder = _copy_capture(store, tmp_path)
    data, problem = GARBAGE_JSON.get(kind, (b'{"fingerprint": "x"}', "no 'n_inputs' field"))
    (folder / "meta.json").write_bytes(data)
    meta = str(folder / "meta.json")
    for call in (
        lambda: load_site(tmp_path / "store", Site(0)),
        lambda: load_rows(folder),
        lambda: is_complete(folder),
        lambda: capture_to_store(rm, TEXTS, [Site(0), Site(1)], folder, shard_size=2, progress=False),
        lambda: capture_to_store(rm, TEXTS, [Site(0), Site(1)], tmp_path / "store", shard_size=2, progress=False),
    ):
        message = _refused(call, meta, problem)
        assert f"delete the capture folder {folder} and capture again" in message


@pytest.mark.parametrize(("suffix", "reader"), [("safetensors", "site"), ("parquet", "rows"), ("parquet", "site")])
def test_truncated_store_shard_is_refused_when_read(store: Path, tmp_path: Path, suffix: str, reader: str) -> None:
    folder = _copy_capture(store, tmp_path)
    shard = folder / f"shard-00001.{suffix}"
    _truncate(shard)
    assert not is_complete(folder)
    call = (lambda: load_site(folder, Site(1))) if reader == "site" else (lambda: load_rows(folder))
    message = _refused(call, str(shard), "is damaged")
    assert "redoes shards that do not verify" in message


def test_capture_rerun_over_truncated_shards_redoes_them_exactly(rm: ModelHandle, store: Path, tmp_path: Path) -> None:
    folder = _copy_capture(store, tmp_path)
    _truncate(folder / "shard-00001.safetensors")
    _truncate(folder / "shard-00002.parquet", 0.9)
    (folder / "shard-00003.safetensors").unlink()
    redone: list[int] = []
    again = capture_to_store(
        rm, TEXTS, [Site(0), Site(1)], tmp_path / "store", 2, 3, progress=False, after_shard=redone.append
    )
    assert again == folder and redone == [1, 2, 3] and is_complete(folder)
    (whole,) = find_captures(store)
    for name in sorted(p.name for p in whole.glob("shard-*")):
        assert (folder / name).read_bytes() == (whole / name).read_bytes(), name
    pd.testing.assert_frame_equal(load_rows(folder), load_rows(whole), check_exact=True)
    assert torch.equal(load_site(folder, Site(1)), load_site(whole, Site(1)))


def test_shard_with_wrong_row_count_is_not_done(tmp_path: Path) -> None:
    shards = ShardFolder(tmp_path, {"k": 1})
    shards.write(0, {"x": torch.ones(2, 3)}, pd.DataFrame({"row": [0, 1]}))
    assert shards.done(0) and shards.done(0, 2) and not shards.done(0, 3)
    save_file({"x": torch.ones(5, 3)}, str(tmp_path / "shard-00000.safetensors"))  # replaced behind its back
    found = shards.problem(0)
    assert found is not None and found[0].name == "shard-00000.safetensors" and "bytes instead of" in found[1]


@pytest.fixture(scope="module")
def vocab_run(rm: ModelHandle, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("vocab") / PROMPT.key
    return folder, sweep_vocab(rm, PROMPT, folder, 128, batch_size=64, progress=False)


def test_truncated_vocab_shard_is_refused_when_read_and_redone_on_rerun(
    rm: ModelHandle, vocab_run: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    whole_folder, whole = vocab_run
    folder = tmp_path / PROMPT.key
    shutil.copytree(whole_folder, folder)
    _truncate(folder / "shard-00001.parquet")
    shards = ShardFolder(folder, json.loads((folder / "meta.json").read_text()))
    _refused(shards.rows, str(folder / "shard-00001.parquet"), "truncated")
    redone: list[int] = []
    again = sweep_vocab(rm, PROMPT, folder, 128, batch_size=64, progress=False, on_shard=redone.append)
    assert redone == [1]
    pd.testing.assert_frame_equal(again, whole, check_exact=True)


@pytest.mark.parametrize("kind", GARBAGE_JSON)
def test_damaged_vocab_shard_key_is_refused(rm: ModelHandle, tmp_path: Path, kind: str) -> None:
    (tmp_path / "meta.json").write_bytes(GARBAGE_JSON[kind][0])
    message = _refused(
        lambda: sweep_vocab(rm, PROMPT, tmp_path, 128, progress=False),
        str(tmp_path / "meta.json"),
        GARBAGE_JSON[kind][1],
    )
    assert f"delete the folder {tmp_path} and rerun" in message


# ------------------------------------------------------------------------------------ library: checkpoints

TRAIN_ARGS = ["--data", "neutral", "--pairs", "40", "--steps", "2", "--save-every", "1", "--dtype", "fp32"]
TRAIN_ARGS += ["--k", "1", "--batch-size", "4", "--max-length", "128", "--threads", "1"]


@pytest.fixture(scope="module")
def run(tiny_folder: Callable[[Arch], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny `train-rm` run (checkpoint-1, checkpoint-2) made through the CLI."""
    out = tmp_path_factory.mktemp("train") / "run"
    done = run_cli("train-rm", "--base", str(tiny_folder("llama")), "--out", str(out), *TRAIN_ARGS)
    assert done.exit_code == 0 and done.traceback is None, done.output + str(done.traceback)
    return out


class _Code:
    """Pickles as a call of a function: what a weights-only load must refuse."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def _corrupt(folder: Path, kind: str) -> tuple[Path, str]:
    """Damage one checkpoint folder; returns the damaged file and a phrase the refusal must contain."""
    state, trainable, meta = (
        folder / "trainer_state.pt",
        folder / "trainable.safetensors",
        folder / "rm_interp_checkpoint.json",
    )
    if kind == "truncated-state":
        _truncate(state)
        return state, "truncated"
    if kind == "pickle-state":
        state.write_bytes(pickle.dumps({"optimizer": {}, "scheduler": {}, "torch_rng": None}))
        return state, "a bare pickle is never loaded"
    if kind == "code-state":
        torch.save({"optimizer": _Code()}, state)
        return state, "more than tensors and plain values"
    if kind == "list-state":
        torch.save([torch.ones(2)], state)
        return state, "not a trainer state"
    if kind == "empty-state":
        state.write_bytes(b"")
        return state, "a bare pickle is never loaded"
    if kind == "truncated-trainable":
        _truncate(trainable)
        return trainable, "not a safetensors file"
    if kind == "pickle-trainable":
        trainable.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
        return trainable, "not a safetensors file"
    if kind == "missing-trainable":
        trainable.unlink()
        return trainable, "missing"
    if kind == "garbage-meta":
        meta.write_bytes(b"{step: 2")
        return meta, "not valid JSON"
    if kind == "list-meta":
        meta.write_text("[2]")
        return meta, "not a JSON object"
    if kind == "no-step-meta":
        meta.write_text(json.dumps({"base_fingerprint": "x"}))
        return meta, "no 'step' field"
    assert kind == "text-step-meta"
    meta.write_text(json.dumps({"base_fingerprint": "x", "step": "2"}))
    return meta, "not a whole number"


STATE_KINDS = [
    "truncated-state",
    "pickle-state",
    "code-state",
    "list-state",
    "empty-state",
    "truncated-trainable",
    "pickle-trainable",
    "missing-trainable",
]
META_KINDS = ["garbage-meta", "list-meta", "no-step-meta", "text-step-meta"]


@pytest.mark.parametrize("kind", STATE_KINDS + META_KINDS)
def test_damaged_checkpoint_is_refused_naming_the_file(
    run: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(run, tmp_path / "run")
    last = list_checkpoints(tmp_path / "run")[-1]
    damaged, problem = _corrupt(last, kind)
    reader = load_state if kind in STATE_KINDS else read_meta
    message = _refused(lambda: reader(last), str(damaged), problem)
    assert f"delete the folder {last} and rerun train-rm with --resume" in message
    assert "this must never run" not in capsys.readouterr().out


def test_sound_checkpoint_loads(run: Path) -> None:
    last = list_checkpoints(run)[-1]
    tensors, state = load_state(last)
    assert tensors and set(state) >= {"optimizer", "scheduler", "torch_rng"} and read_meta(last)["step"] == 2


def test_stray_checkpoint_named_folders_are_ignored(run: Path, tmp_path: Path) -> None:
    shutil.copytree(run, tmp_path / "run")
    (tmp_path / "run" / "checkpoint-final").mkdir()
    shutil.copy(run / "checkpoint-1" / "rm_interp_checkpoint.json", tmp_path / "run" / "checkpoint-final")
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["checkpoint-1", "checkpoint-2"]


# ----------------------------------------------------------------------------------------------- CLI matrix


@pytest.fixture
def cache(case: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The lexicon cache inside the watched case folder (so an unwanted download or import would show)."""
    monkeypatch.setenv("RM_INTERP_CACHE", str(case / "cache"))
    return case / "cache"


def _cli_refused(args: list[str], case: Path, named: str) -> str:
    """A clean CLI refusal (see `assert_refused`) whose one line names `named` (the bad file)."""
    output = assert_refused(args, case).output
    assert named in output, output
    return output


LEXICON_FILES = ["binary.csv", "latin1.dic", "empty.dicx", "blank.dicx", "binary.txt", "huge_field.csv", FOLDER]


@pytest.mark.parametrize("name", LEXICON_FILES)
def test_cli_lexicon_show_refuses_bad_file(case: Path, name: str) -> None:
    _cli_refused(["lexicon", "show", str(case / "in" / name)], case, name)


@pytest.mark.parametrize("name", ["binary.csv", "empty.csv", FOLDER, MISSING])
def test_cli_lexicon_add_refuses_bad_copy(case: Path, cache: Path, name: str) -> None:
    _cli_refused(["lexicon", "add", "big2-nouns", "--from", str(case / "in" / name)], case, name)


@pytest.mark.parametrize("command", ["fetch", "add"])
def test_cli_lexicon_cache_that_is_a_file_is_refused_before_any_download(
    case: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("RM_INTERP_CACHE", str(case / "in" / "texts.txt"))
    extra = ["--from", str(case / "in" / "binary.csv")] if command == "add" else []
    _cli_refused(["lexicon", command, "big2-nouns", *extra], case, "RM_INTERP_CACHE")


@pytest.mark.parametrize("name", ["binary.csv", "latin1.dic", "empty.dicx", FOLDER])
def test_cli_sweep_refuses_bad_lexicon(case: Path, tiny_folder: Callable[[Arch], Path], name: str) -> None:
    args = ["sweep", "--base-for-new-head", str(tiny_folder("llama")), "--limit-prompts", "1"]
    _cli_refused([*args, "--lexicon", str(case / "in" / name), "--out", str(case / "out")], case, name)


@pytest.mark.parametrize("name", ["binary.txt", "latin1.txt", "empty.txt", "bad.yaml", "tag.yaml", "short.csv"])
def test_cli_sweep_refuses_bad_prompts(case: Path, tiny_folder: Callable[[Arch], Path], name: str) -> None:
    args = ["sweep", "--base-for-new-head", str(tiny_folder("llama")), "--out", str(case / "out")]
    _cli_refused([*args, "--prompts", str(case / "in" / name)], case, name)


@pytest.mark.parametrize(("option", "name"), [("--lexicon", "latin1.csv"), ("--lexicon", "empty.dic")])
def test_cli_stats_refuses_bad_lexicon(case: Path, option: str, name: str) -> None:
    args = ["stats", "--scores", str(STATS_SCORES), "--out", str(case / "out"), "--n-perm", "10"]
    _cli_refused([*args, option, str(case / "in" / name)], case, name)


@pytest.mark.parametrize("name", ["tag.yaml", "binary.txt"])
def test_cli_stats_refuses_bad_prompts(case: Path, name: str) -> None:
    args = ["stats", "--scores", str(STATS_SCORES), "--out", str(case / "out"), "--n-perm", "10"]
    _cli_refused([*args, "--prompts", str(case / "in" / name)], case, name)


@pytest.mark.parametrize(("option", "name"), [("--lexicon", "binary.dicx"), ("--prompts", "bad.yaml")])
def test_cli_probe_refuses_bad_file(case: Path, tiny_folder: Callable[[Arch], Path], option: str, name: str) -> None:
    args = ["probe", "--model", str(tiny_folder("llama")), "--out", str(case / "out"), "--store", str(case / "st")]
    _cli_refused([*args, option, str(case / "in" / name)], case, name)


@pytest.mark.parametrize("name", ["binary.txt", "latin1.txt", "empty.txt", FOLDER])
def test_cli_capture_refuses_bad_texts(case: Path, tiny_folder: Callable[[Arch], Path], name: str) -> None:
    args = ["capture", "--model", str(tiny_folder("llama")), "--out", str(case / "store")]
    _cli_refused([*args, "--texts", str(case / "in" / name)], case, name)


@pytest.mark.parametrize("kind", ["garbage", "list", "fields"])
def test_cli_capture_refuses_damaged_store(case: Path, tiny_folder: Callable[[Arch], Path], kind: str) -> None:
    args = ["capture", "--model", str(tiny_folder("llama")), "--texts", str(case / "in" / "texts.txt")]
    args += ["--layers", "0,1", "--shard-size", "2", "--out", str(case / "store")]
    assert run_cli(*args).exit_code == 0
    (folder,) = find_captures(case / "store")
    data = GARBAGE_JSON[kind][0] if kind in GARBAGE_JSON else b'{"fingerprint": "x"}'
    (folder / "meta.json").write_bytes(data)
    run = assert_refused(args, case)
    assert "meta.json" in run.output


def test_cli_capture_rerun_redoes_a_truncated_shard(case: Path, tiny_folder: Callable[[Arch], Path]) -> None:
    args = ["capture", "--model", str(tiny_folder("llama")), "--texts", str(case / "in" / "texts.txt")]
    args += ["--layers", "0,1", "--shard-size", "2"]
    assert run_cli(*args, "--out", str(case / "whole")).exit_code == 0
    assert run_cli(*args, "--out", str(case / "cut")).exit_code == 0
    (whole,), (cut,) = find_captures(case / "whole"), find_captures(case / "cut")
    _truncate(cut / "shard-00002.safetensors")
    rerun = run_cli(*args, "--out", str(case / "cut"))
    assert rerun.exit_code == 0, rerun.output
    assert json.loads(rerun.output.strip().splitlines()[-1])["rows"] == len(TEXTS)
    shards = sorted(p.name for p in whole.glob("shard-*"))
    assert shards == sorted(p.name for p in cut.glob("shard-*")) and len(shards) == 8
    assert all((whole / n).read_bytes() == (cut / n).read_bytes() for n in shards)


@pytest.mark.parametrize("kind", GARBAGE_JSON)
def test_cli_vocab_sweep_refuses_damaged_shard_key(case: Path, tiny_folder: Callable[[Arch], Path], kind: str) -> None:
    shards = case / "out" / "shards" / PROMPT.key
    shards.mkdir(parents=True)
    (shards / "meta.json").write_bytes(GARBAGE_JSON[kind][0])
    args = ["sweep", "--base-for-new-head", str(tiny_folder("llama")), "--lexicon", "vocab", "--limit-prompts", "1"]
    run = assert_refused([*args, "--shard-size", "128", "--out", str(case / "out")], case)
    assert "meta.json" in run.output


@pytest.mark.parametrize("kind", ["truncated-state", "pickle-state", "code-state", "pickle-trainable", "garbage-meta"])
def test_cli_train_resume_refuses_damaged_checkpoint(
    run: Path, case: Path, tiny_folder: Callable[[Arch], Path], kind: str
) -> None:
    out = case / "run"
    shutil.copytree(run, out)
    damaged, _ = _corrupt(list_checkpoints(out)[-1], kind)
    result = assert_refused(
        ["train-rm", "--base", str(tiny_folder("llama")), "--out", str(out), *TRAIN_ARGS, "--resume"], case
    )
    assert damaged.name in result.output and "this must never run" not in result.output
