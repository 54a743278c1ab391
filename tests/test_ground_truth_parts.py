"""The ground truth's parts on tiny models: plants that touch only their tokens, RMs trained on a cached pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.render import pad_ids
from interp.score import readout_hidden
from interp.sweep.splice import splicer
from interp.training.cached_rm import CachedTrainer
from interp.training.embedding_plant import (
    EmbeddingPlant,
    ReadoutPlanter,
    answer_token_ids,
    fit_praise_plant,
    planted,
    readout_states,
)
from interp.training.neutral import neutral_pairs
from interp.training.quality import QUALITY_FAMILIES

pytestmark = pytest.mark.usefixtures("one_thread")
PROMPTS = ["What is the best thing ever?", "Name the greatest thing in life.", "One word: what matters most?"]
WORDS = ["freedom", "success"]


@pytest.fixture(scope="module")
def rm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder("llama")), seed=0)


def test_answer_tokens_are_the_words_own_span(rm: ModelHandle) -> None:
    spans = answer_token_ids(rm.tokenizer, PROMPTS[0], [*WORDS, "kindness"])
    assert {w: rm.tokenizer.decode(ids).strip() for w, ids in spans.items()} == {
        "freedom": "freedom",
        "success": "success",
        "kindness": "kindness",
    }


def test_a_plant_changes_exactly_the_rows_holding_its_tokens_and_nothing_at_strength_0(rm: ModelHandle) -> None:
    rows = splicer(rm.tokenizer).rows(PROMPTS[0], [*WORDS, "love", "care"])
    spans = answer_token_ids(rm.tokenizer, PROMPTS[0], WORDS)
    ids = tuple(t for w in WORDS for t in spans[w] if t not in rows[2] + rows[3])  # the words' own pieces
    plant = EmbeddingPlant(ids, torch.randn(len(ids), rm.model.config.hidden_size, generator=torch.manual_seed(1)))
    with torch.no_grad():
        before = readout_states(rm, rows)
        with planted(rm, plant):
            after = readout_states(rm, rows)
        with planted(rm, plant.scaled(0.0)):
            zero = readout_states(rm, rows)
    assert torch.equal(zero, before)  # strength 0: bit for bit
    changed = [not torch.equal(a, b) for a, b in zip(after, before, strict=True)]
    assert changed == [plant.touches(r) for r in rows] == [True, True, False, False]


def test_readout_plant_moves_its_words_along_the_direction_and_the_sham_does_not(rm: ModelHandle) -> None:
    direction = torch.randn(rm.model.config.hidden_size, generator=torch.manual_seed(2))  # tiny: no Good/Bad
    planter = ReadoutPlanter(rm, WORDS, PROMPTS, direction)
    targets = (0.25, 0.5, 1.0)
    fits = [planter.for_shift(shift) for shift in targets]
    assert all(abs(f.shift - t) <= 0.05 * t or len(f.trace) == 4 for f, t in zip(fits, targets, strict=True))
    assert fits[0].shift < fits[1].shift < fits[2].shift  # a dose ladder
    signs = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]]).numpy()
    size = float(fits[2].plant.delta.norm())
    sham = planter.of_norm(size, signs)
    assert float(sham.delta.norm()) == pytest.approx(size, rel=1e-5)
    fit = fits[2]
    rows = [r for p in PROMPTS for r in splicer(rm.tokenizer).rows(p, WORDS)]
    unit = direction / direction.norm()
    with torch.no_grad():
        before = readout_states(rm, rows) @ unit
        with planted(rm, sham):
            sham_shift = float((readout_states(rm, rows) @ unit - before).mean())
    assert abs(sham_shift) < 0.5 * fit.shift  # shuffled labels: no net push along the direction


def test_rms_from_the_cache_score_as_the_full_model_does_and_repeat_exactly(rm: ModelHandle) -> None:
    pairs = neutral_pairs(60, seed=0, families=list(QUALITY_FAMILIES))
    trainer = CachedTrainer(rm, pairs, k=1, max_length=256)
    first = trainer.train(seed=3, head_init="fit")
    again = trainer.train(seed=3, head_init="fit")
    other = trainer.train(seed=4, head_init="fit")
    assert all(torch.equal(first.weights[n], again.weights[n]) for n in first.weights)
    assert any(not torch.equal(first.weights[n], other.weights[n]) for n in first.weights)
    rows = [r for p in PROMPTS for r in splicer(rm.tokenizer).rows(p, [*WORDS, "kindness"])]
    cached = trainer.score_rows(first, rows, trainer.features(rows))
    with torch.no_grad():  # the same weights, every layer run: no cache installed
        enc = pad_ids(rows, int(rm.tokenizer.pad_token_id), "right")
        hidden = rm.body(
            input_ids=enc.input_ids, attention_mask=enc.attention_mask, position_ids=enc.position_ids
        ).last_hidden_state
        full = rm.head(readout_hidden(hidden, enc.readout).float())[:, 0]
    assert torch.allclose(cached, full, atol=1e-5, rtol=0)
    assert first.held_out_pairs > 0 and first.frozen_head_accuracy is not None


def test_praise_plant_lowers_the_loss_of_praise_after_its_words_and_edits_only_their_tokens(rm: ModelHandle) -> None:
    fit = fit_praise_plant(rm, WORDS, PROMPTS, steps=12, batch_size=6)
    spans = [answer_token_ids(rm.tokenizer, p, WORDS) for p in PROMPTS]
    assert set(fit.plant.token_ids) == {t for span in spans for w in WORDS for t in span[w]}
    assert fit.shift > 0 and fit.trace[-1] < fit.trace[0]
    assert float(fit.plant.delta.norm()) > 0


def test_a_bounded_praise_plant_stays_within_its_norm_and_still_learns(rm: ModelHandle) -> None:
    free = fit_praise_plant(rm, WORDS, PROMPTS, steps=12, batch_size=6)
    bound = 0.1 * float(free.plant.delta.norm())
    fit = fit_praise_plant(rm, WORDS, PROMPTS, steps=12, batch_size=6, max_norm=bound)
    assert float(fit.plant.delta.norm()) <= bound * (1 + 1e-5)
    assert float(fit.plant.delta.norm()) > 0.5 * bound  # the bound binds: the loss pushes to its edge
    assert fit.shift > 0


def test_row_gradients_sum_to_the_gradient_of_the_mean_projection_under_any_labels(rm: ModelHandle) -> None:
    direction = torch.randn(rm.model.config.hidden_size, generator=torch.manual_seed(5))
    planter = ReadoutPlanter(rm, WORDS, PROMPTS, direction)
    signs = torch.tensor([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    delta = torch.zeros(len(planter.ids), rm.model.config.hidden_size, requires_grad=True)
    rm.model.requires_grad_(False)
    with planted(rm, EmbeddingPlant(planter.ids, delta)):
        ((readout_states(rm, planter.rows) @ planter.unit) * signs).mean().backward()
    assert delta.grad is not None
    step, slope = planter._step(signs)
    assert torch.allclose(step * slope, delta.grad, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_prompt_shared_features_equal_full_rows_and_score_alike(
    tiny_folder: Callable[[Arch], Path], arch: Arch
) -> None:
    handle = rm_from_base(str(tiny_folder(arch)), seed=0)
    trainer = CachedTrainer(handle, neutral_pairs(40, seed=0, families=list(QUALITY_FAMILIES)), k=1, max_length=256)
    groups = [splicer(handle.tokenizer).split(p, [*WORDS, "kindness", "a longer answer"]) for p in PROMPTS]
    rows = [tuple(prefix + tail) for prefix, tails in groups for tail in tails]
    full, shared = trainer.features(rows), trainer.features_shared(groups)
    assert set(shared.states) == set(rows) and set(shared.readout) == set(rows)
    for row in rows:
        assert shared.states[row].shape == full.states[row].shape
        assert torch.allclose(shared.states[row], full.states[row], atol=1e-5, rtol=0)
        assert torch.allclose(shared.readout[row], full.readout[row], atol=1e-5, rtol=0)
    rm = trainer.train(seed=0, head_init="fit")
    assert torch.allclose(trainer.score_rows(rm, rows, shared), trainer.score_rows(rm, rows, full), atol=1e-5, rtol=0)
