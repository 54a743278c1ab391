"""The run report: a markdown file that quotes the summary's numbers and embeds every figure.

Every number in the report is read from `summary.json` or a CSV under the run folder, and the text names
the file it came from, so each claim is traceable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from interp.files import atomic_write

LATER_FIGURES = {
    "ablation": "Ablation effect by layer with the random-direction band",
    "steering": "Steering dose-response with the random-direction band",
    "durability": "Durability along training checkpoints",
    "persistence_heatmap": "Layer × checkpoint cosine with the base direction",
}


def _fmt(x: Any) -> str:
    return f"{x:+.4f}" if isinstance(x, float) else str(x)


def _table(rows: list[dict[str, Any]]) -> str:
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4g") if rows else "_(none)_"


def _img(run: Path, path: str, caption: str) -> str:
    rel = Path(path).resolve().relative_to(run.resolve())
    return f"![{caption}]({rel.as_posix()})\n\n*{caption}*\n"


def _verdict(effect: Mapping[str, Any]) -> str:
    values = [effect.get(k) for k in ("d_reward_gap_lo", "d_reward_gap_hi", "null_lo", "null_hi")]
    if any(v is None or pd.isna(v) for v in values):
        return "no random band at this layer"
    lo, hi, null_lo, null_hi = (float(v) for v in values)  # type: ignore[arg-type]
    if hi < null_lo or lo > null_hi:
        return "outside the random-direction band (CI does not overlap it)"
    return "NOT distinguishable from random directions"


def lineage_section(run: Path, name: str, s: Mapping[str, Any]) -> str:
    """The report section of one lineage."""
    folder = f"{name}/"
    out = [
        f"## Lineage `{s['base']}` ({s['family']} family)\n",
        f"Files: `{folder}` (fingerprints: base `{s['fingerprints']['base']}`, RM `{s['fingerprints']['rm']}`).\n",
        "### Training (identical built-in neutral preference pairs)\n",
        _table([s["training"]]) + f"\n\nSource: `{folder}rm/metrics.json`. Largest per-layer relative weight "
        f"change ‖ΔW‖/‖W‖ = {s['max_weight_change']:.4f} (`{folder}weight_change.csv`).\n",
        "### Behaviour: reward gap (mean reward of agency − communion answers)\n",
        "Unit: prompt; interval: 95 % bootstrap over prompts. Source: `" + folder + "scores.csv`.\n",
        _table([{"framing": k, **v} for k, v in s["behaviour_gap"].items()]) + "\n",
        "### Probes and persistence\n",
        f"Layers where a difference-of-means probe decodes agency vs communion above the 95th percentile of "
        f"its word-shuffled null (unit: word, grouped 5-fold CV): {s['decodable_layers']}. Best base layer: "
        f"{s['best_probe_layer']}. Source: `{folder}probes.csv`.\n",
        "At that layer, base vs RM (`" + folder + "persistence/`). Last-k training leaves the layers below the "
        "trained ones untouched, so there the RM's residuals equal the base's and cos = 1 by construction; read "
        "the trained layers and the transfer numbers.\n",
        _table([s["persistence_best_layer"]]) + "\n",
        f"The RM's score head reads the base's unembedding agency−communion contrast with cosine "
        f"{_fmt(s['head_reads_unembedding']['post_norm'])} (after the final norm).\n",
        _img(run, s["figures"]["probe_auc"], "Probe AUC by layer, base vs RM; hatched: shuffled-label null"),
        _img(run, s["figures"]["transfer"], "Own and transferred probe AUC (base→RM, RM→base)"),
        "### Ablation of the base direction in the RM\n",
        "Δ reward gap when the base's direction is projected out (unit: prompt, 95 % bootstrap CI) against "
        "the central 95 % of the same statistic for random unit directions (`" + folder + "ablation_effects.csv`).\n",
    ]
    for where, rows in s["ablation_base_direction"].items():
        out.append(f"**{where.replace('_', ' ')}**\n\n" + _table([{**r, "verdict": _verdict(r)} for r in rows]) + "\n")
    out += [_img(run, s["figures"][key], caption) for key, caption in LATER_FIGURES.items() if key in s["figures"]]
    return "\n".join(out)


def write_report(run: Path, summary: Mapping[str, Any], extra_sections: list[str], lead: Sequence[str] = ()) -> Path:
    """Write `run/report.md` (atomically): the `lead` sections, one section per lineage of the summary, then the
    extra sections (all already formatted)."""
    head = [
        f"# rm-interp report — run `{run.name}`\n",
        f"Profile `{summary['profile']['name']}`; wall time {summary['wall_seconds']:.0f} s; peak RSS "
        f"{summary['peak_rss_mb']:.0f} MB. Configuration, versions and seeds: `config.json`; every number: "
        "`summary.json` and the CSVs named beside it.\n",
        "**Scope.** Two small embedded models (SmolLM2-135M-Instruct, Llama architecture; Gemma-3-270M base), "
        "with RMs trained here for a few steps on built-in value-neutral pairs — not the paper's 8B–27B RMs. "
        "With one RM per family, family comparisons have the prompt as their unit and cannot generalise to RMs.\n",
    ]
    body = [lineage_section(run, name, s) for name, s in summary["lineages"].items()]
    return atomic_write(run / "report.md", "\n".join([*head, *lead, *body, *extra_sections]) + "\n")


def load_summary(run: Path) -> dict[str, Any]:
    return dict(json.loads((run / "summary.json").read_text()))
