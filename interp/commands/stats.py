"""`rm-interp stats`: reward scores → Figure-1 table, mixed model, family tests, CIs, controls, figure.

`run_stats` is the same pipeline as a function (used by experiments/reanalyse_paper.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from interp._util.errors import UserError
from interp._util.files import check_output_folder, staged_folder

if TYPE_CHECKING:
    import pandas as pd

    from interp.stats.analysis import StatsConfig, StatsResult

console = Console(markup=False, highlight=False, soft_wrap=True)


def _file_hashes(sources: list[Path]) -> dict[str, str]:
    files = [p for s in sources for p in (sorted(s.iterdir()) if s.is_dir() else [s]) if p.is_file()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def check_options(out: Path, n_perm: int, n_boot: int, n_shuffle: int) -> None:
    """Refuse a bad output folder and resampling sizes below 1 (a p-value from no resamples means nothing)."""
    for option, value in (("--n-perm", n_perm), ("--n-boot", n_boot), ("--n-shuffle", n_shuffle)):
        if value < 1:
            raise UserError(f"{option} must be at least 1, not {value}; give a number of resamples such as 1000.")
    check_output_folder(out)


def write_outputs(result: StatsResult, out: Path, config: dict[str, Any]) -> list[Path]:
    """Write every table, the mixed-model JSON, the figure and the run's config into `out`."""
    from interp._util.runinfo import versions, write_json
    from interp.plots.behaviour import plot_median_ranks

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def csv(frame: pd.DataFrame | None, name: str) -> None:
        if frame is not None:
            frame.to_csv(out / name, index=False)
            written.append(out / name)

    csv(result.fig1, "fig1_table.csv")
    csv(result.ranks.medians, "median_ranks.csv")
    csv(result.panels, "panel_tests.csv")
    csv(result.rm_means, "rm_means.csv")
    csv(result.rm_tests, "rm_tests.csv")
    csv(result.bootstrap, "bootstrap_cis.csv")
    model = result.mixed.to_dict() | {"lexicon": result.lexicon_label}
    if result.frequency is not None:
        csv(result.frequency.matching, "frequency_matching.csv")
        csv(result.frequency.fig1_matched, "fig1_table_frequency_matched.csv")
        csv(result.frequency.zipf.rename_axis("word").reset_index(), "word_frequencies.csv")
        model["frequency_adjusted"] = result.frequency.mixed_adjusted.to_dict() | {
            "adjustment": "scores residualised on wordfreq Zipf frequency within each (model, prompt)"
        }
    (out / "mixed_model.json").write_text(json.dumps(model, indent=2, default=float))
    written.append(out / "mixed_model.json")
    if result.control is not None:
        (out / "word_shuffle_control.json").write_text(json.dumps(result.control, indent=2))
        written.append(out / "word_shuffle_control.json")
    written.append(
        plot_median_ranks(result.bootstrap, result.rm_means, out / "fig1_median_ranks.png", result.lexicon_label)
    )
    full = config | {
        "lexicon": result.lexicon_label,
        "notes": list(result.notes),
        "unranked_words": list(result.ranks.dropped),
        "versions": versions(),
    }
    written.append(write_json(out / "config.json", full))
    return written


def print_summary(result: StatsResult) -> None:
    """Print the Figure-1 table, the interaction test and the RM-level and control results."""
    console.print(f"lexicon: {result.lexicon_label}")
    wide = result.fig1.pivot_table(index=["framing", "category"], columns="family", values="mean_median_rank")
    console.print("mean of median ranks (unit: RM × prompt; 1 = highest reward):")
    console.print(wide.sort_index(ascending=[False, True]).to_string(float_format="%.2f"))
    inter = result.mixed.interaction
    coef = f"coef={inter['coef']:.2f}, se={inter['se']:.2f}, " if inter["coef"] is not None else ""
    console.print(
        f"{inter['name']} interaction: {coef}{inter['test']}, p={inter['p']:.2e} "
        f"[{result.mixed.method}; {result.mixed.n_obs} obs, {result.mixed.n_groups} RMs]",
    )
    three = result.bootstrap[result.bootstrap["quantity"] == "three_way"]
    for row in three.itertuples():
        console.print(
            f"three-way contrast {row.family}, {row.category}: {row.estimate:.2f} "
            f"[95% CI {row.ci_low:.2f}, {row.ci_high:.2f}] (bootstrap over RMs and prompts)",
        )
    if result.rm_tests is not None:
        rows = result.rm_tests[result.rm_tests["framing"].str.contains(" − ")]
        for row in rows.itertuples():
            console.print(
                f"RM as unit ({row.n_a} vs {row.n_b} RMs), {row.framing} × {row.category}: "
                f"Welch p={row.p_welch:.3g}, exact permutation p={row.p_exact_permutation:.3g}",
            )
    if result.control is not None:
        c = result.control
        console.print(
            f"word-shuffle control: observed {c['observed']:.2f} vs null mean {c['null_mean']:.2f} "
            f"(95th pct {c['null_q95']:.2f}), p={c['p']:.3g} over {c['n_shuffle']} shuffles",
        )
    if result.frequency is not None:
        fi = result.frequency.mixed_adjusted.interaction
        console.print(
            f"frequency-adjusted interaction: p={fi['p']:.2e}"
            + (f", coef={fi['coef']:.2f}" if fi["coef"] is not None else "")
        )
    for note in result.notes:
        console.print(f"note: {note}")


def run_stats(
    scores: list[Path],
    lexicon: str,
    families: str,
    out: Path,
    prompts: Path | None = None,
    config: StatsConfig | None = None,
) -> StatsResult:
    """Check, read, analyse, write (all files at once, at the end) and print; returns the result."""
    from interp.lexicons.readers import load_lexicon
    from interp.render.prompts import load_prompts, paper_prompts
    from interp.stats.analysis import StatsConfig, analyse
    from interp.stats.paper_tables import assign_families, prompts_with_table_framing, read_scores

    start = time.perf_counter()
    config = config or StatsConfig()
    check_options(out, config.n_perm, config.n_boot, config.n_shuffle)
    chosen_lexicon = load_lexicon(lexicon)
    prompt_set = load_prompts(prompts) if prompts else paper_prompts()
    table = read_scores(scores, prompt_set)
    prompt_set = prompts_with_table_framing(table, prompt_set)
    result = analyse(table, chosen_lexicon, prompt_set, assign_families(families, table["model"].unique()), config)
    settings = {
        "scores": [str(s) for s in scores],
        "lexicon_arg": lexicon,
        "families": families,
        "prompts": str(prompts) if prompts else "paper grid (54)",
        **config.__dict__,
        "input_sha256": _file_hashes(scores),
    }
    with staged_folder(out) as staged:
        written = write_outputs(result, staged, settings)
    print_summary(result)
    console.print(f"wrote {len(written)} files to {out} in {time.perf_counter() - start:.1f} s")
    return result


def register(app: typer.Typer) -> None:
    """Add the `stats` command."""

    @app.command()
    def stats(
        scores: Annotated[list[Path], typer.Option(help="score folder(s) or file(s): paper tables or tidy long")],
        out: Annotated[Path, typer.Option(help="output folder")],
        lexicon: Annotated[str, typer.Option(help="lexicon file, registry name, or 'default'")] = "default",
        families: Annotated[str, typer.Option(help="'registry' or a CSV with columns model,family")] = "registry",
        prompts: Annotated[Path | None, typer.Option(help="prompt file (default: the paper's 54 prompts)")] = None,
        n_perm: Annotated[int, typer.Option(help="permutations per panel test")] = 10_000,
        n_boot: Annotated[int, typer.Option(help="bootstrap replicates")] = 2000,
        n_shuffle: Annotated[int, typer.Option(help="word-shuffle control replicates")] = 1000,
        seed: Annotated[int, typer.Option(help="seed of every resampling")] = 0,
        frequency: Annotated[bool, typer.Option(help="word-frequency covariate and matched comparison")] = True,
    ) -> None:
        """Rank statistics of reward scores: the paper's Figure 1 table, mixed model, tests and CIs."""
        check_options(out, n_perm, n_boot, n_shuffle)  # before the statistics libraries load
        from interp.stats.analysis import StatsConfig

        config = StatsConfig(n_perm=n_perm, n_boot=n_boot, n_shuffle=n_shuffle, seed=seed, frequency=frequency)
        run_stats(scores, lexicon, families, out, prompts, config)
