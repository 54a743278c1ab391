"""Rank statistics on fixtures with a planted family × category × framing effect and on a null version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from interp.lexicons.readers import load_lexicon
from interp.render.prompts import paper_prompts
from interp.stats import frequency, tests
from interp.stats.analysis import StatsConfig, analyse
from interp.stats.mixed import fit_mixed
from interp.stats.paper_tables import assign_families, read_scores
from interp.stats.run import run_stats
from tests.refusal import run_cli

FIX = Path(__file__).parent / "fixtures" / "stats"
PROMPTS = paper_prompts()
FAST = StatsConfig(n_perm=500, n_boot=300, n_shuffle=200, frequency=False)


def _run(folder: str, families: str) -> tuple:
    scores = read_scores([FIX / folder], PROMPTS)
    fams = assign_families(families, scores["model"].unique())
    return analyse(scores, load_lexicon(FIX / "lexicon.csv"), PROMPTS, fams, FAST), scores


def test_planted_effect_is_detected() -> None:
    result, _ = _run("planted", "registry")
    fig1 = result.fig1.set_index(["framing", "category", "family"])["mean_median_rank"]
    assert fig1["positive", "agency", "llama"] < fig1["positive", "agency", "gemma"]
    assert fig1["negative", "agency", "llama"] > fig1["negative", "agency", "gemma"]
    assert result.mixed.interaction["p"] < 1e-3 and result.mixed.interaction["coef"] > 0
    assert (result.panels["p_welch_bonferroni"] < 0.01).all()
    assert (result.panels["p_permutation_bonferroni"] < 0.05).all()
    three = result.bootstrap.query("quantity == 'three_way'").iloc[0]
    assert three["ci_low"] > 0
    assert result.control is not None and result.control["p"] < 0.05
    rm_three = result.rm_tests[result.rm_tests["framing"] == "positive − negative"].iloc[0]
    assert rm_three["n_a"] == 3 and rm_three["p_welch"] < 0.01
    assert rm_three["p_exact_permutation"] == pytest.approx(0.1)  # 2 of 20 relabelings: the floor for 3 vs 3


def test_null_fixture_shows_no_effect() -> None:
    result, _ = _run("null", str(FIX / "null_families.csv"))
    assert result.mixed.interaction["p"] > 0.05
    three = result.bootstrap.query("quantity == 'three_way'").iloc[0]
    assert three["ci_low"] < 0 < three["ci_high"]
    assert result.control is not None and result.control["p"] > 0.05


def test_ten_categories() -> None:
    lex = load_lexicon(Path(__file__).parent / "fixtures" / "lexicon" / "ten.dic")
    words = [w for ws in lex.categories.values() for w in ws]
    rng = np.random.default_rng(0)
    rows = [(f"rm{m}", p.key, w, rng.normal()) for m in range(4) for p in PROMPTS for w in words]
    scores = pd.DataFrame(rows, columns=["model", "prompt", "word", "score"])
    fams = {"rm0": "a", "rm1": "a", "rm2": "b", "rm3": "b"}
    result = analyse(scores, lex, PROMPTS, fams, FAST)
    assert len(result.fig1) == 10 * 2 * 2
    inter = result.mixed.interaction
    assert inter["df"] == 9 and inter["coef"] is None and len(inter["terms"]) == 9
    assert inter["p"] == pytest.approx(stats.chi2.sf(inter["chi2"], 9))  # the joint Wald test of 9 coefficients
    assert inter["p"] > 0.05  # random scores: no interaction
    assert (result.bootstrap["quantity"] == "three_way").sum() == 9


def test_single_rm_per_family_falls_back_to_ols() -> None:
    scores = read_scores([FIX / "null" / "rm_a1.csv", FIX / "null" / "rm_b1.csv"], PROMPTS)
    result = analyse(scores, load_lexicon(FIX / "lexicon.csv"), PROMPTS, {"rm_a1": "x", "rm_b1": "y"}, FAST)
    assert result.mixed.method.startswith("OLS")
    assert np.isnan(result.rm_tests["p_welch"]).all()


def test_mixed_model_recovers_a_known_coefficient() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for m, fam in enumerate("aabbb"):
        u = rng.normal(0, 2)
        for p in range(30):
            for cat in ("c1", "c2"):
                for fr in ("neg", "pos"):
                    effect = 5.0 * (fam == "b") * (cat == "c2") * (fr == "pos")
                    rows.append((f"m{m}", fam, f"p{p}", cat, fr, 50 + u + effect + rng.normal(0, 1)))
    med = pd.DataFrame(rows, columns=["model", "family", "prompt", "category", "framing", "median_rank"])
    inter = fit_mixed(med).interaction
    assert inter["coef"] == pytest.approx(5.0, abs=4 * inter["se"])
    assert inter["p"] < 1e-6


def test_permutation_and_effect_size_helpers() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 40), rng.normal(1, 1, 40)
    assert tests.permutation_p(a, b, 2000, rng) < 0.01
    assert tests.permutation_p(a, a + 1e-9, 500, rng) > 0.5
    assert tests.cohens_d(np.array([0.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(np.sqrt(2))
    assert tests.exact_permutation_p(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == pytest.approx(2 / 6)


def test_frequency_residualising_and_matching() -> None:
    common, rare = ["time", "people", "world", "work"], ["zephyr", "quince", "marmot", "lichen"]
    zipf = frequency.zipf_frequencies(common + rare)
    assert zipf[common].min() > zipf[rare].max()
    scores = pd.DataFrame({"model": "m", "prompt": "p", "word": common + rare})
    scores["score"] = 2.0 * scores["word"].map(zipf) + np.linspace(-0.1, 0.1, 8)
    adjusted = frequency.residualise_on_frequency(scores, zipf)
    assert abs(np.corrcoef(adjusted["score"], scores["word"].map(zipf))[0, 1]) < 1e-6
    mixed = pd.DataFrame({"word": [*common[:3], "fox", *rare[:3], "dog"], "category": ["a"] * 4 + ["b"] * 4})
    zipf = frequency.zipf_frequencies(mixed["word"])
    matched, report = frequency.frequency_match(mixed, zipf, bin_width=1.0)
    gap = report.set_index("category").loc["max gap"]
    assert gap["mean_zipf_after"] < gap["mean_zipf_before"]
    assert matched["category"].value_counts().nunique() == 1


def test_run_stats_writes_outputs(tmp_path: Path) -> None:
    config = StatsConfig(n_perm=200, n_boot=100, n_shuffle=50, frequency=True)
    result = run_stats([FIX / "planted"], str(FIX / "lexicon.csv"), "registry", tmp_path, config=config)
    fig1 = pd.read_csv(tmp_path / "fig1_table.csv")
    assert list(fig1.columns) == ["framing", "category", "family", "mean_median_rank"]
    assert set(fig1["family"]) == {"gemma", "llama"} and set(fig1["category"]) == {"agency", "communion"}
    for name, frame in [
        ("fig1_table.csv", result.fig1),
        ("panel_tests.csv", result.panels),
        ("rm_tests.csv", result.rm_tests),
        ("bootstrap_cis.csv", result.bootstrap),
    ]:
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name), frame, check_dtype=False, rtol=1e-12)
    model = json.loads((tmp_path / "mixed_model.json").read_text())
    assert (model["coef"], model["se"], model["p"]) == (
        result.mixed.interaction["coef"],
        result.mixed.interaction["se"],
        result.mixed.interaction["p"],
    )
    adjusted = model["frequency_adjusted"]  # the planted interaction survives the word-frequency covariate
    assert adjusted["coef"] > 10 and adjusted["p"] < 1e-3 and adjusted["coef"] != model["coef"]
    assert json.loads((tmp_path / "config.json").read_text())["n_boot"] == 100
    assert not (tmp_path / "fig1_median_ranks.png").exists()  # the figure is the caller's (plots are the roof)


def test_stats_command_prints_the_summary_and_draws_the_figure(tmp_path: Path) -> None:
    sizes = ["--n-perm", "50", "--n-boot", "30", "--n-shuffle", "10", "--no-frequency"]
    run = run_cli(
        "stats", "--scores", str(FIX / "planted"), "--lexicon", str(FIX / "lexicon.csv"), "--out", str(tmp_path), *sizes
    )
    assert run.exit_code == 0 and run.traceback is None, run.output
    assert "three-way contrast" in run.output and f"to {tmp_path}" in run.output
    assert (tmp_path / "fig1_median_ranks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(tmp_path / "fig1_table.csv")["family"].nunique() == 2


def test_default_lexicon_label_reaches_outputs(tmp_path: Path) -> None:
    lex = load_lexicon("default")
    words = [w for ws in lex.categories.values() for w in ws]
    rng = np.random.default_rng(0)
    rows = [(m, p.key, w, rng.normal()) for m in ("rm_a1", "rm_b1") for p in PROMPTS for w in words]
    pd.DataFrame(rows, columns=["model", "prompt", "word", "score"]).to_csv(tmp_path / "s.csv", index=False)
    config = StatsConfig(n_perm=100, n_boot=50, n_shuffle=20, frequency=False)
    run_stats([tmp_path / "s.csv"], "default", str(FIX / "null_families.csv"), tmp_path / "out", config=config)
    assert "not the Big Two" in json.loads((tmp_path / "out" / "mixed_model.json").read_text())["lexicon"]
