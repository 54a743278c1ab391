"""The answer grid scores exactly what hooks on a full forward score: edits at the answer and readout positions
(prefix cached unedited) or at every position, at shared and at trained layers, for several seed RMs at once."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

from interp._util.errors import UserError
from interp.causal import grid as grid_module
from interp.causal import span as span_module
from interp.causal.ablation import ablate
from interp.causal.grid import AnswerGrid
from interp.causal.steering import steer
from interp.hooks.site import Site
from interp.models import rm_from_base
from interp.score import reward_scores
from interp.sweep.prefix import PrefixCache, score_tails
from interp.sweep.splice import splicer
from interp.training.trainable import load_trainable, prepare, trainable_state

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPTS = ["What, in one word, is the best thing ever?", "What is the greatest thing in the world?"]
WORDS = ["love", "freedom", "success", "kindness", "power", "family"]
K = 1


def _family(folder, n_rms=2):
    """An RM handle with `n_rms` weight sets that differ in the top K layers and the head."""
    rm = rm_from_base(str(folder), seed=0)
    prepared = prepare(rm, "last-k", K)
    weights = {}
    for seed in range(n_rms):
        g = torch.Generator().manual_seed(seed)
        weights[f"seed{seed}"] = {
            name: p.detach().clone() + 0.2 * torch.randn(p.shape, generator=g)
            for name, p in trainable_state(prepared).items()
        }
    return rm, prepared, weights


def _hooked(rm, prepared, weights, layer, kind, vector, positions):
    """Reference scores: hooks on the ordinary forward (prefix cached unedited for `answer`)."""
    out = []
    for name, w in weights.items():
        load_trainable(prepared, w, name)
        site = Site(layer, "resid_post", "all")

        def edit(site: Site = site) -> object:
            return ablate(rm, vector, site) if kind == "ablate" else steer(rm, vector, 1.0, site)

        row = []
        for prompt in PROMPTS:
            if positions == "all":
                with edit():
                    row.append(reward_scores(rm, [(prompt, w) for w in WORDS]))
            else:
                prefix, tails = splicer(rm.tokenizer).split(prompt, WORDS)
                cache = PrefixCache(rm, [prefix])
                with edit():
                    row.append(score_tails(rm, cache, [0] * len(tails), tails))
        out.append(torch.cat(row).numpy())
    return np.stack(out)


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
@pytest.mark.parametrize("positions", ["answer", "all"])
def test_grid_equals_hooks_on_a_full_forward(tiny_folder, arch, positions):
    rm, prepared, weights = _family(tiny_folder(arch))
    start = rm.n_layers - K
    grid = AnswerGrid(rm, prepared, weights, start, PROMPTS, WORDS, layers=[0, start - 1, rm.n_layers - 1])
    plain = []
    for name, w in weights.items():
        load_trainable(prepared, w, name)
        plain.append(reward_scores(rm, [(p, w) for p in PROMPTS for w in WORDS]).numpy())
    np.testing.assert_allclose(grid.unedited(), np.stack(plain), atol=1e-4)
    assert np.abs(plain[0] - plain[1]).max() > 1e-2  # the RMs really differ
    vectors = torch.randn(3, rm.d_model, generator=torch.Generator().manual_seed(7))
    for layer in grid.layers:
        for kind in ("ablate", "steer"):
            got = grid.scores(layer, kind, vectors, positions)
            assert got.shape == (2, 3, len(PROMPTS) * len(WORDS))
            for j in (0, 2):
                want = _hooked(rm, prepared, weights, layer, kind, vectors[j], positions)
                np.testing.assert_allclose(got[:, j], want, atol=1e-4, err_msg=f"{layer} {kind} {positions}")
            assert np.abs(got[:, 0] - grid.unedited()).max() > 1e-4  # the edit changed something


def test_residuals_equal_the_readout_states_of_a_full_forward(tiny_folder):
    rm, prepared, weights = _family(tiny_folder("llama"))
    grid = AnswerGrid(rm, prepared, weights, rm.n_layers - K, PROMPTS, WORDS)
    got = grid.residuals("seed1")
    load_trainable(prepared, weights["seed1"], "seed1")
    ids = splicer(rm.tokenizer).rows(PROMPTS[1], WORDS)[2]
    with torch.no_grad():
        hidden = rm.body(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    want = torch.stack([h[0, -1] for h in hidden[1:-1]])  # raw block outputs; the last entry is after the norm
    np.testing.assert_allclose(got[len(WORDS) + 2, :-1].numpy(), want.numpy(), atol=1e-4)


def test_grid_refuses_layers_it_was_not_built_for(tiny_folder):
    rm, prepared, weights = _family(tiny_folder("llama"), n_rms=1)
    grid = AnswerGrid(rm, prepared, weights, rm.n_layers - K, PROMPTS[:1], WORDS[:2], layers=[0])
    with pytest.raises(UserError, match="not in this grid"):
        grid.scores(1, "ablate", torch.ones(rm.d_model))
    with pytest.raises(UserError, match="positions"):
        grid.scores(0, "ablate", torch.ones(rm.d_model), "prefix")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="within"):
        AnswerGrid(rm, prepared, weights, rm.n_layers - K, PROMPTS, WORDS, layers=[rm.n_layers])


def test_module_doctests_pass():
    for module in (grid_module, span_module):
        result = doctest.testmod(module)
        assert result.failed == 0


def test_blocks_of_groups_score_as_one_block(tiny_folder, monkeypatch):
    rm, prepared, weights = _family(tiny_folder("llama"))
    grid = AnswerGrid(rm, prepared, weights, rm.n_layers - K, PROMPTS, WORDS, layers=[1])
    vectors = torch.randn(4, rm.d_model, generator=torch.Generator().manual_seed(3))
    whole = grid.scores(1, "ablate", vectors)
    monkeypatch.setattr(grid_module, "BLOCK_ROWS", 1)  # one group per block: every RM loaded per group
    assert len(list(grid._blocks(len(vectors)))) == len(grid.groups) > 2
    np.testing.assert_allclose(grid.scores(1, "ablate", vectors), whole, atol=1e-6)
