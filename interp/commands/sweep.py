"""`rm-interp sweep`, `rm-interp logprobs`, `rm-interp implicit-reward`: behavioural measurements → tidy tables.

Examples (offline, embedded models):
    rm-interp sweep --base-for-new-head smollm2-135m-instruct --prompts grid --lexicon default --out OUT
    rm-interp sweep --rm ./my-rm --prompts grid --limit-prompts 1 --lexicon vocab --dtype bf16 --out OUT
    rm-interp logprobs --model gemma3-270m --prompts grid --lexicon default --out OUT
    rm-interp implicit-reward --p gemma3-270m --q smollm2-135m-instruct --prompts grid --out OUT
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

from interp.errors import UserError
from interp.lexicon import load_lexicon
from interp.models import ModelHandle, load_lm, load_rm, rm_from_base
from interp.plots.mwlr import plot_mwlr
from interp.prompts import Prompt
from interp.sweep.answers import lexicon_answers, sweep_answers
from interp.sweep.implicit import mwlr, mwlr_summary
from interp.sweep.logprobs import WRAPPERS, Wrapper, answer_logprobs, default_wrappers, vocab_logprobs
from interp.sweep.outputs import choose_prompts, write_config, write_table
from interp.sweep.vocab import sweep_vocab, vocab_table

console = Console(markup=False, highlight=False, soft_wrap=True)

PromptsOpt = Annotated[str, typer.Option(help="'grid' (the paper's 54 prompts) or a prompt file (.yaml/.csv/.txt)")]
LimitOpt = Annotated[int | None, typer.Option(help="use only the first N prompts")]
LexiconOpt = Annotated[str, typer.Option(help="'default', a lexicon file, a fetched lexicon name, or 'vocab'")]
DtypeOpt = Annotated[str, typer.Option(help="float32 or bf16 (the reward head always runs in fp32)")]
OutOpt = Annotated[Path, typer.Option(help="output folder")]


def _words(spec: str, handle: ModelHandle) -> tuple[list[str], str, pd.DataFrame]:
    """Answer words of a lexicon spec, the lexicon's label, and its (word, category) entries."""
    lexicon = load_lexicon(spec)
    entries = lexicon_answers(lexicon, handle.tokenizer)
    return entries["word"].unique().tolist(), lexicon.label, entries


def _rm(rm: str | None, base: str | None, seed: int, dtype: str) -> tuple[ModelHandle, str]:
    if (rm is None) == (base is None):
        raise UserError("Give exactly one of --rm (a reward model) or --base-for-new-head (a base LM).")
    if rm is not None:
        return load_rm(rm, dtype=dtype), _label(rm)
    assert base is not None
    return rm_from_base(base, seed=seed, dtype=dtype), f"{_label(base)}+head-seed{seed}"


def _label(name: str) -> str:
    """A model's name in tables: a local folder's own name, else the name as given."""
    return Path(name).name if Path(name).is_dir() else name


def run_sweep(
    out: Path,
    prompts: tuple[Prompt, ...],
    lexicon: str,
    handle: ModelHandle,
    label: str,
    batch_size: int,
    shard_size: int,
) -> dict[str, Any]:
    """Score the lexicon (or whole vocabulary) for every prompt; write the tidy table; return counts."""
    if lexicon == "vocab":
        tables, counts = [], {}
        for prompt in prompts:
            rows = sweep_vocab(handle, prompt, out / "shards" / prompt.key, shard_size, batch_size)
            table, counts[prompt.key] = vocab_table(rows, label, prompt)
            tables.append(table)
        write_table(pd.concat(tables, ignore_index=True), out, "scores")
        return {"lexicon": "whole vocabulary (every token id decoded alone)", "vocab_counts": counts}
    words, lexicon_label, _ = _words(lexicon, handle)
    table = sweep_answers(handle, prompts, words, label, batch_size).assign(lexicon=lexicon_label)
    write_table(table, out, "scores")
    return {"lexicon": lexicon_label, "n_words": len(words)}


def _wrappers(given: Sequence[str | None] | None) -> tuple[Wrapper, ...]:
    given = [w for w in given or [] if w]
    if not given:
        return ()
    bad = [w for w in given if w not in WRAPPERS]
    if bad:
        raise UserError(f"Unknown wrapper '{bad[0]}'; use one of: {', '.join(WRAPPERS)}.")
    return tuple(w for w in WRAPPERS if w in given)


def _logprobs(
    handle: ModelHandle, prompts: tuple[Prompt, ...], lexicon: str, wrappers: tuple[Wrapper, ...] | None
) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame]:
    if lexicon == "vocab":
        table = vocab_logprobs(handle, prompts, wrappers)
        return table, pd.DataFrame(columns=["word", "reason"]), "whole vocabulary", pd.DataFrame()
    words, label, entries = _words(lexicon, handle)
    table, unmatched = answer_logprobs(handle, prompts, words, wrappers)
    return table, unmatched, label, entries


def register(app: typer.Typer) -> None:
    """Add the `sweep`, `logprobs` and `implicit-reward` commands."""

    @app.command()
    def sweep(
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
    ) -> None:
        """Reward of every (prompt, answer) pair, prompt prefix cached: OUT/scores.parquet and .csv."""
        start = time.perf_counter()
        handle, label = _rm(rm, base_for_new_head, seed, dtype)
        chosen = choose_prompts(prompts, limit_prompts)
        counts = run_sweep(out, chosen, lexicon, handle, label, batch_size, shard_size)
        write_config(
            out,
            {
                "model": label,
                "fingerprint": handle.fingerprint,
                "dtype": dtype,
                "seed": seed,
                "prompts": [p.key for p in chosen],
                "batch_size": batch_size,
                "shard_size": shard_size,
                "seconds": round(time.perf_counter() - start, 1),
                **counts,
            },
        )
        console.print(
            f"wrote {out / 'scores.parquet'} (and .csv) in {time.perf_counter() - start:.1f} s; "
            f"next: rm-interp stats --scores {out / 'scores.parquet'} --families FILE --out ..."
        )

    @app.command()
    def logprobs(
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
    ) -> None:
        """Merged log-probability of each answer word (case and leading-space variants): OUT/logprobs.*."""
        start = time.perf_counter()
        handle = load_lm(model, dtype=dtype)
        chosen = choose_prompts(prompts, limit_prompts)
        table, unmatched, label, _ = _logprobs(handle, chosen, lexicon, _wrappers(wrapper))
        write_table(table, out, "logprobs")
        unmatched.to_csv(out / "unmatched_words.csv", index=False)
        write_config(
            out,
            {
                "model": model,
                "fingerprint": handle.fingerprint,
                "dtype": dtype,
                "lexicon": label,
                "wrappers": sorted(table["wrapper"].unique()),
                "prompts": [p.key for p in chosen],
                "n_unmatched_words": len(unmatched),
                "seconds": round(time.perf_counter() - start, 1),
            },
        )
        console.print(
            f"wrote {out / 'logprobs.parquet'} (and .csv): {table['word'].nunique()} words, "
            f"{len(unmatched)} words without a single-token variant"
        )

    @app.command("implicit-reward")
    def implicit_reward(
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
    ) -> None:
        """MWLR = ½(p+q)(log q − log p) per answer and prompt, a per-word summary and the Figure 3 plot."""
        start = time.perf_counter()
        chosen = choose_prompts(prompts, limit_prompts)
        out.mkdir(parents=True, exist_ok=True)
        tables, configs = [], {}
        for role, name, given in (("p", p, wrapper_p), ("q", q, wrapper_q)):
            handle = load_lm(name, dtype=dtype)
            chosen_wrapper = _wrappers([given]) or default_wrappers(handle.tokenizer)[:1]
            table, unmatched, label, entries = _logprobs(handle, chosen, lexicon, chosen_wrapper)
            unmatched.to_csv(out / f"unmatched_words_{role}.csv", index=False)
            tables.append(table)
            configs[role] = {
                "model": name,
                "fingerprint": handle.fingerprint,
                "wrapper": chosen_wrapper[0],
                "n_unmatched_words": len(unmatched),
            }
            del handle
        table = mwlr(tables[0], tables[1])
        summary = mwlr_summary(table)
        if not entries.empty:
            category = entries.drop_duplicates("word").set_index("word")["category"]
            summary.insert(1, "category", summary["word"].map(category))
        write_table(table, out, "mwlr")
        summary.to_csv(out / "mwlr_summary.csv", index=False)
        plot_mwlr(summary, out / "fig3_mwlr.png", p, q, top)
        write_config(
            out,
            {
                "p": configs["p"],
                "q": configs["q"],
                "lexicon": label,
                "dtype": dtype,
                "prompts": [x.key for x in chosen],
                "n_words": len(summary),
                "seconds": round(time.perf_counter() - start, 1),
            },
        )
        best, worst = summary.iloc[0], summary.iloc[-1]
        console.print(
            f"{len(summary)} words scored by both models; top (preferred by q): {best['word']} "
            f"{best['mean_mwlr']:.3g}, bottom: {worst['word']} {worst['mean_mwlr']:.3g}; wrote {out}"
        )
