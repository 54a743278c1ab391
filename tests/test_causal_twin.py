"""The base-LM twin: no-ops are bit-exact, edits match a hand computation, steering signs, bad inputs, agreement."""

from __future__ import annotations

import doctest
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch

from interp._util.errors import UserError
from interp.causal import twin
from interp.causal.twin import sign_agreement, twin_effect
from interp.lexicons.readers import default_lexicon
from interp.models import ModelHandle, load_lm, rm_from_base
from interp.models.tiny import Arch
from interp.render import render_prompt, token_ids
from interp.render.prompts import paper_prompts
from interp.sweep.logprobs import answer_logprobs, merge_variants, single_token_variants

pytestmark = pytest.mark.usefixtures("one_thread")
# Single-token words of the tiny tokenizer, in two arbitrary categories.
WORDS = {w: "agency" for w in ("power", "best", "one", "help", "word")} | {
    w: "communion" for w in ("care", "world", "thing", "hello", "today")
}
PROMPTS = paper_prompts()[::9]  # 6 prompts, both framings


@pytest.fixture
def lm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return load_lm(str(tiny_folder("llama")))


def _unit(seed: int, d: int) -> torch.Tensor:
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def _agency_minus_communion(per_word: pd.DataFrame, column: str) -> pd.Series:
    means = per_word.pivot_table(index="prompt", columns="category", values=column, aggfunc="mean")
    return means["agency"] - means["communion"]


def test_module_doctests_pass() -> None:
    assert doctest.testmod(twin).failed == 0


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_noop_is_bit_exact_and_before_is_the_sweep(tiny_folder: Callable[[Arch], Path], arch: Arch) -> None:
    lm = load_lm(str(tiny_folder(arch)))
    d = lm.d_model
    cases = [
        twin_effect(lm, _unit(0, d), 2, PROMPTS, WORDS, "steer", alpha=0.0),
        twin_effect(lm, torch.zeros(d), 2, PROMPTS, WORDS, "steer", alpha=5.0, position="all"),
        twin_effect(lm, torch.zeros(d), 1, PROMPTS, WORDS, "ablate"),
    ]
    reference, _ = answer_logprobs(lm, PROMPTS, list(WORDS), progress=False)
    for effect in cases:
        assert effect.mean_change == 0.0
        assert (effect.per_word["before"] == effect.per_word["after"]).all()
        assert (effect.per_prompt["d_gap"] == 0).all() and (effect.per_prompt["mwlr_gap"] == 0).all()
        merged = effect.per_word.merge(reference, on=["wrapper", "prompt", "word"])
        assert len(merged) == len(effect.per_word) == len(reference)
        assert (merged["before"] == merged["score"]).all()
    # Gemma (base: no chat template) is scored under two wrappers, each prompt once per wrapper.
    n_wrappers = 1 if arch == "llama" else 2
    assert len(cases[0].per_prompt) == n_wrappers * len(PROMPTS) and cases[0].n_prompts == len(PROMPTS)


def test_direction_in_a_zeroed_subspace_changes_nothing(tiny_folder: Callable[[Arch], Path]) -> None:
    lm = load_lm(str(tiny_folder("llama")))
    k = 7  # no embedding, attention or MLP output ever writes residual coordinate k
    with torch.no_grad():
        lm.model.get_input_embeddings().weight[:, k] = 0
        for layer in lm.layers:
            layer.self_attn.o_proj.weight[k] = 0
            layer.mlp.down_proj.weight[k] = 0
    e_k = torch.zeros(lm.d_model)
    e_k[k] = 1.0
    zeroed = twin_effect(lm, e_k, 2, PROMPTS, WORDS, "ablate", position="all")
    assert (zeroed.per_word["change"] == 0).all() and zeroed.mean_change == 0.0
    other = twin_effect(lm, _unit(1, lm.d_model), 2, PROMPTS, WORDS, "ablate", position="all")
    assert other.per_word["change"].abs().max() > 1e-4  # an ordinary direction does move the log-probs


def _hand_logprobs(lm: ModelHandle, v: torch.Tensor, words: dict[str, str]) -> pd.DataFrame:
    """Last-layer ablation at the last token by hand: h − (h·v)v, final norm, unembedding, log-softmax, merge."""
    variants, _ = single_token_variants(lm.tokenizer, list(words))
    captured: list[torch.Tensor] = []
    hook = lm.layers[-1].register_forward_hook(
        lambda _m, _a, out: captured.append(out[0] if isinstance(out, tuple) else out)
    )
    rows = []
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = torch.tensor([token_ids(lm.tokenizer, render_prompt(lm.tokenizer, prompt.text))])
            lm.model(input_ids=ids, attention_mask=torch.ones_like(ids))
            h = captured.pop()[0, -1]
            edited = h - (h @ v) * v
            logprobs = torch.log_softmax(lm.model.lm_head(lm.body.norm(edited)).float(), dim=-1)
            rows += [(prompt.key, w, merge_variants(logprobs, ids_)) for w, ids_ in variants.items()]
    hook.remove()
    return pd.DataFrame(rows, columns=["prompt", "word", "hand"])


def test_ablation_matches_a_hand_computation(lm: ModelHandle) -> None:
    v = _unit(2, lm.d_model)
    effect = twin_effect(lm, v, lm.n_layers - 1, PROMPTS, WORDS, "ablate")
    both = effect.per_word.merge(_hand_logprobs(lm, v, WORDS), on=["prompt", "word"])
    assert len(both) == len(effect.per_word) == len(PROMPTS) * len(WORDS)
    assert (both["after"] - both["hand"]).abs().max() < 1e-5
    assert both["change"].abs().max() > 1e-3  # the edit is not a no-op, so the match says something
    # The per-prompt gap change is the agency − communion mean of the per-word changes, and its mean is mean_change.
    hand_gap = _agency_minus_communion(both.assign(d=both["hand"] - both["before"]), "d")
    d_gap = effect.per_prompt.set_index("prompt")["d_gap"]
    assert (d_gap - hand_gap.reindex(d_gap.index)).abs().max() < 1e-5
    assert effect.mean_change == pytest.approx(float(d_gap.mean()), abs=1e-12)


def test_a_shared_baseline_gives_the_same_effect(lm: ModelHandle) -> None:
    v = _unit(5, lm.d_model)
    fresh = twin_effect(lm, v, 1, PROMPTS, WORDS, "steer", alpha=2.0)
    baseline, _ = answer_logprobs(lm, PROMPTS, list(WORDS), progress=False)
    shared = twin_effect(lm, v, 1, PROMPTS, WORDS, "steer", alpha=2.0, baseline=baseline)
    pd.testing.assert_frame_equal(fresh.per_word, shared.per_word)
    assert fresh.mean_change == shared.mean_change != 0
    with pytest.raises(UserError, match="baseline"):
        twin_effect(lm, v, 1, PROMPTS[:2], WORDS, "steer", alpha=2.0, baseline=baseline)


def test_all_positions_edit_the_whole_context(lm: ModelHandle) -> None:
    v = _unit(3, lm.d_model)
    # At the last layer only the readout token reaches the log-probs, so `all` equals `readout` there...
    last = [twin_effect(lm, v, lm.n_layers - 1, PROMPTS, WORDS, "ablate", position=p) for p in ("readout", "all")]
    assert (last[0].per_word["after"] - last[1].per_word["after"]).abs().max() < 1e-5
    # ...while at an early layer editing the context too gives another answer distribution.
    early = [twin_effect(lm, v, 0, PROMPTS, WORDS, "ablate", position=p) for p in ("readout", "all")]
    assert (early[0].per_word["after"] - early[1].per_word["after"]).abs().max() > 1e-4


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
def test_steering_along_plus_and_minus_moves_the_gap_oppositely(
    tiny_folder: Callable[[Arch], Path], arch: Arch
) -> None:
    lm = load_lm(str(tiny_folder(arch)))
    variants, _ = single_token_variants(lm.tokenizer, list(WORDS))
    unembed = lm.model.get_output_embeddings().weight.detach().float()

    def mean_row(category: str) -> torch.Tensor:
        return torch.stack([unembed[i] for w, ids in variants.items() if WORDS[w] == category for i in ids]).mean(0)

    planted = mean_row("agency") - mean_row("communion")  # the unembedding contrast of the two categories
    planted = planted / planted.norm()
    layer = lm.n_layers - 1
    up, down = (twin_effect(lm, planted, layer, PROMPTS, WORDS, "steer", alpha=a) for a in (4.0, -4.0))
    assert (up.per_prompt["d_gap"] > 0).all() and (down.per_prompt["d_gap"] < 0).all()
    assert up.mean_change > 0.1 and down.mean_change < -0.1
    assert (up.per_prompt["mwlr_gap"] > 0).all()  # the edited LM's implicit reward favours the agency words


def test_bad_inputs_raise_one_sentence(lm: ModelHandle, tiny_folder: Callable[[Arch], Path]) -> None:
    d = lm.d_model
    bad: list[tuple[Callable[[], object], str]] = [
        (lambda: twin_effect(lm, torch.ones(d + 1), 1, PROMPTS, WORDS), "dimension"),
        (lambda: twin_effect(lm, _unit(0, d), lm.n_layers, PROMPTS, WORDS), "out of range"),
        (lambda: twin_effect(lm, _unit(0, d), -1, PROMPTS, WORDS), "non-negative"),
        (lambda: twin_effect(lm, _unit(0, d), 1, PROMPTS, WORDS, "patch"), "Unknown intervention"),  # type: ignore[arg-type]
        (lambda: twin_effect(lm, _unit(0, d), 1, PROMPTS, WORDS, "ablate", alpha=2.0), "no dose"),
        (lambda: twin_effect(lm, _unit(0, d), 1, PROMPTS, WORDS, position=3), "Unknown twin position"),  # type: ignore[arg-type]
        (lambda: twin_effect(lm, _unit(0, d), 1, PROMPTS, {"power": "agency"}), "communion"),
        (lambda: twin_effect(rm_from_base(str(tiny_folder("llama"))), _unit(0, d), 1, PROMPTS, WORDS), "load_lm"),
        (lambda: sign_agreement((0.5, 0.1), (0.1, 0.2)), "not a finite"),
        (lambda: sign_agreement((0.1, 0.2), (float("nan"), 0.2)), "not a finite"),
    ]
    for call, phrase in bad:
        with pytest.raises(UserError) as err:
            call()
        message = str(err.value)
        assert phrase in message and "\n" not in message and message.endswith(".")


def test_sign_agreement_edges() -> None:
    assert sign_agreement((-2.0, -1.0), (-0.2, -0.01)) == "agree"
    assert sign_agreement((1.0, 2.0), (0.01, 0.2)) == "agree"
    assert sign_agreement((-2.0, -1.0), (0.01, 0.2)) == "disagree"
    assert sign_agreement((0.0, 1.0), (0.1, 0.2)) == "inconclusive"  # an interval touching 0 includes it
    assert sign_agreement((1.0, 2.0), (-0.1, 0.0)) == "inconclusive"


@pytest.fixture(scope="module")
def smollm2() -> Iterator[ModelHandle]:
    yield load_lm("smollm2-135m-instruct")


@pytest.mark.slow
def test_smollm2_twin_ten_prompts_forty_words(smollm2: ModelHandle) -> None:
    entries = default_lexicon().entries()
    words: dict[str, str] = {}
    for category in ("agency", "communion"):
        listed = [w for w in entries[entries["category"] == category]["word"] if w not in words and "*" not in w]
        words |= dict.fromkeys(listed[:20], category)
    assert len(words) == 40
    prompts = paper_prompts()[::5][:10]
    v = _unit(4, smollm2.d_model)
    start = time.perf_counter()
    effect = twin_effect(smollm2, v, 15, prompts, words, "ablate")
    seconds = time.perf_counter() - start
    print(f"SmolLM2 twin, {effect.n_prompts} prompts x {effect.n_words} words: {seconds:.2f} s")
    assert effect.n_prompts == 10 and effect.n_words >= 30
    assert effect.per_word["change"].abs().max() > 0
    noop = twin_effect(smollm2, v, 15, prompts, words, "steer", alpha=0.0)
    assert noop.mean_change == 0.0 and (noop.per_word["change"] == 0).all()


def test_twin_table_matches_single_effects_and_a_zero_dose_is_zero(lm: ModelHandle) -> None:
    v = _unit(6, lm.d_model)
    edits = [
        twin.TwinEdit("ablate", 1, v),
        twin.TwinEdit("steer", 2, v, 0.0, 0.0),
        twin.TwinEdit("steer", 2, v, 3.0, 1.5),
    ]
    table = twin.twin_table(lm, edits, PROMPTS, WORDS, n_boot=200)
    assert len(table) == len(edits) * 2 and set(table["framing"]) == {"positive", "negative"}
    zero = table[(table.edit == "steer") & (table.dose == 0.0)]
    assert (zero[["twin_estimate", "twin_low", "twin_high"]] == 0).all().all()
    single = twin_effect(lm, v, 2, PROMPTS, WORDS, "steer", alpha=3.0).per_prompt
    for framing, row in table[table.dose == 1.5].set_index("framing").iterrows():
        expected = single[single.framing == framing]["d_gap"].mean()
        assert row["twin_estimate"] == pytest.approx(expected, abs=1e-9) and expected != 0
        assert row["twin_low"] <= row["twin_estimate"] <= row["twin_high"]
        assert row["twin_n_prompts"] == sum(p.framing == framing for p in PROMPTS)
