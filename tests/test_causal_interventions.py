"""Interventions: bit-exact no-ops, hook clean-up, composition, ablation, mean ablation, steering, bad input."""

from __future__ import annotations

import re

import pytest
import torch

from interp._util.errors import UserError
from interp.causal import Direction, ablate, active_interventions, mean_ablate, steer
from interp.hooks import Site, capture
from interp.models import ModelHandle, rm_from_base
from interp.render import encode_pairs
from interp.score import score_encoded

PAIRS = [
    (p, a)
    for p in ("What, in one word, is the best thing ever?", "Name the worst thing.")
    for a in ("Love", "Freedom", "a family", "power and success", "war")
]


@pytest.fixture(scope="module")
def rm(tiny_folder) -> ModelHandle:
    return rm_from_base(str(tiny_folder("llama")), seed=0)


@pytest.fixture(scope="module")
def enc(rm):
    return encode_pairs(rm.tokenizer, PAIRS, padding_side="left")


def _direction(rm: ModelHandle, seed: int = 0) -> torch.Tensor:
    return torch.randn(rm.d_model, generator=torch.Generator().manual_seed(seed))


def _fitted(vector: torch.Tensor, site: Site) -> Direction:
    return Direction(vector, site, method="diff_means", model_fingerprint="tiny", data_hash="h")


def _no_hooks(rm: ModelHandle) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in rm.model.modules())


def test_alpha_zero_and_zero_directions_are_bit_identical(rm, enc):
    plain_scores = score_encoded(rm, enc)
    sites = [Site(1, position="all"), Site(2, "resid_pre")]
    plain_acts = capture(rm, enc, sites)
    d, zero = _direction(rm), torch.zeros(rm.d_model)
    for intervention in (
        steer(rm, d, 0.0, sites),
        steer(rm, zero, 5.0, sites),
        ablate(rm, zero, sites),
        mean_ablate(rm, zero, 1.0, sites),
    ):
        with intervention:
            assert _no_hooks(rm)
            assert torch.equal(score_encoded(rm, enc), plain_scores)
            acts = capture(rm, enc, sites)
            assert all(torch.equal(acts[s], plain_acts[s]) for s in sites)


@pytest.mark.parametrize(
    "make",
    [
        lambda rm, d: steer(rm, d, 2.0, [Site(1), Site(2, "resid_pre", "all")]),
        lambda rm, d: ablate(rm, d, [Site(0), Site(3, position=1)]),
        lambda rm, d: mean_ablate(rm, d, 0.5, Site(2)),
    ],
)
def test_hooks_are_removed_when_the_body_raises(rm, enc, make):
    assert _no_hooks(rm)
    with pytest.raises(RuntimeError, match="boom"), make(rm, _direction(rm)):
        assert not _no_hooks(rm) and active_interventions(rm) == 1
        score_encoded(rm, enc)
        raise RuntimeError("boom")
    assert _no_hooks(rm) and active_interventions(rm) == 0


def _component(acts: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    return acts @ (d / d.norm())


@pytest.mark.parametrize("site", [Site(1), Site(2, "resid_pre"), Site(1, position="all"), Site(3, position=2)])
def test_ablation_leaves_no_component_along_the_direction(rm, enc, site):
    d = _direction(rm)
    plain = capture(rm, enc, [site])[site]
    with ablate(rm, _fitted(d, site), [site]):
        ablated = capture(rm, enc, [site])[site]
    assert _component(plain, d).abs().max() > 1e-3  # tiny models have small residuals (norm ~0.2)
    assert _component(ablated, d).abs().max() < 1e-7
    assert torch.allclose(ablated, plain - _component(plain, d)[..., None] * d / d.norm(), atol=1e-5)


def test_subspace_ablation_orthonormalises_and_only_touches_the_readout(rm, enc):
    d1, d2 = _direction(rm, 1), _direction(rm, 2)
    subspace = torch.stack([d1, d2, d1 + 3 * d2])  # rank 2, not orthogonal
    every = Site(2, position="all")
    plain = capture(rm, enc, [every])[every]
    with ablate(rm, subspace, [Site(2)]):
        after = capture(rm, enc, [every, Site(2)])
    for d in (d1, d2):
        assert _component(after[Site(2)], d).abs().max() < 1e-7
    lengths = enc.attention_mask.sum(-1)
    for row, n in enumerate(lengths.tolist()):  # every token but the readout is untouched
        assert torch.equal(after[every][row, : n - 1], plain[row, : n - 1])
        assert not torch.equal(after[every][row, n - 1], plain[row, n - 1])


def test_mean_ablation_pins_the_component(rm, enc):
    d = _direction(rm)
    with mean_ablate(rm, d, 1.25, [Site(2)]):
        fixed = capture(rm, enc, [Site(2)])[Site(2)]
    assert torch.allclose(_component(fixed, d), torch.full((len(PAIRS),), 1.25), atol=1e-5)
    mean_activation = capture(rm, enc, [Site(2)])[Site(2)].mean(0)
    with mean_ablate(rm, d, mean_activation, [Site(2)]):
        fixed = capture(rm, enc, [Site(2)])[Site(2)]
    expected = float(_component(mean_activation, d))
    assert torch.allclose(_component(fixed, d), torch.full((len(PAIRS),), expected), atol=1e-5)


def test_nested_interventions_compose(rm, enc):
    d = _direction(rm)
    unit = d / d.norm()
    with steer(rm, unit, 2.0, [Site(1)]), steer(rm, unit, 1.0, [Site(1)]):
        twice = capture(rm, enc, [Site(1)])[Site(1)]
        nested_scores = score_encoded(rm, enc)
    with steer(rm, unit, 3.0, [Site(1)]):
        once = capture(rm, enc, [Site(1)])[Site(1)]
        assert torch.allclose(score_encoded(rm, enc), nested_scores, atol=1e-5)
    assert torch.allclose(twice, once, atol=1e-5)
    with ablate(rm, d, [Site(1)]), steer(rm, unit, 2.0, [Site(1)]):  # ablate runs first, then steer
        assert torch.allclose(
            _component(capture(rm, enc, [Site(1)])[Site(1)], d), torch.full((len(PAIRS),), 2.0), atol=1e-5
        )
    assert not torch.allclose(nested_scores, score_encoded(rm, enc), atol=1e-4)


def test_steered_scores_do_not_depend_on_padding_side(rm):
    d = _direction(rm)
    left, right = (encode_pairs(rm.tokenizer, PAIRS, padding_side=side) for side in ("left", "right"))
    with steer(rm, d, 3.0, [Site(1), Site(2, "resid_pre", -3)]):
        assert torch.allclose(score_encoded(rm, left), score_encoded(rm, right), atol=1e-5)


def test_bad_directions_are_user_errors(rm, enc):
    short = torch.ones(rm.d_model + 1)
    for make in (
        lambda: steer(rm, short, 1.0, Site(0)),
        lambda: ablate(rm, _fitted(short, Site(0)), Site(0)),
        lambda: mean_ablate(rm, short, 0.0, Site(0)),
    ):
        with pytest.raises(UserError, match=f"dimension {rm.d_model + 1} but the model's residual stream has 64"):
            make()
    with pytest.raises(UserError, match="must be 1-D"):
        steer(rm, torch.ones(2, rm.d_model), 1.0, Site(0))
    with pytest.raises(UserError, match="out of range"):
        steer(rm, torch.ones(rm.d_model), 1.0, Site(9))


def test_a_direction_defaults_to_its_own_site_and_may_be_used_at_others(rm, enc):
    fitted = _fitted(_direction(rm), Site(2, "resid_pre"))
    with ablate(rm, fitted.vector, [Site(2, "resid_pre")]):
        expected = score_encoded(rm, enc)
    for own in (ablate(rm, fitted), ablate(rm, [fitted, fitted]), mean_ablate(rm, fitted, 0.0)):
        with own:
            assert torch.allclose(score_encoded(rm, enc), expected, atol=1e-6)
    with steer(rm, fitted, 2.0):
        steered = score_encoded(rm, enc)
    with steer(rm, fitted.vector, 2.0, Site(2, "resid_pre")):
        assert torch.equal(score_encoded(rm, enc), steered)
    with ablate(rm, fitted, [Site(0)]):  # fitted at layer 2, ablated at layer 0
        assert not torch.allclose(score_encoded(rm, enc), expected, atol=1e-6)


def test_directions_of_the_wrong_type_or_shape_are_user_errors(rm):
    d = _direction(rm)
    for make, fragment in (
        (lambda: steer(rm, d, 1.0), "pass sites"),
        (lambda: mean_ablate(rm, d, 0.0), "pass sites"),
        (lambda: ablate(rm, [_fitted(d, Site(0)), _fitted(d, Site(1))]), "different sites (L0.resid_post.readout"),
        (lambda: ablate(rm, torch.ones(2, 2, rm.d_model), Site(0)), "1-D (d_model,) or 2-D (k, d_model)"),
        (lambda: ablate(rm, [], Site(0)), "non-empty list"),
        (lambda: steer(rm, d.numpy(), 1.0, Site(0)), "torch.as_tensor"),  # type: ignore[arg-type]
    ):
        with pytest.raises(UserError, match=re.escape(fragment)) as err:
            make()
        assert "\n" not in str(err.value) and str(err.value).endswith(".")


def test_other_backends_refuse_to_capture_inside_an_intervention(rm, enc):
    with steer(rm, _direction(rm), 1.0, [Site(1)]), pytest.raises(UserError, match="backend='torch'"):
        capture(rm, enc, [Site(2)], backend="nnsight")


def test_cached_sweeps_under_an_intervention_batch_and_score_as_full_sequences(rm):
    from interp.sweep.prefix import CachedScorer

    scorer = CachedScorer(rm, batch_size=4)  # made outside the intervention: `auto` packs on the CPU here
    assert scorer.method == "packed"
    d = _direction(rm)
    with steer(rm, d, 3.0, [Site(1), Site(2)]):
        cached = scorer.score_pairs(PAIRS)
        assert scorer.method == "batched"  # edits are placed by a 2-D mask, so `auto` batches under them
        full = score_encoded(rm, encode_pairs(rm.tokenizer, PAIRS, padding_side="right"))
        with pytest.raises(UserError, match="Packed scoring cannot run under an intervention"):
            CachedScorer(rm, method="packed")
    assert torch.allclose(cached, full, atol=1e-5)
    assert not torch.allclose(cached, scorer.score_pairs(PAIRS), atol=1e-3)  # the steering changed the scores
