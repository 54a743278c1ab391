"""`rm-interp sweep`, `rm-interp logprobs`, `rm-interp implicit-reward`: behavioural measurements → tidy tables.

Examples (offline, embedded models):
    rm-interp sweep --base-for-new-head smollm2-135m-instruct --prompts grid --lexicon default --out OUT
    rm-interp sweep --rm ./my-rm --prompts grid --limit-prompts 1 --lexicon vocab --dtype bf16 --out OUT
    rm-interp logprobs --model gemma3-270m --prompts grid --lexicon default --out OUT
    rm-interp implicit-reward --p gemma3-270m --q smollm2-135m-instruct --prompts grid --out OUT

The pipelines are `interp.sweep.runs` and `interp.sweep.implicit_run`; these commands parse and print.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from interp._util.errors import UserError

console = Console(markup=False, highlight=False, soft_wrap=True)

PromptsOpt = Annotated[str, typer.Option(help="'grid' (the paper's 54 prompts) or a prompt file (.yaml/.csv/.txt)")]
LimitOpt = Annotated[int | None, typer.Option(help="use only the first N prompts")]
LexiconOpt = Annotated[str, typer.Option(help="'default', a lexicon file, a fetched lexicon name, or 'vocab'")]
DtypeOpt = Annotated[str, typer.Option(help="float32 or bf16 (the reward head always runs in fp32)")]
OutOpt = Annotated[Path, typer.Option(help="output folder")]
TrustOpt = Annotated[
    bool, typer.Option(help="run Python code shipped with the model (ArmoRM, QRM, URM need it); only if you trust it")
]


def _at_least_one(**options: int | None) -> None:
    for name, value in options.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, not {value}.")


def sweep_command(
    out: OutOpt,
    rm: Annotated[str | None, typer.Option(help="reward model: local folder or hub id")] = None,
    base_for_new_head: Annotated[str | None, typer.Option(help="base LM to give a fresh seeded head")] = None,
    seed: Annotated[int, typer.Option(help="seed of the fresh head")] = 0,
    prompts: PromptsOpt = "grid",
    limit_prompts: LimitOpt = None,
    lexicon: LexiconOpt = "default",
    dtype: DtypeOpt = "float32",
    batch_size: Annotated[int, typer.Option(help="answers per forward pass")] = 64,
    shard_size: Annotated[int, typer.Option(help="tokens per shard (vocabulary sweeps)")] = 2048,
    trust_remote_code: TrustOpt = False,
) -> None:
    """Reward of every (prompt, answer) pair, prompt prefix cached: OUT/scores.parquet and .csv; resumable."""
    from interp.sweep.runs import run_sweep

    start = time.perf_counter()
    _at_least_one(batch_size=batch_size, shard_size=shard_size)
    run_sweep(
        out,
        rm,
        base_for_new_head,
        seed=seed,
        prompts=prompts,
        limit_prompts=limit_prompts,
        lexicon=lexicon,
        dtype=dtype,
        batch_size=batch_size,
        shard_size=shard_size,
        trust_remote_code=trust_remote_code,
    )
    console.print(
        f"wrote {out / 'scores.parquet'} (and .csv) in {time.perf_counter() - start:.1f} s; "
        f"next: rm-interp stats --scores {out / 'scores.parquet'} --families FILE --out ..."
    )


def logprobs_command(
    model: Annotated[str, typer.Option(help="language model: embedded name, local folder or hub id")],
    out: OutOpt,
    prompts: PromptsOpt = "grid",
    limit_prompts: LimitOpt = None,
    lexicon: LexiconOpt = "default",
    wrapper: Annotated[
        list[str] | None,
        typer.Option(
            help="chat, raw, user_assistant (repeatable); default: chat for instruct, raw+user_assistant for base"
        ),
    ] = None,
    dtype: DtypeOpt = "float32",
    trust_remote_code: TrustOpt = False,
) -> None:
    """Merged log-probability of each answer word (case and leading-space variants): OUT/logprobs.*."""
    from interp.sweep.runs import run_logprobs

    table, unmatched = run_logprobs(
        model,
        out,
        prompts=prompts,
        limit_prompts=limit_prompts,
        lexicon=lexicon,
        wrappers=wrapper or (),
        dtype=dtype,
        trust_remote_code=trust_remote_code,
    )
    console.print(
        f"wrote {out / 'logprobs.parquet'} (and .csv): {table['word'].nunique()} words, "
        f"{len(unmatched)} words without a single-token variant"
    )


def implicit_reward_command(
    p: Annotated[str, typer.Option(help="language model p (e.g. a Gemma-family LM)")],
    q: Annotated[str, typer.Option(help="language model q; MWLR > 0 means preferred by q")],
    out: OutOpt,
    prompts: PromptsOpt = "grid",
    limit_prompts: LimitOpt = None,
    lexicon: LexiconOpt = "default",
    wrapper_p: Annotated[
        str | None, typer.Option(help="chat, raw or user_assistant (default: chat if instruct, else raw)")
    ] = None,
    wrapper_q: Annotated[str | None, typer.Option(help="as --wrapper-p, for q")] = None,
    top: Annotated[int, typer.Option(help="words shown at each end of the figure")] = 15,
    dtype: DtypeOpt = "float32",
    trust_remote_code: TrustOpt = False,
) -> None:
    """MWLR = ½(p+q)(log q − log p) per answer and prompt, a per-word summary and the Figure 3 plot."""
    from interp.plots.mwlr import plot_mwlr
    from interp.sweep.implicit_run import run_implicit_reward

    _at_least_one(top=top)
    summary = run_implicit_reward(
        p,
        q,
        out,
        prompts=prompts,
        limit_prompts=limit_prompts,
        lexicon=lexicon,
        wrapper_p=wrapper_p,
        wrapper_q=wrapper_q,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
    )
    plot_mwlr(summary, out / "fig3_mwlr.png", p, q, top)
    best, worst = summary.iloc[0], summary.iloc[-1]
    console.print(
        f"{len(summary)} words scored by both models; top (preferred by q): {best['word']} "
        f"{best['mean_mwlr']:.3g}, bottom: {worst['word']} {worst['mean_mwlr']:.3g}; wrote {out}"
    )


def register(app: typer.Typer) -> None:
    """Add the `sweep`, `logprobs` and `implicit-reward` commands."""
    app.command("sweep")(sweep_command)
    app.command("logprobs")(logprobs_command)
    app.command("implicit-reward")(implicit_reward_command)
