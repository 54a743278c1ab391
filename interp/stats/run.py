"""The `rm-interp stats` pipeline as one function: check, read, analyse, then write every table at once (the figure,
`interp.plots.behaviour.plot_median_ranks`, is the caller's: plots belong to the roof).

`check_options` refuses bad settings before the statistics libraries load (the command calls it first).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interp._util.errors import UserError
from interp._util.files import check_output_folder, staged_folder

if TYPE_CHECKING:
    import pandas as pd

    from interp.stats.analysis import StatsConfig, StatsResult


def _file_hashes(sources: list[Path]) -> dict[str, str]:
    files = [p for s in sources for p in (sorted(s.iterdir()) if s.is_dir() else [s]) if p.is_file()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def check_options(out: Path, n_perm: int, n_boot: int, n_shuffle: int) -> None:
    """Refuse a bad output folder and resampling sizes below 1 (a p-value from no resamples means nothing)."""
    for option, value in (("--n-perm", n_perm), ("--n-boot", n_boot), ("--n-shuffle", n_shuffle)):
        if value < 1:
            raise UserError(f"{option} must be at least 1, not {value}; give a number of resamples such as 1000.")
    check_output_folder(out)


def write_outputs(result: StatsResult, out: Path, config: dict[str, Any]) -> None:
    """Write every table, the mixed-model JSON and the run's config into `out`."""
    from interp._util.runinfo import versions, write_json

    out.mkdir(parents=True, exist_ok=True)

    def csv(frame: pd.DataFrame | None, name: str) -> None:
        if frame is not None:
            frame.to_csv(out / name, index=False)

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
    if result.control is not None:
        (out / "word_shuffle_control.json").write_text(json.dumps(result.control, indent=2))
    full = config | {
        "lexicon": result.lexicon_label,
        "notes": list(result.notes),
        "unranked_words": list(result.ranks.dropped),
        "versions": versions(),
    }
    write_json(out / "config.json", full)


def run_stats(
    scores: list[Path],
    lexicon: str,
    families: str,
    out: Path,
    prompts: Path | None = None,
    config: StatsConfig | None = None,
) -> StatsResult:
    """Check, read and analyse the score tables, then write every output into `out` at once; returns the result."""
    from interp.lexicons.readers import load_lexicon
    from interp.render.prompts import load_prompts, paper_prompts
    from interp.stats.analysis import StatsConfig, analyse
    from interp.stats.paper_tables import assign_families, prompts_with_table_framing, read_scores

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
        write_outputs(result, staged, settings)
    return result
