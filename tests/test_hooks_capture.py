"""capture(): backend agreement, batch-size / padding-side invariance, early stop, positions, bad input."""

from __future__ import annotations

import pytest
import torch

from interp._util.errors import UserError
from interp.hooks import BACKENDS, Site, capture, scores_with
from interp.hooks.backend_tlens import bridge
from interp.models import load_lm, rm_from_base
from interp.render import encode_pairs, render_pair
from interp.score import score_encoded
from tests.conftest import ARCHS

PROMPTS = ["What, in one word, is the best thing ever?", "What is the worst thing in the world?"]
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
    "hello there, how can I help you today",
    "trust",
]
PAIRS = [(p, a) for p in PROMPTS for a in ANSWERS]
SITES = [
    Site(0, "resid_pre"),
    Site(1, "resid_post"),
    Site(2, "resid_pre", "all"),
    Site(2, "resid_post", 0),
    Site(3, "resid_post", -2),
    Site(3, "resid_post"),
]


@pytest.fixture(scope="module")
def rms(tiny_folder):
    return {arch: rm_from_base(str(tiny_folder(arch)), seed=0) for arch in ARCHS}


def _close(a: dict[Site, torch.Tensor], b: dict[Site, torch.Tensor], atol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    for site in a:
        assert a[site].shape == b[site].shape, site
        assert torch.allclose(a[site], b[site], atol=atol, rtol=0), (site, (a[site] - b[site]).abs().max())


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("backend", ["nnsight", "transformer_lens"])
def test_backends_agree_with_torch_hooks_on_residuals_and_scores(rms, arch, backend):
    rm = rms[arch]
    enc = encode_pairs(rm.tokenizer, PAIRS, padding_side="right")
    reference = capture(rm, enc, SITES, batch_size=8)
    _close(capture(rm, enc, SITES, backend=backend, batch_size=8), reference)
    scores = scores_with(rm, enc, backend)
    assert torch.allclose(scores, score_encoded(rm, enc), atol=1e-5, rtol=0)
    assert torch.allclose(scores, scores_with(rm, enc, "torch"), atol=1e-5, rtol=0)
    assert reference[Site(3)].std() > 0


def test_backends_agree_on_a_base_lm(tiny_folder):
    lm = load_lm(str(tiny_folder("qwen2")))
    texts = [render_pair(lm.tokenizer, p, a) for p, a in PAIRS[:6]]
    reference = capture(lm, texts, SITES)
    for backend in ("nnsight", "transformer_lens"):
        _close(capture(lm, texts, SITES, backend=backend), reference)


@pytest.mark.parametrize("arch", ARCHS)
def test_readout_activations_invariant_to_batch_size_and_padding_side(rms, arch):
    rm = rms[arch]
    texts = [render_pair(rm.tokenizer, p, a) for p, a in PAIRS[::2]]
    sites = [Site(1), Site(3, "resid_pre"), Site(2, "resid_post", "all"), Site(2, "resid_post", 1)]
    reference = capture(rm, texts, sites, batch_size=1)
    for batch_size in (7, 32):
        for side in ("left", "right"):
            _close(capture(rm, texts, sites, batch_size=batch_size, padding_side=side), reference)


def test_positions_name_real_tokens(rms):
    rm = rms["llama"]
    texts = [render_pair(rm.tokenizer, p, a) for p, a in PAIRS[:5]]
    acts = capture(rm, texts, [Site(1, position="all"), Site(1), Site(1, position=0), Site(1, position=-1)])
    lengths = [len(rm.tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    full = acts[Site(1, position="all")]
    assert full.shape[:2] == (5, max(lengths))
    for row, n in enumerate(lengths):
        assert torch.equal(full[row, n - 1], acts[Site(1)][row])
        assert torch.equal(full[row, 0], acts[Site(1, position=0)][row])
        assert full[row, n:].abs().sum() == 0
    assert torch.equal(acts[Site(1)], acts[Site(1, position=-1)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_capture_stops_after_the_last_layer_needed(rms, backend):
    rm = rms["gemma3"]
    calls: list[str] = []
    later = bridge(rm).blocks[2] if backend == "transformer_lens" else rm.layers[2]
    norm = bridge(rm).ln_final if backend == "transformer_lens" else rm.body.norm
    handles = [
        later.register_forward_hook(lambda *a: calls.append("layer 2")),
        norm.register_forward_hook(lambda *a: calls.append("norm")),
    ]
    try:
        acts = capture(rm, ["hello there", "Love"], [Site(1), Site(2, "resid_pre")], backend=backend)
    finally:
        for h in handles:
            h.remove()
    assert calls == [] and acts[Site(2, "resid_pre")].shape == (2, rm.d_model)
    assert torch.equal(acts[Site(1)], acts[Site(2, "resid_pre")])  # resid_post of L1 is resid_pre of L2


@pytest.mark.parametrize("backend", BACKENDS)
def test_capture_leaves_no_hooks_when_the_forward_pass_fails(tiny_folder, backend):
    rm = rm_from_base(str(tiny_folder("llama")))
    models = [rm.model, bridge(rm)] if backend == "transformer_lens" else [rm.model]
    bad = encode_pairs(rm.tokenizer, PAIRS[:2])
    bad.input_ids[0, 3] = 10**6  # not in the vocabulary: the embedding raises after the hooks are installed
    with pytest.raises(IndexError):
        capture(rm, bad, [Site(0, "resid_pre"), Site(2)], backend=backend)
    for model in models:
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    with pytest.raises(UserError, match="outside row"):
        capture(rm, ["hello there", "What is best? Love and family"], [Site(0), Site(2, position=5)])


def test_layer_out_of_range_names_the_valid_range(rms):
    with pytest.raises(UserError, match=r"Layer 4 of site L4.resid_post.readout is out of range.*0 to 3"):
        capture(rms["llama"], ["hello"], [Site(4)])


def test_unknown_backend_and_bad_inputs_are_user_errors(rms):
    rm = rms["llama"]
    with pytest.raises(UserError, match="Unknown backend 'jax'"):
        capture(rm, ["hello"], [Site(0)], backend="jax")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="not a single string"):
        capture(rm, "hello", [Site(0)])
    with pytest.raises(UserError, match="No inputs"):
        capture(rm, [], [Site(0)])
    with pytest.raises(UserError, match="No sites"):
        capture(rm, ["hello"], [])


def test_unreachable_site_for_transformer_lens_names_site_and_backend(tiny_folder, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, HeliumConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_folder("llama"))
    config = HeliumConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        pad_token_id=4,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    rm = rm_from_base(str(tmp_path))  # an architecture TransformerLens 4.3 has no adapter for
    assert capture(rm, ["hello"], [Site(1)])[Site(1)].shape == (1, 64)
    with pytest.raises(UserError, match=r"Cannot reach site L1.resid_post with backend transformer_lens"):
        capture(rm, ["hello"], [Site(1)], backend="transformer_lens")


def test_scores_need_an_rm(tiny_folder):
    lm = load_lm(str(tiny_folder("llama")))
    with pytest.raises(UserError, match="no scalar score head"):
        scores_with(lm, encode_pairs(lm.tokenizer, PAIRS[:2]))
