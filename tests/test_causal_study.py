"""The held-out causal study: disjoint word and prompt sets, the reward-gap weights, directions and their nulls,
claims with CIs over RMs beside every null's band, the two-way bootstrap, and the report's verdicts."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import torch

from interp._util.errors import UserError
from interp.causal import claims as claims_module
from interp.causal import heldout
from interp.causal.claims import claim, fit_directions, two_way_interval
from interp.causal.heldout import disjoint_prompts, split_words
from interp.causal.study import EvalSet, ablation_edits, claims_table, measure, steering_edits, value_gaps
from interp.lexicons.readers import default_lexicon
from interp.models import rm_from_base
from interp.plots.report import claims_rows
from interp.render.prompts import paper_prompts
from interp.training.trainable import prepare, trainable_state

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = {f"a{i}": "agency" for i in range(12)} | {f"c{i}": "communion" for i in range(11)}


def test_split_is_balanced_disjoint_and_independent_of_order():
    fitting, held = split_words(WORDS, per_category=4, seed=3)
    assert sorted(held.values()) == ["agency"] * 4 + ["communion"] * 4
    assert not set(fitting) & set(held) and set(fitting) | set(held) == set(WORDS)
    shuffled = dict(reversed(list(WORDS.items())))
    assert split_words(shuffled, 4, seed=3)[1].keys() == held.keys()
    assert split_words(WORDS, 4, seed=4)[1].keys() != held.keys()  # the seed picks other words


def test_split_of_the_default_lexicon_keeps_most_words_for_fitting():
    from experiments.lineage_study import word_categories

    words = word_categories(default_lexicon())
    fitting, held = split_words(words, per_category=8)
    assert len(held) == 16 and len(fitting) == len(words) - 16


def test_split_and_prompts_refuse_what_cannot_be_disjoint():
    with pytest.raises(UserError, match="too few"):
        split_words(WORDS, per_category=10)
    with pytest.raises(UserError, match="at least one"):
        split_words(WORDS, per_category=0)
    grid = paper_prompts()
    with pytest.raises(UserError, match="best_ever_one"):
        disjoint_prompts(grid[:2], grid[:1])


def test_gap_weights_give_the_mean_over_prompts_of_value_gaps():
    rng = np.random.default_rng(0)
    prompts = [p for p in paper_prompts() if p.key in ("best_ever_one", "good_time_one", "worst_ever_one")]
    eval_set = EvalSet(tuple(prompts), {"a0": "agency", "a1": "agency", "a2": "agency", "c0": "communion"})
    rows = eval_set.rows.assign(score=rng.normal(size=len(eval_set.rows)))
    gaps = value_gaps(rows.assign(model="m"), eval_set.words)
    want = gaps.groupby("framing")["reward_gap"].mean()
    got = pd.Series(rows["score"].to_numpy() @ eval_set.weights().to_numpy(), index=eval_set.weights().columns)
    np.testing.assert_allclose(got[want.index], want, atol=1e-12)


def test_fit_directions_gives_the_unit_difference_of_means_and_every_null():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=g)
    labels = [1] * 20 + [0] * 20
    x[:20] += torch.tensor([3.0, 0, 0, 0, 0, 0])
    groups = [f"w{i % 10}" if i < 20 else f"v{i % 10}" for i in range(40)]
    placebo = (torch.randn(5, 6, generator=g) + 1.0, torch.randn(5, 6, generator=g))
    found = fit_directions(
        4, x, labels, groups, placebo, {"shuffled_label": 5, "covariance_matched": 7, "isotropic": 3}
    )
    diff = x[:20].mean(0) - x[20:].mean(0)
    assert found.separation == pytest.approx(float(diff.norm()), rel=1e-6)
    assert torch.allclose(found.direction, diff / diff.norm(), atol=1e-6)
    vectors, labels_out = found.vectors()
    assert vectors.shape == (1 + 5 + 7 + 3 + 1, 6) and labels_out[0] == ("direction", 0)
    assert [k for k, _ in labels_out].count("placebo") == 1
    assert torch.allclose(vectors.norm(dim=1), torch.ones(len(vectors)), atol=1e-5)
    shuffled = found.nulls["shuffled_label"]
    assert (shuffled @ found.direction).abs().mean() < 0.9  # label shuffles lose the planted axis


def test_claim_survives_only_outside_every_band():
    real = [-2.0, -2.2, -1.9, -2.1]
    far = {"isotropic": [0.1, -0.2, 0.0], "placebo": [0.05]}
    assert claim(real, far)["survives"]
    near = far | {"shuffled_label": [-2.5, -1.5, -2.0, -1.8]}
    result = claim(real, near)
    assert not result["survives"] and result["nulls"]["isotropic"]["outside"]
    assert not result["nulls"]["shuffled_label"]["outside"]
    assert result["ci_low"] < np.mean(real) < result["ci_high"] and result["n_seeds"] == 4
    assert not claim(real, {})["survives"]  # a claim with no null does not survive by default


def test_two_way_bootstrap_resamples_words_and_prompts():
    prompts = np.repeat(["p0", "p1", "p2"], 4)
    words = np.tile(["a0", "a1", "c0", "c1"], 3)
    categories = np.tile(["agency", "agency", "communion", "communion"], 3)
    constant = np.where(categories == "agency", 1.0, 0.0)
    assert two_way_interval(constant, prompts, words, categories, n_boot=200) == (1.0, 1.0)
    by_prompt = constant * np.repeat([0.0, 1.0, 2.0], 4)
    low, high = two_way_interval(by_prompt, prompts, words, categories, n_boot=500)
    assert low < 1.0 < high and high - low > 0.5  # prompts vary, so the interval is wide


def test_report_rows_state_the_verdict_and_every_null():
    effect = {
        "effect": "ablate@L3",
        "estimate": -2.0,
        "ci_low": -2.5,
        "ci_high": -1.5,
        "boot_low": -2.2,
        "boot_high": -1.8,
        "survives": False,
        "nulls": {
            "shuffled_label": {"band_low": -1.0, "band_high": 1.0},
            "covariance_matched": {"band_low": -3.0, "band_high": 0.0},
            "isotropic": {"band_low": -0.1, "band_high": 0.1},
            "placebo": {"band_low": -0.2, "band_high": 0.2},
        },
    }
    row = claims_rows([effect])[0]
    assert row["verdict"] == "does not survive (inside: covariance_matched)"
    assert row["95% CI (RMs)"] == "[-2.5, -1.5]" and row["isotropic"] == "[-0.1, +0.1]"
    assert claims_rows([effect | {"nulls": {}}])[0]["verdict"] == "no null (reported beside)"


def test_study_on_a_tiny_family_measures_every_edit_and_names_every_null(tiny_folder):
    rm = rm_from_base(str(tiny_folder("llama")), seed=0)
    prepared = prepare(rm, "last-k", 1)
    state = trainable_state(prepared)
    weights = {
        f"seed{s}": {
            k: v + 0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(s)) for k, v in state.items()
        }
        for s in range(3)
    }
    from interp.causal.grid import AnswerGrid

    prompts = tuple(p for p in paper_prompts() if p.key in ("best_world_single", "worst_world_single"))
    eval_set = EvalSet(prompts, {"power": "agency", "wealth": "agency", "love": "communion", "care": "communion"})
    grid = AnswerGrid(rm, prepared, weights, rm.n_layers - 1, [p.text for p in prompts], list(eval_set.words), [1])
    g = torch.Generator().manual_seed(1)
    x = torch.randn(30, rm.d_model, generator=g)
    found = fit_directions(
        1,
        x,
        [1] * 15 + [0] * 15,
        [str(i) for i in range(30)],
        (x[:5], x[5:10]),
        {"shuffled_label": 4, "covariance_matched": 4, "isotropic": 2},
    )
    ablated = measure(grid, eval_set, ablation_edits({1: found}, positions_all=[1]))
    table = claims_table(ablated, eval_set, n_boot=200)
    assert set(table["positions"]) == {"answer", "all"} and set(table["framing"]) == {"positive", "negative"}
    answer = table[table.positions == "answer"].iloc[0]
    assert answer["n_seeds"] == 3 and answer["n_eval_words"] == 4 and answer["n_eval_prompts"] == 1
    assert (answer["shuffled_label_n"], answer["covariance_matched_n"], answer["placebo_n"]) == (12, 12, 3)
    assert answer["ci_low"] <= answer["estimate"] <= answer["ci_high"]
    per_rm = ablated.changes.query("kind == 'direction' and positions == 'answer' and framing == @answer.framing")
    assert answer["estimate"] == pytest.approx(per_rm["d_reward_gap"].mean())
    everywhere = table[table.positions == "all"].iloc[0]
    assert everywhere["shuffled_label_n"] == 0 and not everywhere["survives"]
    steered = claims_table(measure(grid, eval_set, steering_edits(found, [-1.0, 0.0, 1.0], {"isotropic": 2})), eval_set)
    zero = steered[steered.dose == 0.0]
    assert np.abs(zero["estimate"]).max() < 1e-4 and (zero["isotropic_n"] == 6).all()
    ends = steered[steered.dose != 0.0]
    assert np.abs(ends["estimate"]).min() > 1e-3  # a dose of one separation moves the gap


def test_module_doctests_pass():
    for module in (claims_module, heldout):
        assert doctest.testmod(module).failed == 0
