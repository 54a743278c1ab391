"""Bad input to `capture`, `sweep-distributed`, `lexicon`, `probe`, `persistence` and `stats`: one clean line.

Every case runs the CLI in-process (`tests/refusal.py`) inside one watched folder that holds the case's
inputs (tiny random model folders, a tiny trained RM, bad files) and another run's outputs (`prev/`,
`store/`): the case must exit 2 with one line naming the problem, and leave every file there as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from interp.models.tiny import build_tiny
from tests.refusal import assert_refused, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures"
PLANTED = str(FIXTURES / "stats" / "planted")
STATS_LEXICON = str(FIXTURES / "stats" / "lexicon.csv")
SCORES_HEADER = "model,prompt,word,score\n"

CAPTURE = ["capture", "--model", "{base_a}", "--out", "{store}"]
DIST = ["sweep-distributed", "--out", "{prev}"]
DIST_RM = [*DIST, "--rm", "{base_a}"]
PROBE = ["probe", "--model", "{base_a}", "--out", "{prev}", "--store", "{store}"]
PERSIST = ["persistence", "--base", "{base_a}", "--rm", "{rm_run}", "--out", "{prev}", "--store", "{store}"]
STATS = ["stats", "--scores", PLANTED, "--out", "{prev}", "--lexicon", STATS_LEXICON]


@dataclass(frozen=True)
class Workspace:
    """The watched folder and the named paths the cases' arguments refer to."""

    root: Path
    paths: dict[str, str]


def _write_inputs(root: Path) -> None:
    """Bad (and a few good) input files, and another run's outputs that no refused run may touch."""
    files: dict[str, bytes] = {
        "good.txt": b"hello world\nanother text\n",
        "empty.txt": b"",
        "latin1.txt": "caf\xe9 cr\xe8me\n".encode("latin-1"),
        "binary.txt": b"abc\x00\x01\x02\xff\n",
        "no_text.csv": b"a,b\n1,2\n",
        "blank_row.csv": b'text\nhello\n""\n',
        "garbage.parquet": b"not a parquet file",
        "empty.dicx": b"",
        "scores_latin1.csv": (SCORES_HEADER + "m,p,caf\xe9,1\n").encode("latin-1"),
        "scores_empty.csv": b"",
        "scores_open_quote.csv": (SCORES_HEADER + 'm,p,"love,1\n').encode(),
        "families_latin1.csv": "model,family\nm\xe9,llama\n".encode("latin-1"),
        "file": b"a file, not a folder\n",
        "prev/fig1_table.csv": b"another run's table\n",
        "prev/config.json": b'{"run": "another"}\n',
        "prev/probes.csv": b"another run's probes\n",
        "store/README": b"another run's store\n",
        "cache/README": b"lexicon cache\n",
        "not_a_model/README.txt": b"no model here\n",
        "metrics_only/metrics.json": b"{}\n",
        "dotted_key.csv": b"key,text\n../up,What is best?\n",
        "logprobs_run/config.json": b'{"kind": "logprobs"}\n',
        "logprobs_run/logprobs.csv": b"another command's table\n",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "empty_folder").mkdir()


def _train_tiny_rm(base: Path, out: Path) -> None:
    """A real one-step `train-rm` run, so the checkpoint records the base fingerprint as training does."""
    from interp.training.bradley_terry import TrainConfig, train_rm
    from interp.training.neutral import neutral_pairs

    config = TrainConfig(base=str(base), out=str(out), k=1, steps=1, batch_size=2, save_every=1, dtype="fp32")
    train_rm(config, neutral_pairs(16), progress=False)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("bad-input-commands")
    _write_inputs(root)
    base_a = build_tiny("llama", root / "base_a", seed=0)
    build_tiny("llama", root / "base_b", seed=1)  # same shapes and tokenizer, other weights
    _train_tiny_rm(base_a, root / "rm_run")
    [checkpoint] = sorted((root / "rm_run").glob("checkpoint-*"))
    shutil.copytree(checkpoint, root / "rm_bad_meta" / checkpoint.name)
    (root / "rm_bad_meta" / checkpoint.name / "rm_interp_checkpoint.json").write_text("{garbage")
    paths = {p.name.replace(".", "_"): str(p) for p in root.iterdir()}
    paths["missing"] = str(root / "no" / "such" / "thing.csv")
    return Workspace(root, paths)


@pytest.fixture(autouse=True)
def _cache(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lexicon downloads and imports go to the watched folder's cache."""
    monkeypatch.setenv("RM_INTERP_CACHE", str(ws.root / "cache"))


def case(case_id: str, args: list[str], expect: str, *extra: str) -> object:
    """One bad-input case: its arguments and a fragment the one-line message must contain."""
    return pytest.param([*args, *extra], expect, id=case_id)


CAPTURE_CASES = [  # a bad --texts file: three cases here, every refusal of `read_texts` in test_foundation_render
    case("no-input", CAPTURE, "exactly one of --texts"),
    case("texts-and-prompts", CAPTURE, "exactly one of --texts", "--texts", "{good_txt}", "--prompts", "hi"),
    case("backend", CAPTURE, "Unknown backend", "--prompts", "hi", "--backend", "bogus"),
    case("batch-size-0", CAPTURE, "--batch-size", "--prompts", "hi", "--batch-size", "0"),
    case("batch-size-neg", CAPTURE, "--batch-size", "--prompts", "hi", "--batch-size", "-4"),
    case("shard-size-0", CAPTURE, "--shard-size", "--prompts", "hi", "--shard-size", "0"),
    case("point", CAPTURE, "resid_mid", "--prompts", "hi", "--point", "resid_mid"),
    case("position-word", CAPTURE, "position", "--prompts", "hi", "--position", "middle"),
    case("position-999", CAPTURE, "--position 999", "--prompts", "hi", "--position", "999"),
    case("position-neg-999", CAPTURE, "--position -999", "--prompts", "hi", "--position", "-999"),
    case("position-past-texts", CAPTURE, "shortest input", "--texts", "{good_txt}", "--position", "4"),
    case("out-file", [*CAPTURE, "--out", "{file}"], "is a file", "--prompts", "hi"),
    case("out-under-file", [*CAPTURE, "--out", "{file}/store"], "under the file", "--prompts", "hi"),
    case("texts-missing", CAPTURE, "does not exist", "--texts", "{missing}"),
    case("texts-no-column", CAPTURE, "no 'text'", "--texts", "{no_text_csv}"),
    case("texts-blank-row", CAPTURE, "row 2", "--texts", "{blank_row_csv}"),
    case("prompt-blank", CAPTURE, "empty", "--prompts", "   "),
    case("model-not-a-model", [*CAPTURE, "--model", "{not_a_model}"], "not_a_model", "--prompts", "hi"),
    case("model-file", [*CAPTURE, "--model", "{file}"], "file", "--prompts", "hi"),
    case("layers-out-of-range", CAPTURE, "99", "--prompts", "hi", "--layers", "99"),
    case("old-rm-flag", CAPTURE, "now --as-rm", "--rm", "--prompts", "hi"),
    case("layers-garbage", CAPTURE, "a-b", "--prompts", "hi", "--layers", "a-b"),
    case("dtype", CAPTURE, "dtype", "--prompts", "hi", "--dtype", "float8"),
]

DIST_CASES = [
    case("no-model", DIST, "exactly one of --rm"),
    case("two-models", DIST_RM, "exactly one of --rm", "--base-for-new-head", "{base_a}"),
    case("world-size-0", DIST_RM, "--world-size", "--rank", "0", "--world-size", "0"),
    case("rank-past-world", DIST_RM, "--rank 3", "--rank", "3", "--world-size", "2"),
    case("rank-negative", DIST_RM, "--rank -1", "--rank", "-1", "--world-size", "2"),
    case("rank-alone", DIST_RM, "--world-size", "--rank", "0"),
    case("world-size-alone", DIST_RM, "--rank", "--world-size", "2"),
    case("batch-size-0", DIST_RM, "--batch-size", "--batch-size", "0"),
    case("shard-size-neg", DIST_RM, "--shard-size", "--shard-size", "-2"),
    case("limit-prompts-0", DIST_RM, "--limit-prompts", "--limit-prompts", "0"),
    case("unknown-prompt", DIST_RM, "nope", "--prompt", "nope"),
    case("timeout-0", DIST_RM, "--timeout-minutes", "--timeout-minutes", "0"),
    case("out-file", [*DIST_RM, "--out", "{file}"], "is a file"),
    case("prompts-missing", DIST_RM, "does not exist", "--prompts", "{missing}"),
    case("prompts-latin1", DIST_RM, "UTF-8", "--prompts", "{latin1_txt}"),
    case("prompt-key-not-a-folder", DIST_RM, "cannot name a folder", "--prompts", "{dotted_key_csv}"),
    case("out-of-logprobs", [*DIST_RM, "--out", "{logprobs_run}"], "output of `rm-interp logprobs`"),
    case("device-map-new-head", DIST, "--device-map", "--base-for-new-head", "{base_a}", "--device-map", "auto"),
    case("rm-not-a-model", DIST, "not_a_model", "--rm", "{not_a_model}"),
    case("dtype", DIST_RM, "dtype", "--dtype", "float8"),
]

LEXICON_CASES = [
    case("show-unknown", ["lexicon", "show", "no-such-lexicon"], "no-such-lexicon"),
    case("show-folder", ["lexicon", "show", "{empty_folder}"], "is a folder"),
    case("show-latin1", ["lexicon", "show", "{latin1_txt}"], "UTF-8"),
    case("show-binary", ["lexicon", "show", "{binary_txt}"], "binary"),
    case("show-empty-dicx", ["lexicon", "show", "{empty_dicx}"], "empty"),
    case("fetch-unknown", ["lexicon", "fetch", "no-such-file"], "not in the lexicon registry"),
    case("add-unknown", ["lexicon", "add", "no-such-file", "--from", "{file}"], "not in the lexicon registry"),
    case("add-missing", ["lexicon", "add", "big2-nouns", "--from", "{missing}"], "does not exist"),
    case("add-wrong-hash", ["lexicon", "add", "big2-nouns", "--from", "{file}"], "sha256"),
    case("add-group-from-file", ["lexicon", "add", "paper-scores", "--from", "{file}"], "group"),
    case("add-folder-without-file", ["lexicon", "add", "big2-nouns", "--from", "{empty_folder}"], "folder"),
    case("list-format", ["lexicon", "list", "--format", "xml"], "--format"),
]

PROBE_CASES = [
    case("n-perm-neg", PROBE, "--n-perm", "--n-perm", "-1"),
    case("limit-prompts-0", PROBE, "--limit-prompts", "--limit-prompts", "0"),
    case("out-file", [*PROBE, "--out", "{file}"], "is a file"),
    case("store-file", [*PROBE, "--store", "{file}"], "--store"),
    case("lexicon-missing", PROBE, "does not exist", "--lexicon", "{missing}"),
    case("lexicon-folder", PROBE, "is a folder", "--lexicon", "{empty_folder}"),
    case("lexicon-latin1", PROBE, "UTF-8", "--lexicon", "{latin1_txt}"),
    case("prompts-missing", PROBE, "does not exist", "--prompts", "{missing}"),
    case("model-not-a-model", [*PROBE, "--model", "{not_a_model}"], "not_a_model"),
    case("old-rm-flag", PROBE, "now --as-rm", "--rm"),
]

PERSIST_CASES = [
    case("rm-of-another-base", [*PERSIST, "--base", "{base_b}"], "was trained from base"),
    case("rm-missing", [*PERSIST, "--rm", "{missing}"], "does not exist"),
    case("rm-file", [*PERSIST, "--rm", "{file}"], "is a file"),
    case("rm-no-checkpoint", [*PERSIST, "--rm", "{metrics_only}"], "no complete checkpoint"),
    case("rm-not-a-model", [*PERSIST, "--rm", "{not_a_model}"], "not_a_model"),
    case("rm-damaged-meta", [*PERSIST, "--rm", "{rm_bad_meta}"], "damaged"),
    case("out-file", [*PERSIST, "--out", "{file}"], "is a file"),
    case("store-file", [*PERSIST, "--store", "{file}"], "--store"),
    case("limit-prompts-0", PERSIST, "--limit-prompts", "--limit-prompts", "0"),
    case("lexicon-missing", PERSIST, "does not exist", "--lexicon", "{missing}"),
]

STATS_CASES = [
    case("n-boot-0", STATS, "--n-boot", "--n-boot", "0"),
    case("n-boot-neg", STATS, "--n-boot", "--n-boot", "-3"),
    case("n-perm-0", STATS, "--n-perm", "--n-perm", "0"),
    case("n-perm-neg1", STATS, "--n-perm", "--n-perm", "-1"),
    case("n-perm-neg5", STATS, "--n-perm", "--n-perm", "-5"),
    case("n-shuffle-0", STATS, "--n-shuffle", "--n-shuffle", "0"),
    case("out-file", [*STATS, "--out", "{file}"], "is a file"),
    case("out-under-file", [*STATS, "--out", "{file}/stats"], "under the file"),
    case("scores-missing", [*STATS[:2], "{missing}", *STATS[3:]], "does not exist"),
    case("scores-latin1", [*STATS[:2], "{scores_latin1_csv}", *STATS[3:]], "not UTF-8"),
    case("scores-binary", [*STATS[:2], "{binary_txt}", *STATS[3:]], "binary"),
    case("scores-empty", [*STATS[:2], "{scores_empty_csv}", *STATS[3:]], "(--scores) is empty"),
    case("scores-open-quote", [*STATS[:2], "{scores_open_quote_csv}", *STATS[3:]], "not a valid CSV table"),
    case("scores-empty-folder", [*STATS[:2], "{empty_folder}", *STATS[3:]], "empty_folder"),
    case("scores-garbage-parquet", [*STATS[:2], "{garbage_parquet}", *STATS[3:]], "not a readable parquet"),
    case("families-missing", STATS, "does not exist", "--families", "{missing}"),
    case("families-latin1", STATS, "UTF-8", "--families", "{families_latin1_csv}"),
    case("families-folder", STATS, "is a folder", "--families", "{empty_folder}"),
    case("families-binary", STATS, "binary", "--families", "{binary_txt}"),
    case("families-empty", STATS, "is empty", "--families", "{empty_txt}"),
    case("families-no-columns", STATS, "'model' and 'family'", "--families", "{no_text_csv}"),
    case("lexicon-missing", STATS, "does not exist", "--lexicon", "{missing}"),
    case("prompts-missing", STATS, "does not exist", "--prompts", "{missing}"),
]


def _check(args: list[str], expect: str, ws: Workspace) -> None:
    run = assert_refused([a.format(**ws.paths) for a in args], ws.root)
    assert run.exit_code == 2, run.output
    assert expect in run.output, run.output
    assert "codec" not in run.output, run.output  # the house message, not Python's decoder's


@pytest.mark.parametrize(("args", "expect"), CAPTURE_CASES)
def test_capture_refuses(args: list[str], expect: str, ws: Workspace) -> None:
    _check(args, expect, ws)


@pytest.mark.parametrize(("args", "expect"), DIST_CASES)
def test_sweep_distributed_refuses(args: list[str], expect: str, ws: Workspace) -> None:
    _check(args, expect, ws)


@pytest.mark.parametrize(("args", "expect"), LEXICON_CASES)
def test_lexicon_refuses(args: list[str], expect: str, ws: Workspace) -> None:
    _check(args, expect, ws)


@pytest.mark.parametrize(("args", "expect"), PROBE_CASES)
def test_probe_refuses(args: list[str], expect: str, ws: Workspace) -> None:
    _check(args, expect, ws)


@pytest.mark.parametrize(("args", "expect"), PERSIST_CASES)
def test_persistence_refuses(args: list[str], expect: str, ws: Workspace) -> None:
    _check(args, expect, ws)


@pytest.mark.parametrize(("args", "expect"), STATS_CASES)
def test_stats_refuses(args: list[str], expect: str, ws: Workspace) -> None:
    _check(args, expect, ws)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
@pytest.mark.parametrize("command", [[*CAPTURE, "--prompts", "hi"], PROBE, STATS], ids=["capture", "probe", "stats"])
def test_read_only_output_folder_is_refused(command: list[str], ws: Workspace) -> None:
    locked = ws.root / "locked"
    locked.mkdir(exist_ok=True)
    locked.chmod(0o555)
    try:
        args = [*command, "--out", str(locked / "out")]
        _check(args, "not writable", ws)
    finally:
        locked.chmod(0o755)


def test_lexicon_list_pipes_full_names(ws: Workspace) -> None:
    piped = run_cli("lexicon", "list")
    lines = piped.output.splitlines()
    assert piped.exit_code == 0 and lines[0] == "name\tkind\tcached\tdescription", piped.output
    assert any(line.startswith("scores-Skywork_Skywork-Reward-Llama-3.1-8B-v0.2\tscores\tno\t") for line in lines)
    listed = json.loads(run_cli("lexicon", "list", "--format", "json").output)
    assert {"default", "big2-nouns", "scores-nicolinho_QRM-Llama3.1-8B"} <= {row["name"] for row in listed}
