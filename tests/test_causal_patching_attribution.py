"""Activation patching (base → RM) and direct linear attribution along the score head, on tiny random models."""

from __future__ import annotations

import copy

import pytest
import torch

from interp._util.errors import UserError
from interp.causal.attribution import component_attribution, component_names, gap_attribution, norm_gain
from interp.causal.patching import patched_scores, patching_curve
from interp.hooks import Site, capture
from interp.models import ModelHandle, load_lm, rm_from_base
from interp.models.tiny import build_tiny
from interp.render import encode_pairs
from interp.score import head_on, reward_scores

pytestmark = pytest.mark.usefixtures("one_thread")

TREATED = ("power and success", "Freedom", "ambition")
REFERENCE = ("Love", "a family", "kindness to all")
PAIRS = [(p, a) for p in ("What, in one word, is the best thing ever?", "Name a thing.") for a in TREATED + REFERENCE]


def _rm(tiny_folder, arch: str) -> ModelHandle:
    return rm_from_base(str(tiny_folder(arch)), seed=0)


def _other(tmp_path, arch: str) -> ModelHandle:
    """A base LM of the same architecture and tokenizer but other random weights."""
    return load_lm(str(build_tiny(arch, tmp_path / f"other-{arch}", seed=1)))


def _copy(rm: ModelHandle) -> ModelHandle:
    return ModelHandle(copy.deepcopy(rm.model), rm.tokenizer, rm.name, "rm")


def _random_norms(rm: ModelHandle) -> ModelHandle:
    """A copy whose every RMSNorm weight is random, so a wrong gain convention (w vs 1 + w) shows, and whose head
    gives scores of order 1 (a random head gives ~0.1, where 1e-5 would hide a relative error of 1e-4)."""
    out = _copy(rm)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, param in out.model.named_parameters():
            if "norm" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
        out.head.weight.mul_(30.0)
    return out


def _no_hooks(rm: ModelHandle) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in rm.model.modules())


# --- patching ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_patching_the_rms_own_residual_changes_no_bit(tiny_folder, arch, side):
    rm = _rm(tiny_folder, arch)
    clean = reward_scores(rm, PAIRS, batch_size=4, padding_side=side)
    for layer in (0, 2, rm.n_layers - 1):
        for positions in ("all", "readout", [1, -2, "readout"]):
            patched = patched_scores(rm, rm, PAIRS, layer, positions, batch_size=4, padding_side=side)
            assert torch.equal(patched, clean), (layer, positions)
    assert _no_hooks(rm)


def test_a_fresh_rm_patched_from_its_own_base_is_unchanged(tiny_folder):
    rm, base = _rm(tiny_folder, "llama"), load_lm(str(tiny_folder("llama")))
    curve = patching_curve(rm, base, PAIRS, batch_size=5)
    assert curve["layer"].tolist() == list(range(rm.n_layers))
    assert (curve[["mean_delta", "min_delta", "max_delta"]] == 0.0).all().all()


def test_patching_from_another_model_changes_scores(tiny_folder, tmp_path):
    rm, other = _rm(tiny_folder, "llama"), _other(tmp_path, "llama")
    clean = reward_scores(rm, PAIRS)
    curve = patching_curve(rm, other, PAIRS, layers=[2, 0, 2])
    assert curve["layer"].tolist() == [0, 2]
    for layer, row in zip((0, 2), curve.itertuples(), strict=True):
        patched = patched_scores(rm, other, PAIRS, layer)
        assert (patched - clean).abs().min() > 1e-4  # every pair moves
        assert row.mean_delta == pytest.approx(float((patched - clean).double().mean()), abs=1e-9)
        assert row.mean_clean == pytest.approx(float(clean.double().mean()), abs=1e-9)
    readout_only = patched_scores(rm, other, PAIRS, 0, "readout")
    assert not torch.equal(readout_only, clean)
    assert not torch.allclose(readout_only, patched_scores(rm, other, PAIRS, 0, "all"))


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_last_layer_patch_is_the_sources_residual_through_the_rms_norm_and_head(tiny_folder, tmp_path, arch):
    rm, other = _rm(tiny_folder, arch), _other(tmp_path, arch)
    last = rm.n_layers - 1
    enc = encode_pairs(rm.tokenizer, PAIRS, padding_side="left")
    resid = capture(other, enc, Site(last))[Site(last)]
    with torch.no_grad():
        expected = head_on(rm, rm.body.norm(resid))
    for positions in ("all", "readout"):
        patched = patched_scores(rm, other, PAIRS, last, positions, padding_side="left")
        assert (patched - expected).abs().max() < 1e-5
    assert (expected - reward_scores(rm, PAIRS)).abs().min() > 1e-4  # the check could fail


def test_patching_refuses_a_source_with_another_tokenizer_and_bad_layers(tiny_folder):
    rm, lm = _rm(tiny_folder, "llama"), load_lm(str(tiny_folder("llama")))
    gemma = load_lm(str(tiny_folder("gemma3")))  # same width, other tokenizer and template
    with pytest.raises(UserError, match="tokenizes the pairs differently"):
        patched_scores(rm, gemma, PAIRS, 0)
    with pytest.raises(UserError, match="out of range"):
        patched_scores(rm, lm, PAIRS, rm.n_layers)
    with pytest.raises(UserError, match="language model"):
        patched_scores(lm, rm, PAIRS, 0)
    with pytest.raises(UserError, match="No positions"):
        patched_scores(rm, lm, PAIRS, 0, [])
    assert _no_hooks(rm)


# --- attribution ------------------------------------------------------------------------------------------------


def _sums(table) -> torch.Tensor:
    return torch.tensor(table.groupby("pair", sort=True)["contribution"].sum().to_numpy())


@pytest.mark.parametrize("arch", ["llama", "gemma3", "qwen2"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_components_sum_to_the_score(tiny_folder, arch, side):
    rm = _random_norms(_rm(tiny_folder, arch))
    table = component_attribution(rm, PAIRS, batch_size=4, padding_side=side)
    names = component_names(rm.n_layers)
    assert table["component"].tolist() == names * len(PAIRS)
    assert table["answer"].tolist()[:: len(names)] == [a for _, a in PAIRS]
    scores = reward_scores(rm, PAIRS, padding_side=side).double()
    assert (_sums(table) - scores).abs().max() < 1e-5
    assert table.groupby("component")["contribution"].apply(lambda c: c.abs().max()).min() > 0
    assert _no_hooks(rm)


def test_the_norm_gain_follows_each_convention(tiny_folder):
    llama, gemma = _random_norms(_rm(tiny_folder, "llama")), _random_norms(_rm(tiny_folder, "gemma3"))
    gain, eps = norm_gain(llama.body.norm)
    assert torch.equal(gain, llama.body.norm.weight.detach()) and eps == llama.body.norm.variance_epsilon
    gain, eps = norm_gain(gemma.body.norm)
    assert torch.equal(gain, 1.0 + gemma.body.norm.weight.detach()) and eps == gemma.body.norm.eps
    with pytest.raises(UserError, match="not an RMSNorm"):
        norm_gain(torch.nn.LayerNorm(16))


def test_a_head_bias_is_its_own_row(tiny_folder):
    rm = _copy(_rm(tiny_folder, "llama"))
    head = torch.nn.Linear(rm.d_model, 1, bias=True)
    with torch.no_grad():
        head.weight.copy_(rm.head.weight)
        head.bias.fill_(0.75)
    rm.model.score = head
    table = component_attribution(rm, PAIRS)
    assert table[table["component"] == "bias"]["contribution"].tolist() == [0.75] * len(PAIRS)
    assert (_sums(table) - reward_scores(rm, PAIRS).double()).abs().max() < 1e-5


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_a_zeroed_mlp_contributes_exactly_nothing(tiny_folder, arch):
    rm = _copy(_rm(tiny_folder, arch))
    with torch.no_grad():
        for param in rm.layers[1].mlp.parameters():
            param.zero_()
    table = component_attribution(rm, PAIRS)
    by = table.groupby("component")["contribution"]
    assert (by.get_group("mlp1") == 0.0).all()
    assert (by.get_group("mlp0") != 0.0).all() and (by.get_group("mlp2") != 0.0).all()
    assert (_sums(table) - reward_scores(rm, PAIRS).double()).abs().max() < 1e-5


def test_gap_components_sum_to_the_reward_gap(tiny_folder):
    rm = _random_norms(_rm(tiny_folder, "gemma3"))
    gap = gap_attribution(component_attribution(rm, PAIRS), TREATED, REFERENCE)
    assert gap["component"].tolist() == component_names(rm.n_layers)
    scores = reward_scores(rm, PAIRS).double()
    treated = torch.tensor([a in TREATED for _, a in PAIRS])
    expected = float(scores[treated].mean() - scores[~treated].mean())
    assert abs(expected) > 1e-3
    assert gap["gap"].sum() == pytest.approx(expected, abs=1e-5)
    assert gap["cumulative"].iloc[-1] == pytest.approx(expected, abs=1e-5)
    with pytest.raises(UserError, match="treated"):
        gap_attribution(component_attribution(rm, PAIRS[:1]), ["nothing"], REFERENCE)
