"""The ground truth's figure (effect with its paired 95% CI per arm and dose) and its Markdown section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from experiments import ground_truth_mechanism as mech

ARM_LABELS = {"naturalistic": "naturalistic", "naturalistic_matched": "naturalistic, norm-matched", "sham": "sham"}


def arm_rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, row) for every dose of the positive control, then the other arms the result holds."""
    rows = [(f"positive control {r['dose']:g}", r) for r in result["arms"]["positive_control"]]
    return rows + [(label, result["arms"][arm]) for arm, label in ARM_LABELS.items() if arm in result["arms"]]


def figure(result: dict[str, Any], path: Path) -> None:
    """Effect with its paired 95% CI per arm and dose."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = arm_rows(result)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for i, (_, r) in enumerate(rows):
        ax.errorbar(
            i, r["effect"], yerr=[[r["effect"] - r["ci_low"]], [r["ci_high"] - r["effect"]]], fmt="o", capsize=4
        )
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(rows)), [label for label, _ in rows], rotation=20)
    ax.set_ylabel("rank gain of planted words")
    ax.set_title(f"Ground truth ({result['base']}; unit: RM pair, n = {rows[0][1]['n_rms']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(result: dict[str, Any]) -> str:
    """The ground truth as a Markdown section."""
    lines = [
        "## Ground truth: planted preferences the pipeline must find (and a sham it must not)",
        "",
        f"Base {result['base']}; planted words {', '.join(result['planted_words'])}; "
        f"{result['n_candidate_words']} candidate words ranked within (RM, prompt) on "
        f"{len(result['eval_prompts'])} positive paper prompts (held out from the plants' prompts). Effect: "
        f"{result['effect']}. Unit: RM pair (seed); paired t 95% CI, sign-flip permutation p.",
        "",
        "| arm | dose | effect (ranks) | 95% CI | p (t) | p (perm.) | RM pairs | detected | seeds for 80% power |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in arm_rows(result):
        name, dose = (label.rsplit(" ", 1)) if r["dose"] is not None else (label, "")
        lines.append(
            f"| {name} | {dose} | {r['effect']:+.2f} | [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] | {r['p']:.2g} | "
            f"{r['p_permutation']:.2g} | {r['n_rms']} | {r['detected']} | {r['seeds_needed'] or '—'} |"
        )
    acc = np.array(result["rm_held_out_accuracy"])
    lines += [
        "",
        f"RM held-out accuracy: mean {acc.mean():.3f} (min {acc.min():.3f}, {len(acc)} RMs, "
        f"{result['rms'][0]['held_out_pairs']} held-out pairs each); frozen linear head "
        f"{result['frozen_head_accuracy']:.3f}.",
        *mech.report(result["mechanism"]),
    ]
    return "\n".join(lines)
