"""`rm-interp probe` and `rm-interp persistence`: agency/communion probes per layer, and base → RM persistence.

rm-interp probe --model smollm2-135m-instruct --out OUT/base
rm-interp persistence --base smollm2-135m-instruct --rm artifacts/quick/smollm2-135m-instruct/rm --out OUT
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from interp.lexicon import load_lexicon
from interp.lineage import Lineage
from interp.models import ModelHandle, load_lm, load_rm
from interp.sweep.outputs import choose_prompts
from interp.training.checkpoints import list_checkpoints
from probes.collect import collect
from probes.data import ProbeData
from probes.fit import ProbeConfig, fit_probes
from probes.frames import build_inputs
from probes.persistence import PersistenceConfig, compare, persistence_along
from probes.plots import plot_persistence_heatmap, plot_probe_auc, plot_transfer

console = Console()
Lexicon_ = Annotated[str, typer.Option(help="'default', a registry name, or a lexicon file.")]
Prompts_ = Annotated[str, typer.Option(help="'grid' (the paper's 54) or a prompt file.")]
Limit_ = Annotated[int | None, typer.Option(help="Use only the first N prompts.")]
Store_ = Annotated[Path, typer.Option(help="Activation store root (reused across runs).")]


def _data(
    handle: ModelHandle, lexicon: str, prompts: str, limit: int | None, store: Path, lineage_id: str = ""
) -> ProbeData:
    inputs = build_inputs(handle.tokenizer, load_lexicon(lexicon), "answer", choose_prompts(prompts, limit))
    return collect(handle, inputs, range(handle.n_layers), store, lineage_id=lineage_id)


def probe_command(
    model: Annotated[str, typer.Option(help="Embedded name, folder (an RM checkpoint with --rm) or hub id.")],
    out: Annotated[Path, typer.Option(help="Output folder: probes.csv, directions/, probe_auc.png.")],
    rm: Annotated[bool, typer.Option("--rm", help="Load as a reward model (a saved RM folder).")] = False,
    lexicon: Lexicon_ = "default",
    prompts: Prompts_ = "grid",
    limit_prompts: Limit_ = 6,
    store: Store_ = Path("artifacts/store"),
    n_perm: Annotated[int, typer.Option(help="Word-label shuffles for the null.")] = 50,
) -> None:
    """Fit agency-vs-communion probes at every layer (held-out words, shuffled-label null, bootstrap CIs)."""
    handle = load_rm(model) if rm else load_lm(model)
    result = fit_probes(_data(handle, lexicon, prompts, limit_prompts, store), ProbeConfig(n_perm=n_perm))
    result.save(out)
    plot_probe_auc(result.table.assign(model=model), out / "probe_auc.png", method="logistic", title=model)
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
) -> None:
    """Base vs RM per layer (cosine, transfer, subspaces, CKA, with baselines), and along checkpoints."""
    base_handle = load_lm(base)
    folders = list_checkpoints(rm) if (rm / "metrics.json").exists() or any(rm.glob("checkpoint-*")) else [rm]
    members = [load_rm(str(f)) for f in folders]
    lineage = Lineage(base_handle, members[-1], members[:-1])
    datas = [_data(h, lexicon, prompts, limit_prompts, store, lineage.lineage_id) for h in [base_handle, *members]]
    result = compare(datas[0], datas[-1], PersistenceConfig())
    result.save(out)
    plot_transfer(result.directions, out / "transfer.png", method="logistic")
    lineage.weight_change().to_csv(out / "weight_change.csv")
    if len(datas) > 2:
        named = [
            d
            if i == 0
            else ProbeData(
                d.X,
                d.labels,
                d.groups,
                d.model_fingerprint,
                d.lineage_id,
                folders[i - 1].name,
                d.layers,
                d.point,
                d.position,
                d.inputs_id,
            )
            for i, d in enumerate(datas)
        ]
        along = persistence_along(named)
        along.to_csv(out / "persistence_along.csv", index=False)
        plot_persistence_heatmap(along, out / "persistence_heatmap.png")
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("probe")(probe_command)
    app.command("persistence")(persistence_command)
