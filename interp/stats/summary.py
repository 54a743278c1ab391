"""A `StatsResult` in a few lines of text: the Figure-1 table, the interaction test, RM-level and control tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interp.stats.analysis import StatsResult


def summary_lines(result: StatsResult) -> list[str]:
    """The lines `rm-interp stats` prints: lexicon, Figure-1 table, interaction, contrasts, controls and notes."""
    lines = [f"lexicon: {result.lexicon_label}"]
    wide = result.fig1.pivot_table(index=["framing", "category"], columns="family", values="mean_median_rank")
    lines.append("mean of median ranks (unit: RM × prompt; 1 = highest reward):")
    lines.append(wide.sort_index(ascending=[False, True]).to_string(float_format="%.2f"))
    inter = result.mixed.interaction
    coef = f"coef={inter['coef']:.2f}, se={inter['se']:.2f}, " if inter["coef"] is not None else ""
    lines.append(
        f"{inter['name']} interaction: {coef}{inter['test']}, p={inter['p']:.2e} "
        f"[{result.mixed.method}; {result.mixed.n_obs} obs, {result.mixed.n_groups} RMs]"
    )
    three = result.bootstrap[result.bootstrap["quantity"] == "three_way"]
    lines += [
        f"three-way contrast {row.family}, {row.category}: {row.estimate:.2f} "
        f"[95% CI {row.ci_low:.2f}, {row.ci_high:.2f}] (bootstrap over RMs and prompts)"
        for row in three.itertuples()
    ]
    if result.rm_tests is not None:
        rows = result.rm_tests[result.rm_tests["framing"].str.contains(" − ")]
        lines += [
            f"RM as unit ({row.n_a} vs {row.n_b} RMs), {row.framing} × {row.category}: "
            f"Welch p={row.p_welch:.3g}, exact permutation p={row.p_exact_permutation:.3g}"
            for row in rows.itertuples()
        ]
    if result.control is not None:
        c = result.control
        lines.append(
            f"word-shuffle control: observed {c['observed']:.2f} vs null mean {c['null_mean']:.2f} "
            f"(95th pct {c['null_q95']:.2f}), p={c['p']:.3g} over {c['n_shuffle']} shuffles"
        )
    if result.frequency is not None:
        fi = result.frequency.mixed_adjusted.interaction
        lines.append(
            f"frequency-adjusted interaction: p={fi['p']:.2e}"
            + (f", coef={fi['coef']:.2f}" if fi["coef"] is not None else "")
        )
    return lines + [f"note: {note}" for note in result.notes]
