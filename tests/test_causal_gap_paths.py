"""Where the reward gap forms and patching base → RM, per RM: the attribution sums to the gap, patching a layer
the RM did not train is an exact no-op, and patching the last layer gives back the untrained RM's gap."""

from __future__ import annotations

import copy
import doctest
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from interp.causal import gap_paths
from interp.causal.gap_paths import gap_by_component, gap_patching, per_rm_summary
from interp.causal.study import EvalSet
from interp.models import ModelHandle, load_lm, rm_from_base
from interp.models.tiny import Arch
from interp.render.prompts import paper_prompts
from interp.score import reward_scores

pytestmark = pytest.mark.usefixtures("one_thread")
EVAL = EvalSet(
    tuple(paper_prompts()[::9]),
    {"power": "agency", "success": "agency", "Freedom": "agency", "Love": "communion", "care": "communion"},
)


def _trained_top(rm: ModelHandle, seed: int) -> ModelHandle:
    """A copy of `rm` whose last layer (only) moved away from the base's, as last-1 training would leave it."""
    out = ModelHandle(copy.deepcopy(rm.model), rm.tokenizer, f"{rm.name}-{seed}", "rm")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in out.layers[-1].parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.05)
        out.head.weight.mul_(20.0)  # scores of order 1, so 1e-5 is a strict tolerance
    return out


def _gaps(rm: ModelHandle) -> np.ndarray:
    scores = reward_scores(rm, [(p.text, w) for p in EVAL.prompts for w in EVAL.words]).double().numpy()
    return scores @ EVAL.weights().to_numpy()


def test_module_doctests_pass() -> None:
    assert doctest.testmod(gap_paths).failed == 0


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_attribution_sums_to_each_rms_gap(tiny_folder: Callable[[Arch], Path], arch: Arch) -> None:
    rm = rm_from_base(str(tiny_folder(arch)), seed=0)
    rms = [(f"seed{s}", _trained_top(rm, s)) for s in (1, 2)]
    table = gap_by_component(rms, EVAL)
    for name, handle in rms:
        mine = table[table.rm == name]
        final = mine[mine.order == mine.order.max()].set_index("framing")["cumulative"]
        expected = dict(zip(EVAL.weights().columns, _gaps(handle), strict=True))
        assert max(abs(final[f] - expected[f]) for f in expected) < 1e-5
        assert abs(mine.groupby("framing")["gap"].sum() - final).max() < 1e-9


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_patching_below_the_trained_layer_is_exact_and_the_last_layer_restores_the_base(
    tiny_folder: Callable[[Arch], Path], arch: Arch
) -> None:
    folder = str(tiny_folder(arch))
    untrained = rm_from_base(folder, seed=0)
    trained = _trained_top(untrained, 3)
    head_only = ModelHandle(copy.deepcopy(untrained.model), untrained.tokenizer, "head-only", "rm")
    with torch.no_grad():
        head_only.head.weight.copy_(trained.head.weight)  # the trained RM's head on the base's body
    layers = list(range(trained.n_layers))
    table = gap_patching([("seed3", trained)], load_lm(folder), EVAL, layers).set_index(["layer", "framing"])
    below = table.loc[layers[:-1], "d_reward_gap"]
    assert (below == 0).all()  # bit-exact: the residual there is the base's
    last = table.loc[layers[-1]]
    wanted = _gaps(head_only) - _gaps(trained)  # readout patched at the last layer: the head reads the base's state
    for framing, value in zip(EVAL.weights().columns, wanted, strict=True):
        assert abs(last.loc[framing, "d_reward_gap"] - value) < 1e-5 and abs(value) > 1e-3


def test_per_rm_summary_is_the_mean_with_a_t_interval() -> None:
    import pandas as pd

    t = pd.DataFrame({"rm": list("abcd"), "layer": [1, 1, 2, 2], "d": [1.0, 3.0, -1.0, -1.0]})
    out = per_rm_summary(t, ["layer"], "d").set_index("layer")
    assert out.loc[1, "estimate"] == 2.0 and out.loc[1, "ci_low"] < 2.0 < out.loc[1, "ci_high"]
    assert out.loc[2, "ci_low"] == out.loc[2, "ci_high"] == -1.0 and (out["n_rms"] == 2).all()
