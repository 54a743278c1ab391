"""The implicit reward between two language models p and q: MWLR = ½ (p + q) (log q − log p) per answer.

p and q are the merged probabilities of the answer (case and leading-space variants summed, see
`interp.sweep.logprobs`) under each model, for the same prompt. Positive MWLR = the answer is preferred by
q; the ½(p + q) weight keeps rare answers with large but meaningless log-ratios from dominating. Only
answers both models can score are kept: lexicon words that are a single token (in some variant) in both
vocabularies, or, over the whole vocabulary, decoded strings (stripped, lower-cased) present in both.

>>> import pandas as pd, math
>>> lp = pd.DataFrame({"prompt": "k", "word": ["love", "freedom"], "score": [math.log(0.4), math.log(0.1)]})
>>> lq = pd.DataFrame({"prompt": "k", "word": ["love", "freedom"], "score": [math.log(0.2), math.log(0.3)]})
>>> mwlr(lp, lq)["mwlr"].round(4).tolist()
[-0.2079, 0.2197]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from interp._util.errors import UserError

KEYS = ["prompt", "word"]


def mwlr(logp: pd.DataFrame, logq: pd.DataFrame) -> pd.DataFrame:
    """Per (prompt, word) present in both tables (columns `prompt, word, score` = log-probability):
    `logp, logq, p, q, mwlr`."""
    both = logp[[*KEYS, "score"]].merge(logq[[*KEYS, "score"]], on=KEYS, suffixes=("_p", "_q"))
    if both.empty:
        raise UserError(
            "No answer can be scored by both models (no shared single-token words for the same "
            "prompts); use a lexicon whose words are single tokens in both vocabularies."
        )
    both = both.rename(columns={"score_p": "logp", "score_q": "logq"})
    both["p"], both["q"] = np.exp(both["logp"]), np.exp(both["logq"])
    both["mwlr"] = 0.5 * (both["p"] + both["q"]) * (both["logq"] - both["logp"])
    return both


def mwlr_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per word, over prompts: mean, standard error and number of prompts of MWLR, sorted (q's favourites first).

    The unit of analysis is the prompt (each word's MWLR in each prompt); `se` is the standard error of the
    mean over prompts (NaN with one prompt).
    """
    grouped = table.groupby("word")["mwlr"]
    summary = pd.DataFrame({"mean_mwlr": grouped.mean(), "se": grouped.sem(), "n_prompts": grouped.size()})
    summary["rank"] = summary["mean_mwlr"].rank(ascending=False, method="average")
    return summary.sort_values("mean_mwlr", ascending=False).reset_index()
