"""Bad model folders, names and hub datasets: one clear sentence each, from the library and every command.

The bad folders are built once per module from a tiny Llama: no config.json, an unknown model_type, garbage
config.json, truncated safetensors, pickle `.bin` weights, remote code, no tokenizer, a broken tokenizer, no
weights; plus a missing path and a file given instead of a folder.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import interp.models.hub
from interp._util.errors import UserError
from interp.models import load_lm, load_rm, rm_from_base, save
from interp.training.prefdata import load_pairs
from tests.refusal import assert_refused

pytestmark = pytest.mark.usefixtures("one_thread")

CUSTOM_CODE = """
from transformers import LlamaForSequenceClassification


class TinyRemoteRM(LlamaForSequenceClassification):
    pass
"""


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def _no_config(d: Path) -> None:
    (d / "config.json").unlink()


def _unknown_type(d: Path) -> None:
    _edit_config(d, model_type="nonsense")


def _garbage_config(d: Path) -> None:
    (d / "config.json").write_text("{model_type: llama")


def _truncated(d: Path) -> None:
    weights = d / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _pickle(d: Path) -> None:
    # An object torch's weights_only loader refuses, so torch's own message would say "weights_only=False".
    torch.save(
        {"state_dict": load_file(d / "model.safetensors"), "args": argparse.Namespace(lr=1)}, d / "pytorch_model.bin"
    )
    (d / "model.safetensors").unlink()


def _remote(d: Path) -> None:
    _edit_config(d, model_type="nonsense", auto_map={"AutoConfig": "x.C", "AutoModelForCausalLM": "x.M"})


def _no_tokenizer(d: Path) -> None:
    for p in d.glob("tokenizer*"):
        p.unlink()


def _broken_tokenizer(d: Path) -> None:
    (d / "tokenizer.json").write_text("this is not a tokenizer")


def _no_weights(d: Path) -> None:
    (d / "model.safetensors").unlink()


# name -> (how to break a copy of a good folder, words the refusal must contain)
BAD: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "no-config": (_no_config, ("not a model folder", "config.json")),
    "unknown-type": (_unknown_type, ("'nonsense'", "model_type")),
    "garbage-config": (_garbage_config, ("config.json", "not a readable JSON")),
    "truncated": (_truncated, ("model.safetensors", "truncated")),
    "pickle": (_pickle, ("pytorch_model.bin", "pickle", "unsafe", "safetensors")),
    "remote-code": (_remote, ("remote code", "--trust-remote-code", "trust_remote_code=True")),
    "no-tokenizer": (_no_tokenizer, ("no tokenizer files",)),
    "broken-tokenizer": (_broken_tokenizer, ("tokenizer",)),
    "no-weights": (_no_weights, ("no model weights",)),
}
NAMES = (*BAD, "missing", "a-file")
WORDS = {**{k: v[1] for k, v in BAD.items()}, "missing": ("does not exist",), "a-file": ("is a file", "folder")}


@pytest.fixture(scope="module")
def root(tmp_path_factory, tiny_folder) -> Path:
    """The watched folder: `models/<bad name>` (plus the good tiny model as `models/good`), outputs beside."""
    base = tmp_path_factory.mktemp("bad-models")
    models = base / "models"
    shutil.copytree(tiny_folder("llama"), models / "good")
    save(rm_from_base(str(models / "good"), seed=0), models / "good-rm")
    for name, (breaks, _) in BAD.items():
        shutil.copytree(models / "good", models / name)
        breaks(models / name)
    return base


def _model(root: Path, name: str) -> str:
    if name == "missing":
        return str(root / "models" / "no" / "such" / "folder")
    if name == "a-file":
        return str(root / "models" / "good" / "config.json")
    return str(root / "models" / name)


@pytest.mark.parametrize("loader", [load_lm, load_rm, rm_from_base], ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", NAMES)
def test_library_refuses_bad_model(root, name, loader):
    with pytest.raises(UserError) as err:
        loader(_model(root, name))
    message = str(err.value)
    assert all(word in message for word in WORDS[name]), message
    assert "weights_only" not in message and "Traceback" not in message
    assert message.count(". ") == 0 and "\n" not in message  # one sentence


def test_relative_missing_paths_are_not_hub_ids(root, monkeypatch):
    monkeypatch.chdir(root)
    (root / "runs").mkdir(exist_ok=True)
    for name in ("./no/such/folder", "../rm1", "runs/rm1", "~/no-such-rm-interp-folder/x"):
        with pytest.raises(UserError, match="does not exist") as err:
            load_rm(name)
        assert "hub" not in str(err.value).split(";")[0], name


def test_hub_id_offline_fails_fast(monkeypatch):
    monkeypatch.setattr(interp.models.hub, "_reachable", False)
    started = time.perf_counter()
    with pytest.raises(UserError, match="neither a local folder nor a hub model in the local Hugging Face cache"):
        load_rm("nobody-here/no-such-rm")
    assert time.perf_counter() - started < 10


def test_hub_id_pattern_is_defined_once():
    root = Path(__file__).resolve().parents[1]
    sources = [p for d in ("interp", "probes", "experiments") for p in (root / d).rglob("*.py")]
    pattern = re.compile(r"re\.compile\(r?[\"'][^\"']*/\[")  # a regex literal with `/[`: org/name
    defining = sorted(p.relative_to(root).as_posix() for p in sources if pattern.search(p.read_text()))
    assert defining == ["interp/models/hub.py"]


def test_unwritable_cache_is_one_sentence(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("RM_INTERP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="set RM_INTERP_CACHE to a writable folder"):
        load_lm("smollm2-135m-instruct")
    assert_refused(["models", "check", "smollm2-135m-instruct"], tmp_path)


def _custom_code_folder(root: Path) -> Path:
    folder = root / "custom-code"
    if not folder.exists():
        shutil.copytree(root / "models" / "good", folder)
        (folder / "tiny_remote.py").write_text(CUSTOM_CODE)
        _edit_config(folder, auto_map={"AutoModelForSequenceClassification": "tiny_remote.TinyRemoteRM"})
    return folder


def test_rm_from_base_passes_trust_remote_code(root, tmp_path, monkeypatch):
    from transformers import dynamic_module_utils

    monkeypatch.setattr(dynamic_module_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    folder = str(_custom_code_folder(root))
    with pytest.raises(UserError, match="--trust-remote-code"):
        rm_from_base(folder)
    rm = rm_from_base(folder, seed=0, trust_remote_code=True)
    assert type(rm.model).__name__ == "TinyRemoteRM" and rm.head.out_features == 1


def test_offline_hub_dataset_fails_fast_without_retries(monkeypatch, capfd, caplog):
    monkeypatch.setattr(interp.models.hub, "_reachable", False)
    started = time.perf_counter()
    with pytest.raises(UserError, match="not in the local Hugging Face cache and the hub is unreachable"):
        load_pairs("nobody-here/no-such-prefs")
    assert time.perf_counter() - started < 10
    printed = capfd.readouterr()
    assert "Retrying" not in printed.out + printed.err + caplog.text


def test_offline_hub_dataset_reads_only_the_cache(monkeypatch):
    import datasets
    import datasets.config
    import huggingface_hub.constants

    seen: list[tuple[bool, bool]] = []

    def fake_load_dataset(name: str, config: str | None, split: str) -> list[dict[str, str]]:
        seen.append((huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE))
        return [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(interp.models.hub, "_reachable", False)
    before = huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    assert load_pairs("org/cached-prefs:default")[0].chosen == "4"
    assert seen == [(True, True)]
    assert before == (huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)


@pytest.mark.parametrize("spec", ["./no/prefs.jsonl", "prefs.parquet", "../prefs"])
def test_missing_preference_file_is_not_a_hub_dataset(spec):
    with pytest.raises(UserError, match="does not exist"):
        load_pairs(spec)


# Every command that loads a model: how to give it the model under test (M), an output folder (O), the good
# tiny LM (G), an RM saved from it (R) and a store (S).
COMMANDS: dict[str, list[str]] = {
    "models-check": ["models", "check", "M"],
    "models-check-conformance": ["models", "check", "M", "--conformance"],
    "sweep-rm": ["sweep", "--rm", "M", "--out", "O", "--limit-prompts", "1"],
    "sweep-new-head": ["sweep", "--base-for-new-head", "M", "--out", "O", "--limit-prompts", "1"],
    "sweep-vocab": ["sweep", "--rm", "M", "--lexicon", "vocab", "--out", "O", "--limit-prompts", "1"],
    "sweep-distributed": [
        "sweep-distributed",
        "--rm",
        "M",
        "--out",
        "O",
        "--limit-prompts",
        "1",
        "--rank",
        "0",
        "--world-size",
        "1",
    ],
    "logprobs": ["logprobs", "--model", "M", "--out", "O", "--limit-prompts", "1"],
    "implicit-reward": ["implicit-reward", "--p", "G", "--q", "M", "--out", "O", "--limit-prompts", "1"],
    "capture": ["capture", "--model", "M", "--prompts", "hello", "--out", "S"],
    "capture-rm": ["capture", "--model", "M", "--as-rm", "--prompts", "hello", "--out", "S"],
    "probe": ["probe", "--model", "M", "--out", "O", "--store", "S", "--limit-prompts", "1", "--n-perm", "0"],
    "probe-rm": [
        "probe",
        "--model",
        "M",
        "--as-rm",
        "--out",
        "O",
        "--store",
        "S",
        "--limit-prompts",
        "1",
        "--n-perm",
        "0",
    ],
    "train-rm": ["train-rm", "--base", "M", "--out", "O", "--pairs", "20", "--steps", "1", "--dtype", "fp32"],
    "persistence": ["persistence", "--base", "M", "--rm", "R", "--out", "O", "--store", "S", "--limit-prompts", "1"],
}
CLI_NAMES = ("no-config", "unknown-type", "truncated", "pickle", "remote-code", "broken-tokenizer", "missing", "a-file")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", CLI_NAMES)
def test_cli_refuses_bad_model(root, name, command):
    models = root / "models"
    slots = {"M": _model(root, name), "G": str(models / "good"), "R": str(models / "good-rm")}
    slots |= {"O": str(root / "out"), "S": str(root / "store")}
    run = assert_refused([slots.get(arg, arg) for arg in COMMANDS[command]], root)
    assert all(word in run.output for word in WORDS[name]), run.output
    assert "weights_only" not in run.output


def test_cli_trust_remote_code_reaches_the_loader(root, tmp_path, monkeypatch):
    from transformers import dynamic_module_utils

    monkeypatch.setattr(dynamic_module_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    model = _model(root, "remote-code")  # its auto_map names a module that is not there
    run = assert_refused(["models", "check", model, "--trust-remote-code"], root)
    assert "needs remote code" not in run.output and "x.py" in run.output, run.output
    assert "Checkout" not in run.output  # only the first sentence of transformers' message is quoted


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "--rm", "G", "--out", "O", "--limit-prompts", "1"],
        ["sweep", "--rm", "G", "--lexicon", "vocab", "--out", "O", "--limit-prompts", "1"],
    ],
    ids=["sweep", "sweep-vocab"],
)
def test_language_model_is_not_scored_with_a_random_head(root, args):
    """A causal-LM folder given where a trained RM is expected would be scored by a random head: refused."""
    with pytest.raises(UserError, match="not a reward model"):
        load_rm(str(root / "models" / "good"))
    assert load_rm(str(root / "models" / "good-rm")).kind == "rm"  # a saved RM loads
    slots = {"G": str(root / "models" / "good"), "O": str(root / "out")}
    run = assert_refused([slots.get(arg, arg) for arg in args], root)
    assert "not a reward model" in run.output
