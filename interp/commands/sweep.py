"""`rm-interp sweep`, `rm-interp logprobs`, `rm-interp implicit-reward`: behavioural measurements → tidy tables.

Examples (offline, embedded models):
    rm-interp sweep --base-for-new-head smollm2-135m-instruct --prompts grid --lexicon default --out OUT
    rm-interp sweep --rm ./my-rm --prompts grid --limit-prompts 1 --lexicon vocab --dtype bf16 --out OUT
    rm-interp logprobs --model gemma3-270m --prompts grid --lexicon default --out OUT
    rm-interp implicit-reward --p gemma3-270m --q smollm2-135m-instruct --prompts grid --out OUT

Every option and input is checked, and the output folder too, before a model is loaded; nothing is
written until the work is done (sweeps also keep resumable per-prompt shards under OUT/shards).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from interp._util.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from interp.lexicons.readers import Lexicon
    from interp.models import ModelHandle
    from interp.render.prompts import Prompt
    from interp.sweep.logprobs import Wrapper

console = Console(markup=False, highlight=False, soft_wrap=True)

VOCAB = "vocab"
PromptsOpt = Annotated[str, typer.Option(help="'grid' (the paper's 54 prompts) or a prompt file (.yaml/.csv/.txt)")]
LimitOpt = Annotated[int | None, typer.Option(help="use only the first N prompts")]
LexiconOpt = Annotated[str, typer.Option(help="'default', a lexicon file, a fetched lexicon name, or 'vocab'")]
DtypeOpt = Annotated[str, typer.Option(help="float32 or bf16 (the reward head always runs in fp32)")]
OutOpt = Annotated[Path, typer.Option(help="output folder")]
TrustOpt = Annotated[
    bool, typer.Option(help="run Python code shipped with the model (ArmoRM, QRM, URM need it); only if you trust it")
]


def _lexicon(spec: str) -> Lexicon | None:
    """The lexicon of a `--lexicon` spec, or None for the whole vocabulary."""
    from interp.lexicons.readers import load_lexicon

    return None if spec == VOCAB else load_lexicon(spec)


def _rm(rm: str | None, base: str | None, seed: int, dtype: str, trust_remote_code: bool) -> tuple[ModelHandle, str]:
    from interp.models import load_rm, rm_from_base

    if rm is not None:
        return load_rm(rm, dtype=dtype, trust_remote_code=trust_remote_code), _label(rm)
    assert base is not None
    handle = rm_from_base(base, seed=seed, dtype=dtype, trust_remote_code=trust_remote_code)
    return handle, f"{_label(base)}+head-seed{seed}"


def _label(name: str) -> str:
    """A model's name in tables: a local folder's own name, else the name as given."""
    return Path(name).name if Path(name).is_dir() else name


def _dtype_name(handle: ModelHandle) -> str:
    return str(handle.model.dtype).removeprefix("torch.")


def run_sweep(
    out: Path,
    prompts: tuple[Prompt, ...],
    lexicon: Lexicon | None,
    handle: ModelHandle,
    label: str,
    batch_size: int,
    shard_size: int,
    found: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score the lexicon (or whole vocabulary) for every prompt through resumable shards under OUT/shards.

    Refuses, before writing, a folder holding another model's, dtype's or lexicon's sweep (`found` is its
    config). Returns the tidy table and what the config records about the answers.
    """
    import pandas as pd

    from interp.sweep.answers import answers_hash, lexicon_answers, sweep_lexicon
    from interp.sweep.outputs import check_same_run, check_shard_folders, shard_folder
    from interp.sweep.vocab import sweep_vocab, vocab_key, vocab_table

    folders = [shard_folder(out, p) for p in prompts]
    if lexicon is None:
        check_same_run(out, found, {"fingerprint": handle.fingerprint, "dtype": _dtype_name(handle), "answers": VOCAB})
        check_shard_folders([(f, vocab_key(handle, p, shard_size)) for f, p in zip(folders, prompts, strict=True)])
        tables, counts = [], {}
        for folder, prompt in zip(folders, prompts, strict=True):
            rows = sweep_vocab(handle, prompt, folder, shard_size, batch_size)
            table, counts[prompt.key] = vocab_table(rows, label, prompt)
            tables.append(table)
        info = {"answers": VOCAB, "lexicon": "whole vocabulary (every token id decoded alone)", "vocab_counts": counts}
        return pd.concat(tables, ignore_index=True), info
    words = lexicon_answers(lexicon, handle.tokenizer)["word"].unique().tolist()
    answers = answers_hash(words)
    check_same_run(out, found, {"fingerprint": handle.fingerprint, "dtype": _dtype_name(handle), "answers": answers})
    table = sweep_lexicon(handle, prompts, words, folders, label, batch_size).assign(lexicon=lexicon.label)
    return table, {"answers": answers, "lexicon": lexicon.label, "n_words": len(words)}


def _wrappers(given: Sequence[str | None] | None) -> tuple[Wrapper, ...]:
    from interp.sweep.logprobs import WRAPPERS

    chosen = [w for w in given or [] if w]
    bad = [w for w in chosen if w not in WRAPPERS]
    if bad:
        raise UserError(f"Unknown wrapper '{bad[0]}'; use one of: {', '.join(WRAPPERS)}.")
    return tuple(w for w in WRAPPERS if w in chosen)


def _logprobs(
    handle: ModelHandle, prompts: tuple[Prompt, ...], lexicon: Lexicon | None, wrappers: tuple[Wrapper, ...]
) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame]:
    """(table, unmatched words, lexicon label, the lexicon's (word, category) entries)."""
    import pandas as pd

    from interp.sweep.answers import lexicon_answers
    from interp.sweep.logprobs import answer_logprobs, vocab_logprobs

    if lexicon is None:
        table = vocab_logprobs(handle, prompts, wrappers)
        return table, pd.DataFrame(columns=["word", "reason"]), "whole vocabulary", pd.DataFrame()
    entries = lexicon_answers(lexicon, handle.tokenizer)
    table, unmatched = answer_logprobs(handle, prompts, entries["word"].unique().tolist(), wrappers)
    return table, unmatched, lexicon.label, entries


def _at_least_one(**options: int | None) -> None:
    for name, value in options.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, not {value}.")


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
        trust_remote_code: TrustOpt = False,
    ) -> None:
        """Reward of every (prompt, answer) pair, prompt prefix cached: OUT/scores.parquet and .csv; resumable."""
        from interp.sweep.outputs import check_prompt_keys, check_run_folder, choose_prompts, write_config, write_table

        start = time.perf_counter()
        if (rm is None) == (base_for_new_head is None):
            raise UserError("Give exactly one of --rm (a reward model) or --base-for-new-head (a base LM).")
        _at_least_one(batch_size=batch_size, shard_size=shard_size)
        found = check_run_folder(out, "sweep")
        chosen = choose_prompts(prompts, limit_prompts)
        check_prompt_keys(chosen)
        answers = _lexicon(lexicon)
        handle, label = _rm(rm, base_for_new_head, seed, dtype, trust_remote_code)
        table, info = run_sweep(out, chosen, answers, handle, label, batch_size, shard_size, found)
        write_table(table, out, "scores")
        write_config(
            out,
            {
                "kind": "sweep",
                "model": label,
                "fingerprint": handle.fingerprint,
                "dtype": _dtype_name(handle),
                "seed": seed,
                "prompts": [p.key for p in chosen],
                "batch_size": batch_size,
                "shard_size": shard_size,
                "seconds": round(time.perf_counter() - start, 1),
                **info,
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
        trust_remote_code: TrustOpt = False,
    ) -> None:
        """Merged log-probability of each answer word (case and leading-space variants): OUT/logprobs.*."""
        from interp._util.files import staged_folder
        from interp.models import load_lm
        from interp.sweep.logprobs import default_wrappers
        from interp.sweep.outputs import check_run_folder, choose_prompts, write_config, write_table

        start = time.perf_counter()
        wrappers = _wrappers(wrapper)
        check_run_folder(out, "logprobs")
        chosen = choose_prompts(prompts, limit_prompts)
        answers = _lexicon(lexicon)
        handle = load_lm(model, dtype=dtype, trust_remote_code=trust_remote_code)
        wrappers = wrappers or default_wrappers(handle.tokenizer)
        table, unmatched, label, _ = _logprobs(handle, chosen, answers, wrappers)
        with staged_folder(out) as staged:
            write_table(table, staged, "logprobs")
            unmatched.to_csv(staged / "unmatched_words.csv", index=False)
            write_config(
                staged,
                {
                    "kind": "logprobs",
                    "model": model,
                    "fingerprint": handle.fingerprint,
                    "dtype": _dtype_name(handle),
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
        trust_remote_code: TrustOpt = False,
    ) -> None:
        """MWLR = ½(p+q)(log q − log p) per answer and prompt, a per-word summary and the Figure 3 plot."""
        from interp._util.files import staged_folder
        from interp.models import load_lm, resolve
        from interp.plots.mwlr import plot_mwlr
        from interp.sweep.implicit import mwlr, mwlr_summary
        from interp.sweep.logprobs import default_wrappers
        from interp.sweep.outputs import check_run_folder, choose_prompts, write_config, write_table

        start = time.perf_counter()
        _at_least_one(top=top)
        given = {"p": _wrappers([wrapper_p]), "q": _wrappers([wrapper_q])}
        check_run_folder(out, "implicit-reward")
        chosen = choose_prompts(prompts, limit_prompts)
        answers = _lexicon(lexicon)
        names = {"p": p, "q": q}
        for name in names.values():
            resolve(name)  # an unknown name or missing folder is refused before either model loads
        tables, unmatched, configs = [], {}, {}
        for role, name in names.items():
            handle = load_lm(name, dtype=dtype, trust_remote_code=trust_remote_code)
            wrapper = given[role] or default_wrappers(handle.tokenizer)[:1]
            table, unmatched[role], label, entries = _logprobs(handle, chosen, answers, wrapper)
            tables.append(table)
            configs[role] = {
                "model": name,
                "fingerprint": handle.fingerprint,
                "wrapper": wrapper[0],
                "n_unmatched_words": len(unmatched[role]),
            }
            del handle
        table = mwlr(tables[0], tables[1])
        summary = mwlr_summary(table)
        if not entries.empty:
            category = entries.drop_duplicates("word").set_index("word")["category"]
            summary.insert(1, "category", summary["word"].map(category))
        with staged_folder(out) as staged:
            write_table(table, staged, "mwlr")
            summary.to_csv(staged / "mwlr_summary.csv", index=False)
            for role, words in unmatched.items():
                words.to_csv(staged / f"unmatched_words_{role}.csv", index=False)
            plot_mwlr(summary, staged / "fig3_mwlr.png", p, q, top)
            write_config(
                staged,
                {
                    "kind": "implicit-reward",
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
