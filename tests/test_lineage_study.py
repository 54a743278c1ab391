"""The lineage study's design: profiles keep fitting and evaluation prompts apart with enough of each, the RM is
the unit (several seeds), the ablation grid covers the layers it says it covers, the profile reaches the causal
step unchanged, and the pipeline's summary pieces (`interp.pipeline`, `probes.pipeline`) say what they measured."""

from __future__ import annotations

import doctest
from collections import Counter

import pandas as pd
import pytest

from experiments import profiles
from experiments.lineage_study import causal_design, seed_recipe
from experiments.profiles import PROFILES, get_profile
from interp.pipeline import grid_layers, with_twin
from probes.pipeline import effect_records, gap_paths_record


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
    quick, full = get_profile("quick").ablation_layers, get_profile("full").ablation_layers
    assert grid_layers(30, quick, 27) == [0, 10, 19, 27, 29]
    assert grid_layers(18, quick, 5) == [0, 5, 6, 11, 17]
    every_second = grid_layers(18, full, 5)
    assert every_second == [0, 2, 4, 5, 6, 8, 10, 12, 14, 16, 17]


def test_unknown_prompt_sets_are_refused():
    from interp._util.errors import UserError

    with pytest.raises(UserError, match="prompt set"):
        get_profile("quick").prompts("causal")


def test_profiles_doctests_pass():  # the library's run under --doctest-modules; experiments/ is not collected
    result = doctest.testmod(profiles)
    assert result.attempted >= 1 and result.failed == 0


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_profile_reaches_the_seed_rms_and_the_causal_step_unchanged(name):
    profile = get_profile(name)
    recipe = seed_recipe(profile)
    assert recipe.n_seeds == profile.n_seeds and recipe.saved() == {
        k: getattr(profile, k) for k in ("train_pairs", "train_epochs", "train_lr", "batch_size", "k_layers", "seed")
    }
    design = causal_design(profile, 30, 27, {"freedom": "agency", "love": "communion"})
    assert list(design.layers) == grid_layers(30, profile.ablation_layers, 27)
    assert all(design.draws_at(layer) == profile.draws_at(layer, 27) for layer in (0, 27, 29))
    assert design.doses == [-d for d in reversed(profile.steer_doses)] + [0.0, *profile.steer_doses]
    assert design.eval_prompts == profile.prompts("eval") and design.fit_prompts == profile.prompts("probe")


def test_with_twin_sets_the_twin_beside_edits_after_the_prompt_and_states_agreement():
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


def _claim(edit: str, dose: float, **kw: object) -> dict[str, object]:
    nulls = {
        f"{kind}_{part}": value
        for kind in ("shuffled_label", "covariance_matched", "isotropic", "placebo")
        for part, value in (("low", -0.1), ("high", 0.1), ("n", 0 if kind == "isotropic" else 3))
    }
    row = {"layer": 4, "edit": edit, "dose": dose, "positions": "answer", "framing": "positive"} | nulls
    row |= {"estimate": -1.0, "ci_low": -1.5, "ci_high": -0.5, "boot_low": -1.4, "boot_high": -0.6, "gap_before": 2.0}
    row |= {"survives": True, "n_seeds": 3, "n_eval_words": 12, "n_eval_prompts": 5}
    return row | {"twin_estimate": float("nan")} | kw


def test_effect_records_name_each_effect_keep_only_drawn_nulls_and_set_the_twin_beside():
    twin = {"twin_estimate": -0.2, "twin_low": -0.3, "twin_high": -0.1, "twin_n_prompts": 5, "twin_n_words": 12}
    claims = pd.DataFrame([_claim("ablate", 0.0), _claim("steer", -0.5, **twin, twin_agreement="agree")])
    ablate, steer = effect_records(claims)
    assert ablate["effect"] == "ablate@L4 (answer positions, positive prompts)" and ablate["twin"] is None
    assert steer["effect"] == "steer@L4×-0.5sep (answer positions, positive prompts)"
    assert set(ablate["nulls"]) == {"shuffled_label", "covariance_matched", "placebo"}  # isotropic: none drawn
    expected = {"estimate": -0.2, "ci_low": -0.3, "ci_high": -0.1, "n_prompts": 5, "n_words": 12, "agreement": "agree"}
    assert steer["twin"] == expected


def test_gap_paths_record_reads_the_last_frozen_layer_and_the_total():
    rows = [
        ("positive", f"{kind}{layer}", order)
        for order, (layer, kind) in enumerate([(0, "attn"), (0, "mlp"), (1, "attn"), (1, "mlp")])
    ]
    attribution = pd.DataFrame(rows, columns=["framing", "component", "order"]).assign(
        estimate=[0.1, 0.2, 0.3, 0.4], ci_low=0.0, ci_high=1.0, n_rms=3
    )
    patching = pd.DataFrame({"layer": [1], "framing": ["positive"], "estimate": [-0.1]})
    record = gap_paths_record(attribution, patching, first_trained=1)
    assert record["written_by_frozen_layers"]["positive"]["estimate"] == 0.2  # mlp0, the last frozen component
    assert record["total_gap"]["positive"]["estimate"] == 0.4 and record["first_trained_layer"] == 1
    assert record["patching"] == [{"layer": 1, "framing": "positive", "estimate": -0.1}]


def test_without_patching_the_record_report_and_figure_say_so(tmp_path):
    from interp.causal.plots import plot_gap_paths
    from interp.plots.report import gap_paths_section

    attribution = pd.DataFrame(
        {"framing": "positive", "component": ["embed", "attn0", "mlp0", "attn1", "mlp1"], "order": range(5)}
    ).assign(estimate=[0.0, 0.1, 0.3, 0.2, 0.5], ci_low=-1.0, ci_high=1.0, n_rms=3)
    record = gap_paths_record(attribution, None, first_trained=1)
    assert record["patching"] is None and record["written_by_frozen_layers"]["positive"]["estimate"] == 0.3
    text = "\n".join(gap_paths_section("llama/", record))
    assert "not part of this profile" in text and "Δ gap, base residual patched in" not in text
    figure = plot_gap_paths(attribution, None, tmp_path / "gap_paths.png")
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
