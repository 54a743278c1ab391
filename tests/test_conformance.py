"""RM conformance: every check passes on a correct RM and fails on its planted defect; the CLI's output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import DynamicCache
from typer.testing import CliRunner

import interp.score.score_checks as score_checks
import interp.score.token_checks as token_checks
from interp._util.errors import UserError
from interp.cli import app
from interp.models import ModelHandle, load_lm, rm_from_base, save
from interp.models.tiny import Arch
from interp.render import GEMMA_TURN_TEMPLATE, Encoded
from interp.score.conformance import Check, conformance
from tests.conftest import ARCHS
from tests.refusal import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = [
    "determinism",
    "batch invariance",
    "padding invariance",
    "own head",
    "cached prefix",
    "finite fp32",
    "finite bf16",
    "finite fp16",
    "template tokens",
    "end of turn",
    "readout token",
    "pad collision",
]
# ChatML whose conversation ends with <|im_end|>, the tiny Llama's pad token: the readout token is the pad token.
ENDS_IN_PAD = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' }}{% endfor %}"


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.check: c for c in checks}


def _failed(checks: list[Check]) -> set[str]:
    return {c.check for c in checks if not c.passed}


@pytest.fixture
def fresh_rm(tiny_folder: Callable[[Arch], Path]) -> Callable[[Arch], ModelHandle]:
    """A new RM per call, for tests that plant a defect in it."""
    return lambda arch: rm_from_base(str(tiny_folder(arch)), seed=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_check_passes_on_a_correct_rm(fresh_rm, arch):
    checks = conformance(fresh_rm(arch))
    assert [c.check for c in checks] == NAMES
    assert _failed(checks) == set(), [c for c in checks if not c.passed]
    rows = _by_name(checks)
    assert "bit-identical" in rows["determinism"].detail
    assert "√4 layers" in rows["batch invariance"].detail  # the bound is stated


def test_pad_equal_to_eos_is_a_passing_warning(fresh_rm):
    detail = _by_name(conformance(fresh_rm("llama")))["pad collision"].detail
    assert detail.startswith("warning: pad = EOS = end of turn = '<|im_end|>'") and "safe" in detail


def test_dropout_left_on_fails_determinism(fresh_rm):
    rm = fresh_rm("qwen2")
    for layer in rm.layers:
        layer.self_attn.attention_dropout = 0.5
    rm.model.train()
    rows = _by_name(conformance(rm))
    assert not rows["determinism"].passed and "training mode" in rows["determinism"].detail


def test_rows_mixing_across_the_batch_fail_batch_invariance(fresh_rm):
    rm = fresh_rm("llama")

    def mix(_module, _args, out):
        hidden = out[0] if isinstance(out, tuple) else out
        mixed = hidden + 0.5 * hidden.mean(dim=0, keepdim=True)
        return (mixed, *out[1:]) if isinstance(out, tuple) else mixed

    rm.layers[0].register_forward_hook(mix)
    rows = _by_name(conformance(rm))
    assert not rows["batch invariance"].passed and "exceeds" in rows["batch invariance"].detail


def test_ignored_padding_fails_padding_invariance_only(fresh_rm):
    rm = fresh_rm("llama")

    def ignore_padding(_module, args, kwargs):  # without both, transformers rebuilds the mask from position ids
        return args, {**kwargs, "attention_mask": None, "position_ids": None}

    rm.body.register_forward_pre_hook(ignore_padding, with_kwargs=True)
    failed = _failed(conformance(rm, dtypes=("float32",)))
    assert "padding invariance" in failed  # left pads are attended to; right pads never are (causal)
    assert "batch invariance" not in failed


def test_readout_on_the_pad_token_fails_pad_collision_and_own_head(fresh_rm):
    rm = fresh_rm("llama")
    rm.tokenizer.chat_template = ENDS_IN_PAD
    rows = _by_name(conformance(rm, dtypes=("float32",)))
    assert not rows["pad collision"].passed and "readout token is the pad token" in rows["pad collision"].detail
    assert not rows["own head"].passed  # the model's own forward finds the last token by pad id: an earlier one


def test_template_doubling_the_bos_fails_template_tokens(fresh_rm):
    rm = fresh_rm("gemma3")
    rm.tokenizer.chat_template = "{{ bos_token }}" + GEMMA_TURN_TEMPLATE
    row = _by_name(conformance(rm, dtypes=("float32",)))["template tokens"]
    assert not row.passed and row.detail.startswith("starts with 2 BOS")


def test_template_without_end_of_turn_fails(fresh_rm):
    rm = fresh_rm("llama")
    rm.tokenizer.chat_template = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n' }}{% endfor %}"
    row = _by_name(conformance(rm, dtypes=("float32",)))["end of turn"]
    assert not row.passed and "no special end-of-turn token" in row.detail


def test_readout_bug_fails_readout_token(fresh_rm, monkeypatch):
    encode = score_checks.encode_pairs

    def last_by_count(tokenizer, pairs, padding_side="right"):  # right only: wrong for left padding
        enc = encode(tokenizer, pairs, padding_side)
        return Encoded(enc.input_ids, enc.attention_mask, enc.position_ids, enc.attention_mask.sum(-1) - 1)

    for checks in (score_checks, token_checks):
        monkeypatch.setattr(checks, "encode_pairs", last_by_count)
    rows = _by_name(conformance(fresh_rm("gemma3"), dtypes=("float32",)))
    assert not rows["readout token"].passed and "left padding" in rows["readout token"].detail
    assert not rows["padding invariance"].passed


def test_model_ignoring_its_kv_cache_fails_cached_prefix(fresh_rm):
    rm = fresh_rm("qwen2")

    def forget(_module, args, kwargs):
        cache = kwargs.get("past_key_values")
        if cache is not None and cache.get_seq_length() > 0:
            width = kwargs["input_ids"].shape[1]
            kwargs = {
                **kwargs,
                "past_key_values": DynamicCache(),
                "attention_mask": kwargs["attention_mask"][:, -width:],
            }
        return args, kwargs

    rm.body.register_forward_pre_hook(forget, with_kwargs=True)
    failed = _failed(conformance(rm, dtypes=("float32",)))
    assert failed == {"cached prefix"}


def test_activations_beyond_fp16_range_fail_only_fp16(fresh_rm):
    rm = fresh_rm("llama")
    with torch.no_grad():
        rm.body.embed_tokens.weight.mul_(1e7)  # residuals ~1e5: finite in fp32 and bf16, past fp16's 65504
    rows = _by_name(conformance(rm))
    assert not rows["finite fp16"].passed and "NaN or infinite in fp16" in rows["finite fp16"].detail
    assert rows["finite fp32"].passed and rows["finite bf16"].passed
    assert rm.model.dtype == torch.float32  # the dtype copies leave the RM as it was


def test_nan_scores_fail_their_checks_without_raising(fresh_rm):
    rm = fresh_rm("gemma3")
    with torch.no_grad():
        rm.head.weight.fill_(float("nan"))
    failed = _failed(conformance(rm, dtypes=("float32",)))
    assert {"batch invariance", "own head", "cached prefix", "finite fp32"} <= failed


def test_language_model_and_bad_arguments_are_refused(tiny_folder):
    with pytest.raises(UserError, match="load_rm"):
        conformance(load_lm(str(tiny_folder("llama"))))
    rm = rm_from_base(str(tiny_folder("llama")))
    with pytest.raises(UserError, match="dtype"):
        conformance(rm, dtypes=("float8",))
    with pytest.raises(UserError, match="two"):
        conformance(rm, pairs=[("Hi", "Love")])


def test_cli_json_is_a_list_of_check_passed_detail(tiny_folder):
    result = CliRunner().invoke(
        app, ["models", "check", str(tiny_folder("gemma3")), "--conformance", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["check"] for r in rows] == NAMES
    assert all(set(r) == {"check", "passed", "detail"} and r["passed"] is True for r in rows)
    assert "a causal LM; checking an RM built from it" in result.stderr


def test_cli_failing_check_exits_1_and_rm_folder_is_loaded_as_rm(tiny_folder, tmp_path):
    rm = rm_from_base(str(tiny_folder("llama")), seed=2)
    rm.tokenizer.chat_template = ENDS_IN_PAD
    folder = save(rm, tmp_path / "rm")
    result = CliRunner().invoke(app, ["models", "check", str(folder), "--conformance"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "check\tpassed\tdetail"  # piped: TSV
    assert "pad collision\tFalse\t" in result.stdout and "determinism\tTrue\t" in result.stdout
    assert "loaded as a reward model" in result.stderr


def test_cli_bad_format_is_one_line_before_loading(tiny_folder):
    run = run_cli("models", "check", str(tiny_folder("llama")), "--conformance", "--format", "xml")
    assert run.exit_code == 2 and run.traceback is None
    assert run.output.strip().count("\n") == 0 and "--format" in run.output


def test_models_list_never_truncates_and_has_formats():
    piped = CliRunner().invoke(app, ["models", "list"])
    assert piped.exit_code == 0
    names = [line.split("\t")[0] for line in piped.stdout.splitlines()]
    assert names[0] == "name" and "smollm2-135m-instruct" in names and "RLHFlow/ArmoRM-Llama3-8B-v0.1" in names
    rows = json.loads(CliRunner().invoke(app, ["models", "list", "--format", "json"]).stdout)
    assert {r["name"] for r in rows} >= {"smollm2-135m-instruct", "gemma3-270m", "Skywork/Skywork-Reward-Gemma-2-27B"}
    for columns, name in (("200", "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2"), ("60", "smollm2-")):
        table = CliRunner().invoke(app, ["models", "list", "--format", "table"], env={"COLUMNS": columns}).stdout
        cells = [line for line in table.splitlines() if line.startswith("│")]
        assert name in table and not any("…" in line for line in cells)  # narrow: names fold, never cut


def test_models_command_module_imports_no_torch():
    code = "import sys, interp.commands.models; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
