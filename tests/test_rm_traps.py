"""Regression tests for RM-scoring traps reported against reward-model benchmarks.

Each test computes what a tool that fell into the trap would compute and shows it differs (so the test's
main assertion can fail), then asserts the toolkit gives the trap-free result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Gemma2Config, GPT2Config

from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.render import encode_pairs, render_pair, token_ids
from interp.score import readout_hidden, reward_scores, score_encoded
from interp.score.score_checks import tolerance

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPT = "What, in one word, is the best thing ever?"
PAIRS = [(PROMPT, "Love"), (PROMPT, "Freedom and success"), ("Name the most important thing.", "Kindness")]


def _ids_score(rm: ModelHandle, ids: list[int]) -> float:
    """Score of one row of token ids, no padding, read at its last token."""
    tensor = torch.tensor([ids])
    with torch.no_grad():
        hidden = rm.body(input_ids=tensor, attention_mask=torch.ones_like(tensor)).last_hidden_state
        return float(rm.head(hidden[:, -1])[0, 0])


def _close(rm: ModelHandle, a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(((a - b).abs() <= tolerance(rm, b)).all())


def test_duplicate_bos_rendered_template_tokenized_again(tiny_folder: Callable[[Arch], Path]) -> None:
    rm = rm_from_base(str(tiny_folder("gemma3")), seed=0)
    tok, bos = rm.tokenizer, rm.tokenizer.bos_token_id
    text = render_pair(tok, *PAIRS[0])
    assert text.startswith("<bos>")
    trap = tok(text).input_ids  # the template's BOS, then the tokenizer's own
    right = tok(text, add_special_tokens=False).input_ids
    assert trap[:2] == [bos, bos] and right[:2] != [bos, bos]
    assert abs(_ids_score(rm, trap) - _ids_score(rm, right)) > 1e-3  # a doubled BOS changes the score
    assert token_ids(tok, text) == right
    toolkit = reward_scores(rm, PAIRS[:1])
    assert _close(rm, toolkit, torch.tensor([_ids_score(rm, right)]))


def test_pad_equal_to_eos_readout_by_attention_mask(tiny_folder: Callable[[Arch], Path]) -> None:
    rm = rm_from_base(str(tiny_folder("llama")), seed=0)
    tok = rm.tokenizer
    pad = tok.pad_token_id
    assert pad == tok.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")  # SmolLM2's configuration
    chosen_rejected = PAIRS[:2]
    enc = encode_pairs(tok, chosen_rejected, "right")
    # Trap 1: the readout as the token before the first pad id lands on the end of the *user* turn, the same
    # token in chosen and rejected, so both score identically.
    first_pad = (enc.input_ids == pad).int().argmax(-1) - 1
    with torch.no_grad():
        hidden = rm.body(input_ids=enc.input_ids, attention_mask=enc.attention_mask).last_hidden_state
        trap_scores = rm.head(readout_hidden(hidden, first_pad))[:, 0]
    assert _close(rm, trap_scores[:1], trap_scores[1:])
    # Trap 2: an attention mask rebuilt from the pad id drops the real end-of-turn tokens.
    rows = [token_ids(tok, render_pair(tok, p, a)) for p, a in chosen_rejected]
    assert int((enc.input_ids != pad).sum()) < sum(len(r) for r in rows)
    # The toolkit: readout at the last real token found from the attention mask, every real token attended.
    assert enc.readout.tolist() == [len(r) - 1 for r in rows]
    assert enc.attention_mask.sum(-1).tolist() == [len(r) for r in rows]
    scores = score_encoded(rm, enc)
    assert not _close(rm, scores[:1], scores[1:])
    assert _close(rm, scores, torch.tensor([_ids_score(rm, r) for r in rows]))


def _gpt2_folder(tiny: Path, out: Path) -> Path:
    """A tiny GPT-2 (learned absolute positions) with the tiny Llama's ChatML tokenizer."""
    tok = AutoTokenizer.from_pretrained(tiny)
    config = GPT2Config(
        vocab_size=len(tok),
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_positions=256,
        num_labels=1,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.mark.parametrize("arch", ["llama", "gemma3", "gpt2"])
def test_left_padding_uses_position_ids_of_real_tokens(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path, arch: str
) -> None:
    folder = _gpt2_folder(tiny_folder("llama"), tmp_path / "gpt2") if arch == "gpt2" else tiny_folder(arch)  # type: ignore[arg-type]
    rm = rm_from_base(str(folder), seed=0)
    left, right = (encode_pairs(rm.tokenizer, PAIRS, side) for side in ("left", "right"))
    for row in range(len(PAIRS)):
        real = left.attention_mask[row].bool()
        assert left.position_ids[row, real].tolist() == list(range(int(real.sum())))
    scores_left, scores_right = score_encoded(rm, left), score_encoded(rm, right)
    assert _close(rm, scores_left, scores_right)
    if arch == "gpt2":  # absolute positions: without position ids, left padding shifts every real token
        with torch.no_grad():
            hidden = rm.body(input_ids=left.input_ids, attention_mask=left.attention_mask).last_hidden_state
        trap = rm.head(readout_hidden(hidden, left.readout))[:, 0]
        assert not _close(rm, trap, scores_right)


def _gemma2_folder(tiny: Path, out: Path, softcap: float) -> Path:
    """A tiny Gemma-2 (attention logit soft-capping, which SDPA cannot do) with the tiny Gemma tokenizer."""
    tok = AutoTokenizer.from_pretrained(tiny)
    config = Gemma2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        query_pre_attn_scalar=16,
        sliding_window=8,
        attn_logit_softcapping=softcap,
        final_logit_softcapping=None,
        num_labels=1,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
    )
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _reference(folder: Path, rm: ModelHandle, attention: str) -> torch.Tensor:
    """Scores from the model's own forward, loaded straight by transformers with `attention`, one pair at a time."""
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, attn_implementation=attention)
    model.score.load_state_dict(rm.head.state_dict())
    model.eval()
    rows = [token_ids(rm.tokenizer, render_pair(rm.tokenizer, p, a)) for p, a in PAIRS]
    with torch.no_grad():
        return torch.cat([model(input_ids=torch.tensor([r])).logits[:, 0] for r in rows])


def test_gemma3_runs_eager_and_matches_eager_and_sdpa_references(tiny_folder: Callable[[Arch], Path]) -> None:
    folder = tiny_folder("gemma3")
    rm = rm_from_base(str(folder), seed=0)
    assert rm.model.config._attn_implementation == "eager"
    scores = reward_scores(rm, PAIRS, padding_side="left")
    for attention in ("eager", "sdpa"):  # Gemma 3 has no attention soft-capping: both are exact
        assert _close(rm, scores, _reference(folder, rm, attention)), attention


def test_gemma2_soft_capping_needs_eager_attention(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    folder = _gemma2_folder(tiny_folder("gemma3"), tmp_path / "gemma2", softcap=0.02)  # bites on small random logits
    rm = rm_from_base(str(folder), seed=0)
    assert rm.model.config._attn_implementation == "eager"
    scores = reward_scores(rm, PAIRS, padding_side="left")
    assert _close(rm, scores, _reference(folder, rm, "eager"))
    # What an attention kernel that drops soft-capping computes (older SDPA paths did so silently).
    uncapped = ModelHandle(copy.deepcopy(rm.model), rm.tokenizer, rm.name, rm.kind)
    for layer in uncapped.layers:
        layer.self_attn.attn_logit_softcapping = None
    assert not _close(rm, reward_scores(uncapped, PAIRS, padding_side="left"), scores)
