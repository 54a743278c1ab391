"""Packed scoring (many answers per row under a block mask) and batched prompt-cache scoring equal
full-sequence scoring (fp32, |Δ| ≤ 1e-5), Gemma's sliding windows included."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp._util.errors import UserError
from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.score import reward_scores
from interp.sweep.packed import SharedPrefixes, Tokens, _allowed, pack, packable
from interp.sweep.prefix import CachedScorer
from tests.numerics import reduction_order_tolerance

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPTS = [
    "What, in one word, is the greatest thing in the world? Please answer in one word only.",
    "Best thing?",
    "What is the most terrible thing of all time, in the whole wide world, ever?",
]
ANSWERS = [
    "Love",
    "freedom",
    "kindness and trust",
    "x",
    "Success!",
    "the greatest thing is kindness power achievement wealth trust and care",  # longer than Gemma's window (8)
    "Paris",
]
PAIRS = [(p, a) for p in PROMPTS for a in ANSWERS]


@pytest.fixture(scope="module", params=["llama", "gemma3", "qwen2"])
def tiny_rm(request: pytest.FixtureRequest, tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder(request.param)), seed=1)


@pytest.fixture(scope="module")
def full(tiny_rm: ModelHandle) -> torch.Tensor:
    return reward_scores(tiny_rm, PAIRS, batch_size=4)


@pytest.mark.parametrize("method", ["packed", "batched"])
@pytest.mark.parametrize(("batch_size", "row_tokens"), [(1, 512), (5, 6), (64, 512), (64, 12)])
def test_equals_full_sequence(
    tiny_rm: ModelHandle, full: torch.Tensor, method: str, batch_size: int, row_tokens: int
) -> None:
    """Mixed prompts (a common start, then different remainders), rows split by the token cap, answers longer
    than the cap (a row of their own) and than Gemma's sliding window."""
    scorer = CachedScorer(tiny_rm, batch_size, method=method, row_tokens=row_tokens)  # type: ignore[arg-type]
    assert (scorer.score_pairs(PAIRS) - full).abs().max().item() <= 1e-5


def test_packing_leaks_nothing_between_answers(tiny_rm: ModelHandle, full: torch.Tensor) -> None:
    """Scored alone or packed with any neighbours, an answer gets the same score; reversing the order changes
    its neighbours and rows."""
    alone = torch.stack([CachedScorer(tiny_rm, 1, method="packed").score_pairs([pair])[0] for pair in PAIRS[:7]])
    packed = CachedScorer(tiny_rm, 64, method="packed")
    forward = packed.score_pairs(PAIRS)
    backward = packed.score_pairs(PAIRS[::-1]).flip(0)
    assert (forward[:7] - alone).abs().max().item() <= 1e-5
    assert (forward - backward).abs().max().item() <= 1e-5
    assert torch.equal(forward, packed.score_pairs(PAIRS))  # the shared prompt row is never written into


def test_auto_packs_on_cpu(tiny_rm: ModelHandle) -> None:
    assert packable(tiny_rm)
    assert CachedScorer(tiny_rm).method == "packed"
    assert CachedScorer(tiny_rm, method="batched").method == "batched"


def test_pack_layout() -> None:
    """Rows of up to 3 tokens (a longer tail gets a row of its own), prompts mixed; positions restart at each
    prompt's length."""
    packing = pack([[5, 6], [7], [8, 9, 10], [11, 12, 13, 14]], [0, 1, 0, 1], 3, torch.tensor([4, 6]))
    assert packing.input_ids.tolist() == [[5, 6, 7, 0], [8, 9, 10, 0], [11, 12, 13, 14]]
    assert packing.answer.tolist() == [[0, 0, 1, -1], [2, 2, 2, -1], [3, 3, 3, 3]]
    assert packing.tokens.prompt.tolist() == [[0, 0, 1, -1], [0, 0, 0, -1], [1, 1, 1, 1]]
    assert packing.tokens.position.tolist() == [[4, 5, 6, 0], [4, 5, 6, 0], [6, 7, 8, 9]]
    assert packing.row_prompts == [[0, 1], [0], [1]]
    assert [t.tolist() for t in packing.readout] == [[0, 0, 1, 2], [1, 2, 2, 3]]


def test_block_mask() -> None:
    """Prompts' row: common start (2 tokens), prompt 0's remainder (1 token), prompt 1's (1 token). A packed row
    of prompt 1: its keys (common start, its remainder, one padding key), answer 0 (2 tokens), padding."""
    row = Tokens(*(torch.tensor(v) for v in ([-1, -1, 0, 1], [-1] * 4, [0, 1, 2, 2], [0, 1, 2, 3])))
    assert _allowed(row, row, None).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 1]]
    seen = Tokens(*(torch.tensor(v) for v in ([1, 1, 1, -2], [-1] * 4, [0, 1, 2, 0], [0, 1, 2, 3])))
    packed = Tokens(*(torch.tensor(v) for v in ([1, 1, -1], [0, 0, -1], [3, 4, 0], [4, 5, 6])))
    keys = Tokens(*(torch.cat([k, q]) for k, q in zip(seen.fields(), packed.fields(), strict=True)))
    assert _allowed(packed, keys, None).int().tolist() == [
        [1, 1, 1, 0, 1, 0, 0],  # answer 0, token 0: its prompt, itself
        [1, 1, 1, 0, 1, 1, 0],  # token 1: ... and its own first token
        [0, 0, 0, 0, 0, 0, 1],  # padding: itself, so no row of the mask is empty
    ]
    assert _allowed(packed, keys, 2).int().tolist()[1] == [0, 0, 0, 0, 1, 1, 0]  # window 2: positions 3 and 4


def test_shared_prefixes_run_the_common_start_once(tiny_rm: ModelHandle) -> None:
    shared = SharedPrefixes(tiny_rm, [[1, 2, 3, 4], [1, 2, 5], [1, 2]])
    assert shared.lengths.tolist() == [4, 3, 2]
    assert shared.row.prompt.tolist() == [-1, -1, 0, 0, 1]
    stored = shared.cache.layers[0].keys
    assert stored is not None and stored.shape[2] == 5  # the common start once
    cache, keys = shared.view([[1], [0, 2], [2]])  # rows holding answers to these prompts
    assert keys.prompt.tolist() == [[-1, -1, 1, -2], [-1, -1, 0, 0], [-1, -1, -2, -2]]
    assert keys.position.tolist() == [[0, 1, 2, 0], [0, 1, 2, 3], [0, 1, 0, 0]]
    gathered = cache.layers[0].keys
    assert gathered is not None and gathered.shape[:3] == (3, stored.shape[1], 4)
    assert torch.equal(gathered[0, :, 2], stored[0, :, 4])  # prompt 1's remainder


def test_refusals(tiny_rm: ModelHandle) -> None:
    with pytest.raises(UserError, match="Unknown scoring method"):
        CachedScorer(tiny_rm, method="fast")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="at least 1"):
        CachedScorer(tiny_rm, row_tokens=0)
    other = ModelHandle(copy.deepcopy(tiny_rm.model), tiny_rm.tokenizer, "flash", "rm")
    other.model.config._attn_implementation = "flash_attention_2"
    assert not packable(other)
    with pytest.raises(UserError, match="cannot be packed"):
        CachedScorer(other, method="packed")
    assert CachedScorer(other).method == "batched"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma3-270m"])
@pytest.mark.parametrize("method", ["packed", "batched"])
def test_embedded_rms(embedded_rm: Callable[[str], ModelHandle], name: str, method: str) -> None:
    """The real RMs (Gemma: eager attention, sliding windows of 512), within the fp32 reduction-order tolerance
    derived from an fp64 reference (SmolLM2 ~8e-6; Gemma, whose scores are ~7 in size, ~5e-5)."""
    rm = embedded_rm(name)
    pairs = [(p, a) for p in PROMPTS[:2] for a in ANSWERS]
    full = reward_scores(rm, pairs, batch_size=4)
    diff = (CachedScorer(rm, 8, method=method).score_pairs(pairs) - full).abs().max().item()  # type: ignore[arg-type]
    assert diff <= reduction_order_tolerance(rm, pairs)
