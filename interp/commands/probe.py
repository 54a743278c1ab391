"""`rm-interp probe` and `rm-interp persistence`: agency/communion probes per layer, and base → RM persistence.

rm-interp probe --model smollm2-135m-instruct --out OUT/base
rm-interp persistence --base smollm2-135m-instruct --rm artifacts/quick/smollm2-135m-instruct/rm --out OUT
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from interp._util.errors import UserError
from interp._util.files import check_output_folder, staged_folder
from interp.commands._options import OldRmFlag, refuse_old_rm_flag

if TYPE_CHECKING:
    from interp.lexicons.readers import Lexicon
    from interp.render.prompts import Prompt

console = Console()
Lexicon_ = Annotated[str, typer.Option(help="'default', a registry name, or a lexicon file.")]
Prompts_ = Annotated[str, typer.Option(help="'grid' (the paper's 54) or a prompt file.")]
Limit_ = Annotated[int | None, typer.Option(help="Use only the first N prompts.")]
Store_ = Annotated[Path, typer.Option(help="Activation store root (reused across runs).")]
TrustRemoteCode_ = Annotated[
    bool, typer.Option("--trust-remote-code", help="Run the model repository's own Python code (off by default).")
]


def _inputs(
    out: Path, store: Path, lexicon: str, prompts: str, limit: int | None
) -> tuple[Lexicon, tuple[Prompt, ...]]:
    """Check the output and store folders, then read the lexicon and prompts they name: all before a model loads."""
    from interp.lexicons.readers import load_lexicon
    from interp.sweep.outputs import choose_prompts

    check_output_folder(out)
    check_output_folder(store, "--store")
    return load_lexicon(lexicon), choose_prompts(prompts, limit)


def probe_command(
    model: Annotated[str, typer.Option(help="Embedded name, folder (an RM checkpoint with --as-rm) or hub id.")],
    out: Annotated[Path, typer.Option(help="Output folder: probes.csv, directions/, probe_auc.png.")],
    as_rm: Annotated[bool, typer.Option(help="Load as a reward model (a saved RM folder).")] = False,
    lexicon: Lexicon_ = "default",
    prompts: Prompts_ = "grid",
    limit_prompts: Limit_ = 6,
    store: Store_ = Path("artifacts/store"),
    n_perm: Annotated[int, typer.Option(help="Word-label shuffles for the null (0: no null).")] = 50,
    trust_remote_code: TrustRemoteCode_ = False,
    old_rm: OldRmFlag = False,
) -> None:
    """Fit agency-vs-communion probes at every layer (held-out words, shuffled-label null, bootstrap CIs)."""
    refuse_old_rm_flag(old_rm)
    if n_perm < 0:
        raise UserError(f"--n-perm must be 0 or more, not {n_perm}.")
    lex, chosen = _inputs(out, store, lexicon, prompts, limit_prompts)
    from interp.models import load_lm, load_rm
    from probes.collect import probe_data
    from probes.fit import ProbeConfig, fit_probes
    from probes.plots import plot_probe_auc

    config = ProbeConfig(n_perm=n_perm)
    handle = (load_rm if as_rm else load_lm)(model, trust_remote_code=trust_remote_code)
    result = fit_probes(probe_data(handle, lex, chosen, store, progress=True), config)
    with staged_folder(out) as staged:
        result.save(staged)
        plot_probe_auc(result.table.assign(model=model), staged / "probe_auc.png", method="logistic", title=model)
    best = result.best_layer("logistic")
    row = result.table[(result.table.method == "logistic") & (result.table.layer == best)].iloc[0]
    console.print(
        f"best layer {best}: AUC {row.auc:.3f} [{row.auc_lo:.3f}, {row.auc_hi:.3f}], "
        f"null 95th pct {row.null_auc_q95:.3f}; wrote {out}",
        highlight=False,
    )


def persistence_command(
    base: Annotated[str, typer.Option(help="The base LM (embedded name, folder or hub id).")],
    rm: Annotated[Path, typer.Option(help="A training folder (rm-interp train-rm --out) or one RM folder.")],
    out: Annotated[Path, typer.Option(help="Output folder for tables and figures.")],
    lexicon: Lexicon_ = "default",
    prompts: Prompts_ = "grid",
    limit_prompts: Limit_ = 6,
    store: Store_ = Path("artifacts/store"),
    trust_remote_code: TrustRemoteCode_ = False,
) -> None:
    """Base vs RM per layer (cosine, transfer, subspaces, CKA, with baselines), and along checkpoints."""
    lex, chosen = _inputs(out, store, lexicon, prompts, limit_prompts)
    from interp.models import load_lm
    from interp.training.checkpoints import folders_lineage, rm_folders
    from probes.lineage_persistence import lineage_persistence

    folders = rm_folders(rm)
    base_handle = load_lm(base, trust_remote_code=trust_remote_code)
    lineage = folders_lineage(base_handle, folders, trust_remote_code)  # one lineage, trained from this base
    found = lineage_persistence(lineage, lex, chosen, store)
    with staged_folder(out) as staged:
        found.save(staged)
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `probe` and `persistence` commands."""
    app.command("probe")(probe_command)
    app.command("persistence")(persistence_command)
