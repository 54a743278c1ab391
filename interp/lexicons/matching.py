"""Match lexicon words to a tokenizer's tokens: case and leading-space variants, single and multi-token.

Each variant is encoded by the tokenizer itself (`encode(word)`, `encode(" " + word)`), so SentencePiece
`▁` and byte-level `Ġ` conventions are handled by the tokenizer, not by string rules. `stem*` globs are
expanded against the tokenizer's decoded single tokens (a glob cannot enumerate multi-token words).

>>> import tempfile
>>> from transformers import AutoTokenizer
>>> from interp.models.tiny import build_tiny
>>> tokenizer = AutoTokenizer.from_pretrained(build_tiny("llama", tempfile.mkdtemp()))  # a 400-token vocabulary
>>> lexicon = Lexicon("toy", {"agency": ("power", "succ*"), "communion": ("love",)}, source="example")
>>> result = match_lexicon(lexicon, tokenizer)
>>> result.table.query("single_token")[["word", "variant", "token_ids"]].to_dict("records")
[{'word': 'power', 'variant': ' power', 'token_ids': (387,)}]
>>> result.unmatched[["word", "reason"]].values.tolist()
[['succ*', 'glob matched no token'], ['love', 'no variant is a single token']]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from interp._util.errors import UserError
from interp.lexicons.readers import Lexicon

CASES = ("as_given", "lower", "capitalized", "upper")
MULTI_TOKEN = "no variant is a single token"
COLUMNS = ["word", "category", "variant", "case", "leading_space", "token_ids", "n_tokens", "single_token"]


@dataclass(frozen=True)
class MatchResult:
    """`table`: one row per distinct (word, category, token_ids); `unmatched`: word, category, reason."""

    table: pd.DataFrame
    unmatched: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per category: entries, words with a single-token variant, words only as several tokens."""
        single = self.table.groupby(["category", "word"])["single_token"].any().reset_index()
        counts = single.groupby("category")["single_token"].agg(single_token_words="sum", words="size")
        counts["multi_token_only"] = counts["words"] - counts["single_token_words"]
        lost = self.unmatched[self.unmatched["reason"] != MULTI_TOKEN]
        missing = lost.groupby("category").size().rename("unmatched")
        return counts.join(missing, how="outer").fillna(0).astype(int).reset_index()

    def report(self) -> str:
        """A few lines saying what matched and what did not."""
        lines = [
            f"{r.category}: {r.single_token_words}/{r.words} words are a single token, "
            f"{r.multi_token_only} only several tokens, {r.unmatched} unmatched"
            for r in self.summary().itertuples()
        ]
        for r in self.unmatched.head(20).itertuples():
            lines.append(f"  not matched: {r.word!r} ({r.category}): {r.reason}")
        return "\n".join(lines)


def _case_variants(word: str) -> dict[str, str]:
    forms = {"as_given": word, "lower": word.lower(), "capitalized": word[:1].upper() + word[1:], "upper": word.upper()}
    seen: dict[str, str] = {}
    for case in CASES:
        seen.setdefault(forms[case], case)
    return {form: case for form, case in seen.items()}


def token_vocabulary(tokenizer: Any) -> list[str]:
    """Every token id decoded alone and stripped (the words a glob can expand to)."""
    decoded = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return sorted({d.strip() for d in decoded if d.strip()})


def match_lexicon(lexicon: Lexicon, tokenizer: Any, case_variants: bool = True) -> MatchResult:
    """Encode every lexicon word in its case and leading-space variants with `tokenizer`.

    Raises `UserError` when no word of the lexicon is a single token of this tokenizer in any variant.
    """
    unmatched: list[tuple[str, str, str]] = []
    entries = lexicon.entries()
    globs = entries[entries["word"].str.endswith("*")]
    words = entries[~entries["word"].str.endswith("*")]
    if len(globs):
        vocab = token_vocabulary(tokenizer)
        for row in globs.itertuples():
            sub = Lexicon("glob", {row.category: (row.word,)}, "glob")
            try:
                found = sub.restrict(vocab).categories[row.category]
            except UserError:
                unmatched.append((row.word, row.category, "glob matched no token"))
                continue
            words = pd.concat([words, pd.DataFrame({"word": found, "category": row.category})])
    unk = getattr(tokenizer, "unk_token_id", None)
    rows: list[tuple[Any, ...]] = []
    for word, category in words.drop_duplicates().itertuples(index=False):
        variants = _case_variants(word) if case_variants else {word: "as_given"}
        seen: set[tuple[int, ...]] = set()
        for form, case in variants.items():
            for space in (False, True):
                ids = tuple(tokenizer.encode((" " if space else "") + form, add_special_tokens=False))
                if not ids or ids in seen or (unk is not None and unk in ids):
                    continue
                seen.add(ids)
                rows.append((word, category, (" " if space else "") + form, case, space, ids, len(ids), len(ids) == 1))
        if not seen:
            unmatched.append((word, category, "encodes to nothing or to the unknown token"))
    table = pd.DataFrame(rows, columns=COLUMNS)
    missing = pd.DataFrame(unmatched, columns=["word", "category", "reason"])
    single = table.groupby(["word", "category"])["single_token"].any().reset_index() if rows else table
    multi = single[~single["single_token"]]
    missing = pd.concat(
        [missing, multi.assign(reason=MULTI_TOKEN)[["word", "category", "reason"]]],
        ignore_index=True,
    )
    if not rows or not table["single_token"].any():
        raise UserError(
            f"None of the words of lexicon '{lexicon.name}' is a single token of this tokenizer in any case or "
            "leading-space variant; check that the lexicon's language matches the model."
        )
    return MatchResult(table, missing)
