"""The main job (`make demo`): the whole study on the embedded models, written to artifacts/<run>/report.md.

The ground truth (`experiments.ground_truth` on the first base, sized by the profile): preferences planted into
the base, seed-paired RMs from the planted and the unplanted base, and a sham that must come out null; its
section opens the report. It runs in a child process on one core beside the lineages (`--jobs 1`: first, in
this process). Seed RMs are trained from both bases on identical built-in neutral
pairs; for each lineage (`experiments.lineage_study`): value-bias sweep, probes and persistence on fitting words,
unembedding reading, and the causal study on held-out words × evaluation prompts with the RM as the unit —
ablation at each grid layer beside label-shuffled, covariance-matched, isotropic and placebo nulls, steering in
units of the class-mean separation — and (full profile) durability along checkpoints. Across lineages: the rank
statistics (unit: prompt, seed 0 per family) and the implicit reward (MWLR) between the two bases. summary.json
holds per lineage and effect the estimate, its CIs, each null by name, n_seeds, n_eval_words and n_eval_prompts.

    python -m experiments.run_all --quick        # 2 CPU cores, < 25 min (the default profile)
    python -m experiments.run_all --full         # all 54 prompts, more data, more seeds

Reruns reuse the trained RMs and every finished table under the run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers.utils import logging as hf_logging

from experiments import ground_truth
from experiments.lineage_study import study
from experiments.profiles import PROFILES, Profile, get_profile
from interp._util.errors import UserError
from interp._util.files import read_json
from interp._util.runinfo import peak_rss_mb, versions
from interp.lexicons.readers import default_lexicon
from interp.models import load_lm, resolve
from interp.models.embedded import EMBEDDED
from interp.pipeline import word_categories
from interp.plots.mwlr import plot_mwlr
from interp.plots.report import write_report
from interp.stats.analysis import StatsConfig, analyse
from interp.sweep.implicit import mwlr, mwlr_summary
from interp.sweep.logprobs import answer_logprobs

WHERE_NOT_WHAT = {"out", "threads"}  # ground-truth arguments that do not change its result
ROOT = Path(__file__).resolve().parents[1]
_CHILDREN: list[subprocess.Popen[bytes]] = []


class ChildFailed(RuntimeError):
    """A step run in a child process failed; its log says why."""


def _check_inputs(profile: Profile, run: Path) -> None:
    """Fail at once, before any long work, on an unknown model or an unwritable run folder."""
    for name, _family in profile.bases:
        if name not in EMBEDDED:
            resolve(name)
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = run / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise UserError(f"Cannot write to the output folder {run} ({err.strerror}); choose a writable --out.") from err


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _behaviour_stats(run: Path, profile: Profile, lineages: dict[str, dict[str, Any]]) -> str:
    """Rank statistics across the lineages' RMs (families from the profile); unit: prompt."""
    frames = [pd.read_csv(run / name / "scores.csv") for name in lineages]
    scores = pd.concat(frames, ignore_index=True)
    families = {f"{s['base']}-rm": s["family"] for s in lineages.values()}
    result = analyse(
        scores,
        default_lexicon(),
        profile.prompts(),
        families,
        StatsConfig(n_perm=2000, n_boot=1000, n_shuffle=200, seed=profile.seed),
    )
    result.fig1.to_csv(run / "fig1_table.csv", index=False)
    (run / "mixed_model.json").write_text(json.dumps(result.mixed.to_dict(), indent=2, default=str))
    if result.panels is not None:
        result.panels.to_csv(run / "panel_tests.csv", index=False)
    lines = [
        "## Value bias across the two RMs (the paper's Figure 1 statistic)\n",
        f"Lexicon: {result.lexicon_label}. Median rank of each category's words within (RM, prompt); "
        "1 = highest reward. Source: `fig1_table.csv`.\n",
        result.fig1.to_markdown(index=False),
        "\n",
    ]
    if result.panels is not None:
        lines += [
            "Per panel, family vs family (unit: prompt; Welch t and permutation tests, Bonferroni over "
            "panels; `panel_tests.csv`):\n",
            result.panels.to_markdown(index=False, floatfmt=".4g"),
            "\n",
        ]
    lines += [f"Notes: {'; '.join(result.notes) or 'none'}.\n"]
    return "\n".join(lines)


def _implicit_reward(run: Path, profile: Profile) -> str:
    """MWLR between the two bases: q = the Llama-family base, p = the Gemma-family base; unit: prompt."""
    words = list(word_categories(default_lexicon()))
    prompts = profile.prompts()
    by_family = {family: name for name, family in profile.bases}
    p_name, q_name = by_family["gemma"], by_family["llama"]
    tables = {}
    for name in (p_name, q_name):
        table, _unmatched = answer_logprobs(load_lm(name), prompts, words, progress=False)
        tables[name] = table[table["wrapper"] == table["wrapper"].iloc[0]]
    summary = mwlr_summary(mwlr(tables[p_name], tables[q_name]))
    summary.to_csv(run / "mwlr.csv", index=False)
    plot_mwlr(summary, run / "mwlr.png", p_name=p_name, q_name=q_name)
    top, bottom = summary.head(5), summary.tail(5)
    return "\n".join(
        [
            "## Implicit reward between the two bases (the paper's Figure 3)\n",
            f"MWLR = ½(p+q)(log q − log p), q = {q_name} (Llama family), p = {p_name} (Gemma family; a base "
            f"model gets the raw prompt, no wrapper); positive = preferred by {q_name}. "
            "Unit: prompt (mean ± SE over prompts). Source: `mwlr.csv`.\n",
            "Top: " + ", ".join(f"{w} ({m:+.2e})" for w, m in zip(top.word, top.mean_mwlr, strict=True)) + "\n",
            "Bottom: "
            + ", ".join(f"{w} ({m:+.2e})" for w, m in zip(bottom.word, bottom.mean_mwlr, strict=True))
            + "\n",
            "![MWLR top and bottom words](mwlr.png)\n",
        ]
    )


def _ground_truth(run_dir: Path, profile: Profile, background: bool) -> Callable[[], tuple[dict[str, Any], str]]:
    """Planted preferences and seed-paired RMs on the first base (`experiments.ground_truth`). A finished result
    whose configuration matches this run's is reused; else it runs here, or (`background`) in a child process with
    one thread while the caller goes on, its log in `ground_truth.log`. Returns a function that waits for it and
    gives (result, report section)."""
    folder = run_dir / "ground_truth"
    argv = ["--base", profile.bases[0][0], "--out", str(folder.resolve()), "--seed", str(profile.seed)]
    argv += [*profile.ground_truth, "--threads", "1"]
    args = ground_truth.parse(argv)
    wanted = {k: str(v) for k, v in vars(args).items() if k not in WHERE_NOT_WHAT}

    def finished() -> dict[str, Any] | None:
        saved = folder / "ground_truth.json"
        if not (saved.exists() and (folder / "ground_truth.png").exists()):
            return None
        result = read_json(saved, "delete the ground_truth folder to rerun it", ("config", "arms"))
        return result if {k: result["config"].get(k) for k in wanted} == wanted else None

    def section(result: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return result, ground_truth.report(result) + "\n![Ground truth](ground_truth/ground_truth.png)\n"

    done = finished()
    if done is not None or not background:
        result = done or ground_truth.run(args)
        return lambda: section(result)
    log_path = run_dir / "ground_truth.log"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with log_path.open("w") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "experiments.ground_truth", *argv],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    _CHILDREN.append(child)

    def wait() -> tuple[dict[str, Any], str]:
        code = child.wait()
        result = finished()
        if code != 0 or result is None:
            tail = log_path.read_text().strip().splitlines()[-1:] or ["(empty log)"]
            raise ChildFailed(f"The ground truth failed (exit {code}): {tail[0]} Its log: {log_path}.")
        return section(result)

    return wait


def run(profile: Profile, run_dir: Path, jobs: int = 2) -> dict[str, Any]:
    started = time.perf_counter()
    _check_inputs(profile, run_dir)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.manual_seed(profile.seed)
    config = {
        "profile": profile.to_dict(),
        "versions": versions(),
        "argv": sys.argv,
        "threads": torch.get_num_threads(),
        "lexicon": default_lexicon().label,
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, default=str))
    where = "beside the lineages, in a child process (log: ground_truth.log)" if jobs > 1 else "first"
    _log(f"ground truth: planted preferences, seed-paired RMs; runs {where} unless already done")
    truth_done = _ground_truth(run_dir, profile, background=jobs > 1)
    torch.manual_seed(profile.seed)  # the lineages see the same RNG whether the ground truth ran or was reused
    lineages: dict[str, dict[str, Any]] = {}
    for name, family in profile.bases:
        slug = Path(name).name
        _log(f"lineage {slug}")
        lineages[slug] = study(name, family, profile, run_dir / slug, _log)
    _log("waiting for the ground truth")
    truth, truth_section = truth_done()
    sections = [_behaviour_stats(run_dir, profile, lineages), _implicit_reward(run_dir, profile)]
    summary = {
        "profile": profile.to_dict(),
        "ground_truth": {
            "arms": truth["arms"],
            "rm_held_out_accuracy": truth["rm_held_out_accuracy"],
            "frozen_head_accuracy": truth["frozen_head_accuracy"],
        },
        "lineages": lineages,
        "wall_seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    write_report(run_dir, summary, sections, lead=[truth_section])
    _log(f"report: {run_dir / 'report.md'} ({summary['wall_seconds']:.0f} s, peak RSS {summary['peak_rss_mb']:.0f} MB)")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_const", const="quick", dest="profile")
    group.add_argument("--full", action="store_const", const="full", dest="profile")
    group.add_argument("--profile", dest="profile", help=f"one of: {', '.join(PROFILES)}")
    parser.add_argument("--out", type=Path, default=Path("artifacts"), help="folder holding the run folders")
    parser.add_argument("--run", default=None, help="run folder name (default: the profile name)")
    parser.add_argument("--bases", default=None, help="override bases as NAME:FAMILY,NAME:FAMILY")
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="processes (default 2: the ground truth runs beside the lineages, each on one core; 1: one after another)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a 2-core machine doing anything else, 2 OpenMP threads stall)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    try:
        profile = get_profile(args.profile or "quick")
        if args.bases:
            pairs = [tuple(item.rsplit(":", 1)) for item in args.bases.split(",")]
            if any(len(p) != 2 for p in pairs):
                raise UserError(
                    "--bases takes NAME:FAMILY pairs separated by commas, e.g. smollm2-135m-instruct:llama."
                )
            profile = Profile(**{**profile.to_dict(), "bases": tuple(pairs)})
        if args.jobs < 1:
            raise UserError(f"--jobs must be at least 1, not {args.jobs}.")
        run(profile, args.out / (args.run or profile.name), args.jobs)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except ChildFailed as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    finally:
        for child in _CHILDREN:  # interrupted or failed: stop the ground truth too (it writes only when it succeeds)
            if child.poll() is None:
                child.terminate()
                child.wait()


if __name__ == "__main__":
    main()
