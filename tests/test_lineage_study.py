"""The lineage study's design: profiles keep fitting and evaluation prompts apart with enough of each, the RM is
the unit (several seeds), and the ablation grid covers the layers it says it covers."""

from __future__ import annotations

import doctest
from collections import Counter

import pytest

from experiments import lineage_study, profiles
from experiments.lineage_study import grid_layers
from experiments.profiles import PROFILES, get_profile


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_evaluates_on_prompts_it_never_fits_on(name):
    profile = get_profile(name)
    fitting = {p.key for p in profile.prompts("probe")}
    evaluation = [p for p in profile.prompts("eval")]
    assert evaluation and not fitting & {p.key for p in evaluation}
    assert set(Counter(p.framing for p in evaluation)) == {"positive", "negative"}
    assert profile.n_seeds >= 2 and {"shuffled_label", "covariance_matched", "isotropic"} <= set(
        dict(profile.null_draws)
    )


def test_the_quick_profile_meets_the_minimum_design():
    quick = get_profile("quick")
    assert len(quick.prompts("eval")) >= 10 and quick.n_seeds >= 3
    assert Counter(p.framing for p in quick.prompts("eval")) == {"positive": 5, "negative": 5}
    assert len(quick.steer_doses) >= 7 and min(quick.steer_doses) > 0  # each used with both signs
    at_best = quick.draws_at(27, best=27)  # the headline claim: at least 20 of each matched null
    assert min(at_best["shuffled_label"], at_best["covariance_matched"]) >= 20 and at_best["placebo"] == 1
    full = get_profile("full")
    assert min(dict(full.null_draws).values()) >= 20 and len(full.prompts("eval")) == 54 - 6


def test_grid_layers_spread_evenly_or_take_every_second_and_always_the_last_and_best():
    assert grid_layers(30, get_profile("quick"), 27) == [0, 10, 19, 27, 29]
    assert grid_layers(18, get_profile("quick"), 5) == [0, 5, 6, 11, 17]
    every_second = grid_layers(18, get_profile("full"), 5)
    assert every_second == [0, 2, 4, 5, 6, 8, 10, 12, 14, 16, 17]


def test_unknown_prompt_sets_are_refused():
    from interp._util.errors import UserError

    with pytest.raises(UserError, match="prompt set"):
        get_profile("quick").prompts("causal")


def test_module_doctests_pass():
    for module in (profiles, lineage_study):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0


def test_with_twin_sets_the_twin_beside_edits_after_the_prompt_and_states_agreement():
    import pandas as pd

    from experiments.lineage_study import with_twin

    keys = {"layer": [3, 3, 3], "edit": ["ablate"] * 3, "dose": [0.0] * 3}
    claims = pd.DataFrame(
        {**keys, "positions": ["answer", "answer", "all"], "framing": ["positive", "negative", "positive"]}
        | {"ci_low": [-2.0, 0.5, -1.0], "ci_high": [-1.0, 0.9, 1.0]}
    )
    twin = pd.DataFrame(
        {"layer": [3, 3], "edit": ["ablate"] * 2, "dose": [0.0] * 2, "framing": ["positive", "negative"]}
        | {"twin_estimate": [-0.3, -0.2], "twin_low": [-0.5, -0.4], "twin_high": [-0.1, -0.1]}
        | {"twin_n_prompts": [5, 5], "twin_n_words": [10, 10]}
    )
    out = with_twin(claims, twin)
    assert out["twin_agreement"].tolist() == ["agree", "disagree", ""]
    assert out["twin_estimate"].isna().tolist() == [False, False, True]  # no twin beside the every-position edit
