"""The `rm-interp implicit-reward` pipeline: two LMs' answer log-probabilities → MWLR table and per-word summary
(the Figure 3 plot, `interp.plots.mwlr.plot_mwlr`, is the caller's: plots belong to the roof).

Every input and the output folder are checked, and both model names resolved, before either model loads;
nothing is written until both are scored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from interp.sweep.runs import answer_lexicon, choose_wrappers, model_logprobs

if TYPE_CHECKING:
    import pandas as pd


def run_implicit_reward(
    p: str,
    q: str,
    out: Path,
    *,
    prompts: str = "grid",
    limit_prompts: int | None = None,
    lexicon: str = "default",
    wrapper_p: str | None = None,
    wrapper_q: str | None = None,
    dtype: str = "float32",
    trust_remote_code: bool = False,
) -> pd.DataFrame:
    """MWLR = ½(p+q)(log q − log p) per answer and prompt (OUT/mwlr.*) and per word (OUT/mwlr_summary.csv, returned,
    q's favourites first), with the unmatched words of each model and config.json."""
    from interp._util.files import staged_folder
    from interp.models import load_lm, resolve
    from interp.sweep.implicit import mwlr, mwlr_summary
    from interp.sweep.logprobs import default_wrappers
    from interp.sweep.outputs import check_run_folder, choose_prompts, write_config, write_table

    start = time.perf_counter()
    given = {"p": choose_wrappers([wrapper_p]), "q": choose_wrappers([wrapper_q])}
    check_run_folder(out, "implicit-reward")
    chosen = choose_prompts(prompts, limit_prompts)
    answers = answer_lexicon(lexicon)
    names = {"p": p, "q": q}
    for name in names.values():
        resolve(name)  # an unknown name or missing folder is refused before either model loads
    tables, unmatched, configs = [], {}, {}
    for role, name in names.items():
        handle = load_lm(name, dtype=dtype, trust_remote_code=trust_remote_code)
        wrapper = given[role] or default_wrappers(handle.tokenizer)[:1]
        table, unmatched[role], label, entries = model_logprobs(handle, chosen, answers, wrapper)
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
    return summary
