"""Backend agreement on the embedded real models (slow: ~1 min each on two CPU cores)."""

from __future__ import annotations

import pytest
import torch

from interp.hooks import Site, capture, scores_with
from interp.models import rm_from_base
from interp.render import encode_pairs
from interp.score import score_encoded
from tests.conftest import EMBEDDED_NAMES

PAIRS = [
    ("What, in one word, is the best thing ever?", a)
    for a in ("Love", "Freedom", "a happy family and many good friends", "power")
]


def _sites(n_layers: int) -> list[Site]:
    return [Site(0, "resid_pre"), Site(n_layers // 2), Site(n_layers - 1), Site(n_layers - 1, position="all")]


@pytest.mark.slow
@pytest.mark.parametrize("name", EMBEDDED_NAMES)
def test_backends_agree_exactly_on_embedded_rms_with_eager_attention(name):
    rm = rm_from_base(name, seed=0)
    rm.model.set_attn_implementation("eager")  # TransformerLens computes attention eagerly
    for side in ("right", "left"):
        enc = encode_pairs(rm.tokenizer, PAIRS, padding_side=side)
        reference, scores = capture(rm, enc, _sites(rm.n_layers)), score_encoded(rm, enc)
        for backend in ("nnsight", "transformer_lens"):
            got = capture(rm, enc, _sites(rm.n_layers), backend=backend)
            for site, acts in reference.items():
                assert torch.allclose(got[site], acts, atol=1e-5, rtol=0), (backend, side, site)
            assert torch.allclose(scores_with(rm, enc, backend), scores, atol=1e-5, rtol=0), (backend, side)


@pytest.mark.slow
def test_transformer_lens_matches_sdpa_up_to_kernel_rounding():
    """With HF's SDPA kernel the deepest SmolLM2 residuals (norm ~800) differ from TL's eager attention by
    ~1e-3 absolute, i.e. ~1e-6 relative, for right and left padding alike; scores agree within 1e-5."""
    rm = rm_from_base("smollm2-135m-instruct", seed=0)
    assert rm.model.config._attn_implementation == "sdpa"
    for side in ("right", "left"):
        enc = encode_pairs(rm.tokenizer, PAIRS, padding_side=side)
        sites = _sites(rm.n_layers)[:3]
        reference = capture(rm, enc, sites)
        got = capture(rm, enc, sites, backend="transformer_lens")
        for site in sites:
            relative = (got[site] - reference[site]).norm(dim=-1) / reference[site].norm(dim=-1)
            assert relative.max() < 1e-5, (side, site, relative.max())
        assert torch.allclose(scores_with(rm, enc, "transformer_lens"), score_encoded(rm, enc), atol=1e-5, rtol=0)
