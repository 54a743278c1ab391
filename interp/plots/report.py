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

from interp._util.files import atomic_write

LATER_FIGURES = {
    "ablation": "Ablation effect at every grid layer with the band of every null kind at each layer",
    "steering": "Steering dose-response in units of the agency − communion separation, with null bands",
    "durability": "Durability along training checkpoints",
    "persistence_heatmap": "Layer × checkpoint cosine with the base direction",
}
NULLS = ("shuffled_label", "covariance_matched", "isotropic", "placebo")


def _fmt(x: Any) -> str:
    return f"{x:+.4f}" if isinstance(x, float) else str(x)


def _table(rows: list[dict[str, Any]]) -> str:
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4g") if rows else "_(none)_"


def _img(run: Path, path: str, caption: str) -> str:
    rel = Path(path).resolve().relative_to(run.resolve())
    return f"![{caption}]({rel.as_posix()})\n\n*{caption}*\n"


def _interval(low: Any, high: Any) -> str:
    return "—" if low is None or pd.isna(low) else f"[{low:+.3g}, {high:+.3g}]"


def _verdict(effect: Mapping[str, Any]) -> str:
    if not effect["nulls"]:
        return "no null (reported beside)"
    if effect["survives"]:
        return "survives"
    failed = [k for k in NULLS if k in effect["nulls"] and not _outside(effect, effect["nulls"][k])]
    return "does not survive (inside: " + ", ".join(failed) + ")"


def _outside(effect: Mapping[str, Any], band: Mapping[str, Any]) -> bool:
    return bool(effect["ci_high"] < band["band_low"] or effect["ci_low"] > band["band_high"])


def _twin(twin: Mapping[str, Any] | None) -> str:
    if not twin:
        return "—"
    agreement = f"; sign: {twin['agreement']}" if twin["agreement"] else ""
    return f"{twin['estimate']:+.3g} {_interval(twin['ci_low'], twin['ci_high'])}{agreement}"


def claims_rows(effects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table row per claim: estimate, its CI over RMs, the words × prompts interval, each null's band, verdict."""
    return [
        {
            "effect": e["effect"],
            "estimate": f"{e['estimate']:+.3g}",
            "95% CI (RMs)": _interval(e["ci_low"], e["ci_high"]),
            "words×prompts 95%": _interval(e["boot_low"], e["boot_high"]),
            **{
                k: _interval(e["nulls"][k]["band_low"], e["nulls"][k]["band_high"]) if k in e["nulls"] else "—"
                for k in NULLS
            },
            "verdict": _verdict(e),
            "base-LM twin (95%)": _twin(e.get("twin")),
        }
        for e in effects
    ]


def causal_section(run: Path, folder: str, c: Mapping[str, Any], figures: Mapping[str, str]) -> list[str]:
    """The causal claims of one lineage, each with unit, test, interval, nulls and verdict."""
    ablation = [e for e in c["ablation"] if e["positions"] == "answer"]
    survived = [e["effect"] for e in ablation if e["survives"]]
    from interp.pipeline.causal_step import shown_doses

    shown = shown_doses(e["dose"] for e in c["steering"])
    steering = [e for e in c["steering"] if e["dose"] in shown]
    return [
        "### Causal claims on held-out data\n",
        f"Directions, their nulls and the best layer were fitted on {c['n_fitting_words']} fitting words × the "
        f"probe prompts ({', '.join(c['fitting_prompts'])}); every effect is measured on {c['n_eval_words']} "
        f"held-out words × {c['n_eval_prompts']} evaluation prompts ({', '.join(c['eval_prompts'])}; each "
        "effect uses those of its framing) for "
        f"{c['n_seeds']} seed RMs. Unit: {c['unit']}. Measure: {c['measure']}. Test: {c['test']}. Nulls: "
        f"{c['null_band']}; draws per layer: "
        + ", ".join(f"{k} {n}" for k, n in c["null_draws"].items())
        + " (at the best layer: "
        + ", ".join(f"{k} {n}" for k, n in c["null_draws_best_layer"].items())
        + ")"
        + f" (each band over {c['n_seeds']} RMs × draws). Edits act on the answer and readout positions: every token "
        "after the prompt (the answer, the end-of-turn marker, the readout token), the prompt unedited; the "
        "every-position edit is reported beside, without nulls. Source: `" + folder + "ablation_claims.csv`, "
        "per RM and draw `" + folder + "ablation_changes.csv`. The base-LM twin (`" + folder + "twin.csv`): the same "
        "direction edited in the base LM at the last prompt token, where it reads its answer; measure: change of the "
        "implicit reward gap (mean log-prob of agency − communion answers), unit: prompt, 95 % bootstrap over "
        "prompts; sign: agree or disagree when both intervals exclude 0, else inconclusive.\n",
        "**Ablation of the base's agency − communion direction**\n",
        _table(claims_rows(c["ablation"])) + "\n",
        f"Verdict: {len(survived)} of {len(ablation)} ablation effects at the answer and readout positions lie outside "
        "every null's band" + (f" ({', '.join(survived)})" if survived else "") + ".\n",
        f"**Steering** ({c['steering_unit']}; doses ±1 and the largest shown, all in `{folder}steering_claims.csv`)\n",
        _table(claims_rows(steering)) + "\n",
        *(_img(run, figures[key], caption) for key, caption in LATER_FIGURES.items() if key in figures),
    ]


def gap_paths_section(folder: str, g: Mapping[str, Any]) -> list[str]:
    """Where the reward gap forms (direct attribution) and what patching the base's residual into the RM does."""
    built = [
        {
            "framing": framing,
            "total gap": f"{total['estimate']:+.3g} {_interval(total['ci_low'], total['ci_high'])}",
            f"written directly by layers < {g['first_trained_layer']} (frozen)": f"{frozen['estimate']:+.3g} "
            + _interval(frozen["ci_low"], frozen["ci_high"]),
        }
        for framing, total in g["total_gap"].items()
        for frozen in [g["written_by_frozen_layers"][framing]]
    ]
    patched = [
        {
            "layer": r["layer"],
            "framing": r["framing"],
            "unpatched gap": f"{r['gap']:+.3g}",
            "Δ gap, base residual patched in": f"{r['estimate']:+.3g} {_interval(r['ci_low'], r['ci_high'])}",
        }
        for r in g["patching"] or []
    ]
    return [
        "### Where the gap forms, and patching base → RM\n",
        f"Unit: {g['unit']}; test: {g['test']}; held-out words × evaluation prompts. Direct attribution splits each "
        "RM's reward gap into what each attention block and MLP writes along the score head, through the final "
        "norm (the parts sum to the gap; `" + folder + "attribution.csv`). The frozen layers are the base's, bit "
        "for bit, but the head that reads them was trained. Patching replaces one trained layer's output at the "
        "readout token with the base LM's on the same input (`" + folder + "patching.csv`); below the first "
        "trained layer the RM's residual is the base's, so patching there changes nothing (not run)."
        + ("" if patched else " Patching is not part of this profile (the full profile runs it).")
        + "\n",
        _table(built) + "\n",
        *([_table(patched) + "\n"] if patched else []),
    ]


def _head_null(seeds: Mapping[str, Any]) -> str:
    verdict = (
        "every seed outside it"
        if seeds["outside"]
        else "not every seed outside it (the heads do not read agency − communion more than a random word split)"
    )
    return (
        "per seed RM " + ", ".join(f"{c:+.3f}" for c in seeds["per_head"]) + f"; label-shuffled null (the same words' "
        f"unembedding contrast with their categories shuffled, {seeds['null_n']} (RM, shuffle) cosines): 95 % band "
        f"{_interval(seeds['null_low'], seeds['null_high'])}, {verdict}."
    )


def lineage_section(run: Path, name: str, s: Mapping[str, Any]) -> str:
    """The report section of one lineage."""
    folder = f"{name}/"
    t = s["training"]
    out = [
        f"## Lineage `{s['base']}` ({s['family']} family)\n",
        f"Files: `{folder}` (fingerprints: base `{s['fingerprints']['base']}`, RM seed 0 "
        f"`{s['fingerprints']['rm']}`).\n",
        f"### Training ({len(t['seeds'])} seed RMs on identical built-in neutral preference pairs)\n",
        _table(t["seeds"]) + f"\n\nTop {t['k_layers']} layers and head, {t['epochs']} epoch(s) on {t['train_pairs']} "
        f"pairs from one cached pass of the frozen layers. Source: `{folder}rm/metrics.json`. Largest per-layer "
        f"relative weight change of seed 0 ‖ΔW‖/‖W‖ = {s['max_weight_change']:.4f} (`{folder}weight_change.csv`).\n",
        "### Behaviour: reward gap of seed 0 (mean reward of agency − communion answers)\n",
        "Unit: prompt; interval: 95 % bootstrap over prompts. Source: `" + folder + "scores.csv`.\n",
        _table([{"framing": k, **v} for k, v in s["behaviour_gap"].items()]) + "\n",
        "### Probes and persistence (fitting words only)\n",
        f"Layers where a difference-of-means probe decodes agency vs communion above the 95th percentile of "
        f"its word-shuffled null (unit: word, grouped 5-fold CV): {s['decodable_layers']}. Best base layer: "
        f"{s['best_probe_layer']}. Source: `{folder}probes.csv`.\n",
        "At that layer, base vs RM (`" + folder + "persistence/`). Last-k training leaves the layers below the "
        "trained ones untouched, so there the RM's residuals equal the base's and cos = 1 by construction; read "
        "the trained layers and the transfer numbers.\n",
        _table([s["persistence_best_layer"]]) + "\n",
        f"The RM's score head reads the base's unembedding agency−communion contrast with cosine "
        f"{_fmt(s['head_reads_unembedding']['post_norm'])} (seed 0, after the final norm); "
        + _head_null(s["head_reads_unembedding"]["seeds"])
        + "\n",
        _img(run, s["figures"]["probe_auc"], "Probe AUC by layer, base vs RM; hatched: shuffled-label null"),
        _img(run, s["figures"]["transfer"], "Own and transferred probe AUC (base→RM, RM→base)"),
        *causal_section(run, folder, s["causal"], s["figures"]),
        *gap_paths_section(folder, s["gap_paths"]),
        _img(
            run,
            s["figures"]["gap_paths"],
            "Cumulative direct attribution of the gap (and patching base → RM where it ran)",
        ),
    ]
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
        "with seed RMs trained here for one short epoch on built-in value-neutral pairs — not the paper's 8B–27B "
        "RMs. Causal claims within a lineage have the RM (seed) as their unit; the Figure 1 family comparison uses "
        "seed 0 of each family with the prompt as its unit, so it says nothing about families of RMs.\n",
    ]
    body = [lineage_section(run, name, s) for name, s in summary["lineages"].items()]
    return atomic_write(run / "report.md", "\n".join([*head, *lead, *body, *extra_sections]) + "\n")


def load_summary(run: Path) -> dict[str, Any]:
    return dict(json.loads((run / "summary.json").read_text()))
