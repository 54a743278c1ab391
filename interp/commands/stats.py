"""`rm-interp stats`: reward scores → Figure-1 table, mixed model, family tests, CIs, controls, figure.

The pipeline is `interp.stats.run.run_stats`; this command parses the options and prints the summary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(markup=False, highlight=False, soft_wrap=True)


def stats_command(
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
    from interp.stats.run import check_options

    start = time.perf_counter()
    check_options(out, n_perm, n_boot, n_shuffle)  # before the statistics libraries load
    from interp.plots.behaviour import plot_median_ranks
    from interp.stats.analysis import StatsConfig
    from interp.stats.run import run_stats
    from interp.stats.summary import summary_lines

    config = StatsConfig(n_perm=n_perm, n_boot=n_boot, n_shuffle=n_shuffle, seed=seed, frequency=frequency)
    result = run_stats(scores, lexicon, families, out, prompts, config)
    plot_median_ranks(result.bootstrap, result.rm_means, out / "fig1_median_ranks.png", result.lexicon_label)
    for line in summary_lines(result):
        console.print(line)
    console.print(
        f"wrote the tables, mixed_model.json and fig1_median_ranks.png to {out} in {time.perf_counter() - start:.1f} s"
    )


def register(app: typer.Typer) -> None:
    """Add the `stats` command."""
    app.command("stats")(stats_command)
