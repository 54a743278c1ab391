"""Re-analyse the paper's published reward scores end to end: Figure-1 table, mixed model, tests, CIs.

The score tables are not bundled (no licence): fetch them first, or point at a local copy.

    rm-interp lexicon fetch paper-scores && rm-interp lexicon fetch big2-nouns
    python -m experiments.reanalyse_paper --scores ~/.cache/rm-interp/lexicons/paper-scores \
        --lexicon big2-nouns --out artifacts/reanalyse_paper

Families come from the RM registry by file name unless `--families FILE.csv` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from interp._util.errors import UserError
from interp.plots.behaviour import plot_median_ranks
from interp.stats.analysis import StatsConfig
from interp.stats.run import run_stats
from interp.stats.summary import summary_lines


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the stats pipeline; user errors end in one line and exit status 2."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scores", type=Path, nargs="+", required=True, help="folder or files of score tables")
    parser.add_argument("--lexicon", default="big2-nouns", help="lexicon file or registry name")
    parser.add_argument("--families", default="registry", help="'registry' or a CSV model,family")
    parser.add_argument("--out", type=Path, default=Path("artifacts/reanalyse_paper"))
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--n-perm", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = StatsConfig(n_perm=args.n_perm, n_boot=args.n_boot, seed=args.seed)
    try:
        result = run_stats(args.scores, args.lexicon, args.families, args.out, config=config)
    except UserError as err:
        parser.exit(2, f"error: {err}\n")
    plot_median_ranks(result.bootstrap, result.rm_means, args.out / "fig1_median_ranks.png", result.lexicon_label)
    print("\n".join([*summary_lines(result), f"wrote {args.out}"]))


if __name__ == "__main__":
    main()
