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
    from interp.models import ModelHandle
    from interp.render.prompts import Prompt
    from probes.data import ProbeData

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
    """Check the output and store folders, then read the lexicon and prompts: all before a model loads."""
    from interp.lexicons.readers import load_lexicon
    from interp.sweep.outputs import choose_prompts

    check_output_folder(out)
    check_output_folder(store, "--store")
    return load_lexicon(lexicon), choose_prompts(prompts, limit)


def _data(
    handle: ModelHandle, lexicon: Lexicon, prompts: tuple[Prompt, ...], store: Path, lineage_id: str = ""
) -> ProbeData:
    from probes.collect import collect
    from probes.frames import build_inputs

    inputs = build_inputs(handle.tokenizer, lexicon, "answer", prompts)
    return collect(handle, inputs, range(handle.n_layers), store, lineage_id=lineage_id)


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
    from probes.fit import ProbeConfig, fit_probes
    from probes.plots import plot_probe_auc

    config = ProbeConfig(n_perm=n_perm)
    handle = (load_rm if as_rm else load_lm)(model, trust_remote_code=trust_remote_code)
    result = fit_probes(_data(handle, lex, chosen, store), config)
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


def _rm_folders(rm: Path) -> list[Path]:
    """The RM folders to compare: a training folder's checkpoints (by step), or one RM folder."""
    from interp.training.checkpoints import list_checkpoints

    if not rm.exists():
        raise UserError(f"The RM folder {rm} (--rm) does not exist; give a train-rm output folder or an RM folder.")
    if not rm.is_dir():
        raise UserError(f"{rm} (--rm) is a file; give a train-rm output folder or an RM folder.")
    if (rm / "metrics.json").exists() or any(rm.glob("checkpoint-*")):
        folders = list_checkpoints(rm)
        if not folders:
            raise UserError(
                f"{rm} (--rm) holds no complete checkpoint; finish the run with `rm-interp train-rm --resume`."
            )
        return folders
    return [rm]


def _check_trained_from(base: ModelHandle, folders: list[Path]) -> None:
    """Refuse a checkpoint whose recorded base fingerprint is not this base's (plain RM folders record none)."""
    from interp.training.checkpoints import META, body_fingerprint, check_base, read_meta

    recorded = [f for f in folders if (f / META).is_file()]
    if recorded:
        fingerprint = body_fingerprint(base)
        for folder in recorded:
            check_base(read_meta(folder), fingerprint, base.name, folder)


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
    folders = _rm_folders(rm)
    from interp.models import load_lm, load_rm
    from interp.models.lineage import Lineage
    from probes.data import ProbeData
    from probes.persistence import PersistenceConfig, compare, persistence_along
    from probes.plots import plot_persistence_heatmap, plot_transfer

    base_handle = load_lm(base, trust_remote_code=trust_remote_code)
    members = [load_rm(str(f), trust_remote_code=trust_remote_code) for f in folders]
    lineage = Lineage(base_handle, members[-1], members[:-1])  # same tokenizer and shapes
    _check_trained_from(base_handle, folders)  # and trained from this very base
    datas = [_data(h, lex, chosen, store, lineage.lineage_id) for h in [base_handle, *members]]
    result = compare(datas[0], datas[-1], PersistenceConfig())
    along = None
    if len(datas) > 2:
        named = [datas[0]] + [
            ProbeData(
                d.X,
                d.labels,
                d.groups,
                d.model_fingerprint,
                d.lineage_id,
                folder.name,
                d.layers,
                d.point,
                d.position,
                d.inputs_id,
            )
            for folder, d in zip(folders, datas[1:], strict=True)
        ]
        along = persistence_along(named)
    with staged_folder(out) as staged:
        result.save(staged)
        plot_transfer(result.directions, staged / "transfer.png", method="logistic")
        lineage.weight_change().to_csv(staged / "weight_change.csv")
        if along is not None:
            along.to_csv(staged / "persistence_along.csv", index=False)
            plot_persistence_heatmap(along, staged / "persistence_heatmap.png")
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `probe` and `persistence` commands."""
    app.command("probe")(probe_command)
    app.command("persistence")(persistence_command)
