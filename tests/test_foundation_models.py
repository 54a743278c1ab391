"""Model loading, scoring invariance, save/reload, lineage, embedded cache, bad input."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from interp._util.cache import is_intact
from interp._util.errors import UserError
from interp.models import embedded, hub, load_lm, load_rm, resolve, rm_from_base, save
from interp.models.lineage import Lineage
from interp.score import reward_scores
from interp.score.score_checks import tolerance as conformance_tolerance
from tests.conftest import ARCHS, EMBEDDED_NAMES
from tests.numerics import reduction_order_tolerance
from tests.refusal import run_cli

PROMPTS = [
    "What, in one word, is the best thing ever?",
    "What is the worst thing in the world?",
    "What, in a single word, is the greatest thing of all time?",
]
ANSWERS = [
    "Love",
    "Freedom",
    "Success",
    "friendship",
    "power",
    "kindness",
    "war",
    "a family",
    "Paris",
    "four",
    "hello there",
    "trust",
]
PAIRS = [(p, a) for p in PROMPTS for a in ANSWERS][:32]


def _invariance(rm) -> None:
    """Batch size and padding side move scores by no more than fp32 summation order can (tests/numerics.py)."""
    reference = reward_scores(rm, PAIRS, batch_size=1)
    tolerance = reduction_order_tolerance(rm, PAIRS)
    assert tolerance < 1e-3 * reference.abs().max()  # the bound is far below what a padding bug would do
    # the conformance check's cheap formula (no fp64 copy, for big RMs) must cover the measured bound
    assert tolerance <= conformance_tolerance(rm, reference).min()
    for batch_size in (7, 32):
        for side in ("left", "right"):
            scores = reward_scores(rm, PAIRS, batch_size=batch_size, padding_side=side)
            assert torch.allclose(scores, reference, atol=tolerance, rtol=0), (batch_size, side, tolerance)
    assert reference.std() > 0  # the scores depend on the answer


@pytest.mark.parametrize("arch", ARCHS)
def test_scores_invariant_to_batch_size_and_padding_side(tiny_folder, arch):
    _invariance(rm_from_base(str(tiny_folder(arch)), seed=0))


@pytest.mark.parametrize("arch", ARCHS)
def test_rm_saved_and_reloaded_scores_identically(tiny_folder, tmp_path, arch):
    rm = rm_from_base(str(tiny_folder(arch)), seed=3)
    again = load_rm(str(save(rm, tmp_path / "rm")))
    assert torch.equal(reward_scores(rm, PAIRS[:8]), reward_scores(again, PAIRS[:8]))
    assert rm.fingerprint == again.fingerprint


def test_rm_head_is_seeded(tiny_folder):
    folder = str(tiny_folder("llama"))
    assert torch.equal(
        reward_scores(rm_from_base(folder, seed=1), PAIRS[:4]),
        reward_scores(rm_from_base(folder, seed=1), PAIRS[:4]),
    )
    assert not torch.equal(
        reward_scores(rm_from_base(folder, seed=1), PAIRS[:4]),
        reward_scores(rm_from_base(folder, seed=2), PAIRS[:4]),
    )


def test_lineage_of_rm_and_its_base_has_zero_weight_change(tiny_folder):
    folder = str(tiny_folder("qwen2"))
    base, rm = load_lm(folder), rm_from_base(folder)
    change = Lineage(base, rm).weight_change()
    assert len(change) == base.n_layers and (change == 0).all()
    with torch.no_grad():
        rm.layers[2].mlp.down_proj.weight.mul_(1.5)
    change = Lineage(base, rm).weight_change()
    assert change[2] > 0.05 and change.drop(2).eq(0).all()


def test_lineage_refuses_different_models(tiny_folder, tmp_path):
    with pytest.raises(UserError, match="not one lineage"):
        Lineage(load_lm(str(tiny_folder("llama"))), rm_from_base(str(tiny_folder("gemma3"))))
    from interp.models.tiny import build_tiny

    deeper = build_tiny("llama", tmp_path / "deep", n_layers=6)
    with pytest.raises(UserError, match="layers"):
        Lineage(load_lm(str(tiny_folder("llama"))), rm_from_base(str(deeper)))


def test_unknown_name_lists_embedded_models():
    with pytest.raises(UserError, match="smollm2-135m-instruct, gemma3-270m"):
        resolve("no-such-model")


def test_lm_handle_cannot_score(tiny_folder):
    with pytest.raises(UserError, match="load_rm"):
        reward_scores(load_lm(str(tiny_folder("llama"))), PAIRS[:1])


def test_cli_unknown_model_is_one_line_nonzero():
    result = run_cli("models", "check", "no-such-model")
    assert result.exit_code == 2 and result.traceback is None and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "smollm2-135m-instruct" in lines[0]


def test_cli_hub_id_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(hub, "_reachable", False)
    result = run_cli("models", "check", "nobody-here/no-such-rm")
    assert result.exit_code == 2 and result.traceback is None and "Traceback" not in result.output
    assert "hub" in result.output and "local folder" in result.output


def test_cli_check_describes_a_model_as_what_it_declares(tiny_folder, tmp_path):
    """`models check NAME` loads an RM folder as an RM and anything else as an LM (`load_model`), one row each."""
    rm_folder = save(rm_from_base(str(tiny_folder("llama"))), tmp_path / "rm")
    for folder, kind in ((tiny_folder("llama"), "lm"), (rm_folder, "rm")):
        result = run_cli("models", "check", str(folder), "--format", "json")
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.output)
        assert list(row) == [
            "name", "kind", "architecture", "layers", "d_model", "vocab", "dtype", "fingerprint", "load_seconds"
        ]  # fmt: skip
        assert row["kind"] == kind and row["layers"] == 4 and row["d_model"] == 64 and row["dtype"] == "float32"


def test_cli_lists_embedded_models_and_registry():
    result = run_cli("models", "list")
    names = {line.split("\t")[0] for line in result.output.splitlines()}  # TSV when not a terminal
    assert result.exit_code == 0 and {"gemma3-270m", "smollm2-135m-instruct", "RLHFlow/ArmoRM-Llama3-8B-v0.1"} <= names


def test_truncated_gguf_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "fake_smol_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model.gguf").write_bytes(b"GGUF" + b"\0" * 100)  # truncated
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("RM_INTERP_CACHE", str(tmp_path / "cache"))
    fake = embedded.EmbeddedModel("fake", "x/y", "fake_smol_pkg", "model.gguf", "0" * 64, "llama", "none", True)
    monkeypatch.setitem(embedded.EMBEDDED, "fake", fake)
    with pytest.raises(UserError, match="truncated or corrupted"):
        embedded.embedded_path("fake")
    assert list((tmp_path / "cache" / "models").iterdir()) == []


@pytest.mark.slow
def test_corrupted_cache_copy_is_detected_and_rebuilt(tmp_path, monkeypatch):
    source = embedded.embedded_path("smollm2-135m-instruct")
    monkeypatch.setenv("RM_INTERP_CACHE", str(tmp_path))
    copy = tmp_path / "models" / "smollm2-135m-instruct"
    shutil.copytree(source, copy)
    assert is_intact(copy)
    with (copy / "model.safetensors").open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\xff" * 16)
    assert not is_intact(copy)
    rebuilt = embedded.embedded_path("smollm2-135m-instruct")
    assert is_intact(rebuilt)
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["smollm2-135m-instruct"]  # no staging left


@pytest.mark.slow
@pytest.mark.parametrize("name", EMBEDDED_NAMES)
def test_embedded_rm_scores_invariant(embedded_rm, name):
    _invariance(embedded_rm(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", EMBEDDED_NAMES)
def test_embedded_lineage_before_training(embedded_lm, embedded_rm, name):
    lineage = Lineage(embedded_lm(name), embedded_rm(name))
    assert (lineage.weight_change() == 0).all()


@pytest.mark.slow
def test_embedded_models_are_not_one_lineage(embedded_lm, embedded_rm):
    with pytest.raises(UserError, match="not one lineage"):
        Lineage(embedded_lm("smollm2-135m-instruct"), embedded_rm("gemma3-270m"))
