"""Texts to capture: a table of texts, or of prompts (+ answers), read and checked before any model loads;
rendered with the model's own chat template; a token position checked against the rendered texts.

>>> import tempfile
>>> from pathlib import Path
>>> from transformers import AutoTokenizer
>>> from interp.models.tiny import build_tiny
>>> tokenizer = AutoTokenizer.from_pretrained(build_tiny("llama", tempfile.mkdtemp()))  # a ChatML template
>>> path = Path(tempfile.mkdtemp()) / "pairs.csv"
>>> _ = path.write_text("prompt,answer\\nWhat is best?,Love\\n")
>>> table = read_texts(path)
>>> list(table.columns)
['prompt', 'answer']
>>> texts = render_texts(tokenizer, table)
>>> texts[0].endswith("Love<|im_end|>\\n")
True
>>> check_position(tokenizer, texts, 999)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
interp._util.errors.UserError: --position 999 is outside the shortest input (21 tokens); use an index in -21..20, ...
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from interp._util.errors import UserError
from interp._util.files import read_text

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet")


def read_texts(path: Path) -> pd.DataFrame:
    """The inputs of `--texts`, checked before any model loads: a `text` column, or `prompt` (+ `answer`).

    A .txt file holds one text per non-blank line; .jsonl, .csv and .parquet files hold a table. A missing,
    unreadable or empty file, a table without those columns, or a row with an empty value is refused in one
    sentence naming the file.
    """
    if not path.is_file():
        problem = "is a folder; give a file" if path.is_dir() else "does not exist; give an existing file"
        raise UserError(f"The texts file {path} (--texts) {problem}.")
    if path.suffix not in (".txt", *TABLE_SUFFIXES):
        raise UserError(f"Cannot read {path.name}: use a .txt (one text per line), .jsonl, .csv or .parquet file.")
    text = "" if path.suffix == ".parquet" else read_text(path, "texts file", "--texts")
    try:
        if path.suffix == ".txt":
            table = pd.DataFrame({"text": [line for line in text.splitlines() if line.strip()]})
        elif path.suffix == ".jsonl":
            table = pd.read_json(io.StringIO(text), lines=True)
        elif path.suffix == ".csv":
            table = pd.read_csv(io.StringIO(text))
        else:
            table = pd.read_parquet(path)
    except (ValueError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(
            f"Cannot read the texts file {path} ({reason}); check it is a valid {path.suffix} file."
        ) from None
    columns = [c for c in ("text", "prompt", "answer") if c in table]
    if not columns or columns == ["answer"]:
        raise UserError(f"{path.name} has no 'text' or 'prompt' column; add one (and 'answer' for RM pairs).")
    if table.empty:
        raise UserError(f"The texts file {path} holds no texts; give at least one.")
    used = ["text"] if "text" in table else columns
    values = table[used]
    empty = (values.isna() | values.astype(str).apply(lambda column: column.str.strip() == "")).any(axis=1)
    if empty.any():
        row = int(empty.to_numpy().argmax()) + 1
        raise UserError(f"{path.name}: row {row} has an empty {' or '.join(used)}; every row needs a value.")
    return table[used]


def render_texts(tokenizer: PreTrainedTokenizerBase, inputs: pd.DataFrame | Sequence[str]) -> list[str]:
    """Texts as given, or prompts (+ answers) rendered with the model's own chat template.

    `inputs` is a table as `read_texts` returns it, or a list of user prompts. A `prompt` alone is rendered as
    a user turn with the generation prompt; with an `answer` it is rendered as the RM conversation.
    """
    from interp.render.templates import render_pair, render_prompt  # torch: not needed to read the texts

    if not isinstance(inputs, pd.DataFrame):
        return [render_prompt(tokenizer, p) for p in inputs]
    if "text" in inputs:
        return [str(t) for t in inputs["text"]]
    if "answer" in inputs:
        pairs = zip(inputs["prompt"], inputs["answer"], strict=True)
        return [render_pair(tokenizer, str(p), str(a)) for p, a in pairs]
    return [render_prompt(tokenizer, str(p)) for p in inputs["prompt"]]


def check_position(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], position: int | str) -> None:
    """Refuse a token index (`position`, negative from the end) outside the shortest of the rendered `texts`,
    before anything is written; a named position (`readout`, `all`) fits every text."""
    from interp.render.templates import token_ids

    if not isinstance(position, int):
        return
    shortest = min(len(token_ids(tokenizer, t)) for t in texts)
    if not -shortest <= position < shortest:
        raise UserError(
            f"--position {position} is outside the shortest input ({shortest} tokens); "
            f"use an index in {-shortest}..{shortest - 1}, or readout."
        )
