"""Cached frozen features and the fitted head: exact scores, a head that learns, and the baseline reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from interp.models import load_rm, rm_from_base
from interp.models.tiny import Arch
from interp.score import reward_scores
from interp.training.batches import encode_preferences, split_by_prompt
from interp.training.bradley_terry import TrainConfig, pair_scores, train_rm
from interp.training.features import build_cache, install_cache, warm_start
from interp.training.head_fit import fit_logistic, pairwise_accuracy, token_contrast
from interp.training.neutral import neutral_pairs
from interp.training.trainable import prepare

pytestmark = pytest.mark.usefixtures("one_thread")
ARCHS: tuple[Arch, ...] = ("llama", "gemma3", "qwen2")


@pytest.mark.parametrize("arch", ARCHS)
def test_cached_top_layers_score_exactly_as_the_full_model(tiny_folder: Callable[[Arch], Path], arch: Arch) -> None:
    handle = rm_from_base(str(tiny_folder(arch)), seed=0)
    pairs = neutral_pairs(24, seed=3)
    tokens = encode_preferences(handle.tokenizer, pairs, 200)
    prepare(handle, "last-k", 2)
    cache = build_cache(handle, [*tokens.chosen, *tokens.rejected], handle.n_layers - 2, tokens.pad_id, 5)
    with torch.no_grad():  # move the trainable part away from the base, as training would
        for p in [*handle.layers[-2:].parameters(), handle.head.weight]:
            p.add_(0.05 * torch.randn_like(p))
    undo = install_cache(handle, cache)
    with torch.no_grad():
        cached = pair_scores(handle, tokens.batch(list(range(len(tokens)))), None)
    undo()
    full = reward_scores(handle, [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs])
    assert cached.abs().max() > 1e-3  # not all zero
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)
    # undo restored the bottom layers: a wrong cache no longer matters
    for key in cache.states:
        cache.states[key] = cache.states[key] * 0
    torch.testing.assert_close(reward_scores(handle, [(pairs[0].prompt, pairs[0].chosen)]), full[:1])


def test_logistic_head_recovers_a_planted_direction_and_beats_chance() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 20))
    w = rng.normal(size=20)
    diffs = x * np.sign(x @ w)[:, None]  # chosen − rejected, oriented by the true head
    fit = fit_logistic(diffs[:300], groups=np.arange(300) % 30)
    cos = fit.weight @ w / np.linalg.norm(fit.weight) / np.linalg.norm(w)
    assert cos > 0.9 and pairwise_accuracy(fit.weight, diffs[300:]) > 0.9
    noise = rng.normal(size=(300, 20))
    assert pairwise_accuracy(fit_logistic(noise, np.arange(300) % 30).weight, rng.normal(size=(300, 20))) < 0.62


def test_warm_start_installs_the_fitted_head_and_reports_its_held_out_accuracy(
    tiny_folder: Callable[[Arch], Path],
) -> None:
    handle = rm_from_base(str(tiny_folder("llama")), seed=0)
    drawn = handle.head.weight.detach().clone()
    pairs = neutral_pairs(80, seed=0)
    tokens = encode_preferences(handle.tokenizer, pairs, 200)
    train, held = split_by_prompt(tokens.pairs, 0.25, 0)
    start = warm_start(handle, tokens, train, held, None, "fit")
    head = handle.head.weight.detach()
    assert start.frozen_head_accuracy is not None and start.init == "fit"
    cos = torch.nn.functional.cosine_similarity(head, drawn).item()
    assert abs(cos) < 0.5  # fitted, not the draw
    scores = reward_scores(handle, [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs])
    margin = (scores[: len(pairs)] - scores[len(pairs) :])[held]
    assert float((margin > 0).float().mean()) == pytest.approx(start.frozen_head_accuracy)
    for family, accuracy in start.frozen_head_accuracy_by_family.items():  # the same margins, per family
        rows = [i for i, j in enumerate(held) if tokens.pairs[j].family == family]
        assert float((margin[rows] > 0).float().mean()) == pytest.approx(accuracy)
    assert set(start.frozen_head_accuracy_by_family) == {tokens.pairs[j].family for j in held}


def test_lm_contrast_head_is_the_good_minus_bad_unembedding(tiny_folder: Callable[[Arch], Path]) -> None:
    handle = rm_from_base(str(tiny_folder("llama")), seed=0)
    contrast = token_contrast(handle, ["Good"], ["Bad"])
    emb = handle.body.get_input_embeddings().weight
    good = handle.tokenizer("Good", add_special_tokens=False).input_ids[0]
    bad = handle.tokenizer("Bad", add_special_tokens=False).input_ids[0]
    torch.testing.assert_close(contrast, (emb[good] - emb[bad]).detach())


def test_cached_training_checkpoint_scores_as_in_training_and_moves_the_fitted_head(
    tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    base = str(tiny_folder("qwen2"))
    pairs = neutral_pairs(120, seed=0, families=["comparison", "format"])
    cfg = TrainConfig(base, str(tmp_path / "rm"), k=2, dtype="fp32", epochs=3, batch_size=8, lr=1e-3, save_every=1000)
    result = train_rm(cfg, pairs, progress=False)
    m = result.metrics
    assert m["head_init"] == "fit" and m["frozen_head_accuracy"] == pytest.approx(m["held_out_accuracy_at_start"])
    assert set(m["frozen_head_accuracy_by_family"]) == set(m["held_out_accuracy_by_family"]) == {"comparison", "format"}
    rm = load_rm(str(result.checkpoint))
    tokens = encode_preferences(rm.tokenizer, pairs, cfg.max_length)
    held = [tokens.pairs[i] for i in split_by_prompt(tokens.pairs, cfg.held_out, cfg.split_seed)[1]]
    scores = reward_scores(rm, [(p.prompt, p.chosen) for p in held] + [(p.prompt, p.rejected) for p in held])
    margin = scores[: len(held)] - scores[len(held) :]
    accuracy = float(((margin > 0).float() + 0.5 * (margin == 0).float()).mean())
    assert len(held) == m["held_out_pairs"] and accuracy == pytest.approx(m["held_out_accuracy"])
    start = rm_from_base(base, seed=0)
    assert not torch.equal(rm.layers[-1].mlp.up_proj.weight, start.layers[-1].mlp.up_proj.weight)
    assert torch.equal(rm.layers[0].mlp.up_proj.weight, start.layers[0].mlp.up_proj.weight)
