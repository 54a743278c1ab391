"""`rm-interp train-rm`: Bradley–Terry training of an RM from a base LM, with checkpoints and resume.

Examples (offline, embedded models):
    rm-interp train-rm --base smollm2-135m-instruct --data neutral --pairs 2000 --out OUT
    rm-interp train-rm --base gemma3-270m --data prefs.jsonl --pairs 5000 --mode lora --lora-r 16 --out OUT
    rm-interp train-rm --base smollm2-135m-instruct --data neutral --pairs 2000 --out OUT --resume

Every setting, the data, the base model and the checkpoint to resume are checked before the first file
is written, so a refused run leaves OUT as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from interp._util.errors import UserError
from interp.commands._options import config_options
from interp.training.config import TrainConfig

console = Console(highlight=False, soft_wrap=True)


@config_options(TrainConfig)
def train_rm_command(
    config: TrainConfig,
    data: Annotated[
        str, typer.Option(help="'neutral' (built-in), a .jsonl/.parquet file, or a hub dataset id")
    ] = "neutral",
    pairs: Annotated[int | None, typer.Option(help="number of pairs (subsampled with --data-seed)")] = 2000,
    data_seed: Annotated[int, typer.Option(help="seed of the neutral generator / subsample")] = 0,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for torch (1 is fastest on a busy machine); default: torch's")
    ] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in --out")] = False,
    require_neutral: Annotated[bool, typer.Option(help="refuse data that fail the neutrality check")] = False,
) -> None:
    """Train a reward model from a base LM with the Bradley–Terry loss; writes OUT/metrics.json."""
    import torch

    from interp.sweep.outputs import check_run_folder
    from interp.training.bradley_terry import check_fresh, train_rm
    from interp.training.checkpoints import check_conformance, list_checkpoints
    from interp.training.neutrality import training_pairs

    for name, value in (("pairs", pairs), ("threads", threads)):
        if value is not None and value < 1:
            raise UserError(f"--{name} must be at least 1, not {value}.")
    out = Path(config.out)
    check_run_folder(out, "train-rm")
    check_fresh(config, list_checkpoints(out), resume)
    if threads is not None:
        torch.set_num_threads(threads)
    preference_pairs, report = training_pairs(
        data, pairs, data_seed, config.base, config.trust_remote_code, require_neutral
    )

    def on_ready(folder: Path) -> None:  # once every check has passed, before training writes anything else
        console.print(report.message())
        report.save(folder)

    m = train_rm(config, preference_pairs, resume=resume, on_ready=on_ready).metrics
    start = m["held_out_accuracy_at_start"]
    console.print(
        f"held-out pairwise accuracy {m['held_out_accuracy']:.3f} on {m['held_out_pairs']} pairs "
        f"(frozen linear head {m['frozen_head_accuracy']:.3f}) "
        f"(at start {'n/a' if start is None else f'{start:.3f}'}); {m['steps']} steps in "
        f"{m['wall_seconds']:.0f} s, peak RSS {m['peak_rss_mb']:.0f} MiB; final checkpoint "
        f"{m['final_checkpoint']}"
    )
    checks = check_conformance(Path(m["final_checkpoint"]), out)
    failed = [c.check for c in checks if not c.passed]
    console.print(
        f"conformance: {len(checks) - len(failed)} of {len(checks)} checks passed"
        + (f"; FAILED: {', '.join(failed)} (see {out / 'conformance.json'})" if failed else "")
    )


def register(app: typer.Typer) -> None:
    """Add the `train-rm` command."""
    app.command("train-rm")(train_rm_command)
