"""Printing lists of records for people and for pipes: a table on a terminal, TSV when piped, or JSON.

Identifiers are never truncated: the table folds long cells onto more lines instead of cutting them,
and TSV/JSON print every value as it is.

>>> rows = [{"name": "smollm2-135m-instruct", "layers": 30}, {"name": "gemma3-270m", "layers": 18}]
>>> print_records(rows, "tsv")  # tab-separated; doctest reads tabs as spaces  # doctest: +NORMALIZE_WHITESPACE
name	layers
smollm2-135m-instruct	30
gemma3-270m	18
>>> print_records(rows[:1], "json")
[
  {
    "name": "smollm2-135m-instruct",
    "layers": 30
  }
]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Format = Literal["table", "json", "tsv"]
FORMATS: tuple[Format, ...] = ("table", "json", "tsv")
FORMAT_HELP = "table (on a terminal), tsv (when piped) or json; identifiers are never truncated"


def choose_format(requested: str | None) -> Format:
    """The requested format, or `table` on a terminal and `tsv` when stdout is piped.

    >>> choose_format("json")
    'json'
    """
    if requested is None:
        return "table" if sys.stdout.isatty() else "tsv"
    if requested not in FORMATS:
        from interp._util.errors import UserError

        raise UserError(f"Unknown --format '{requested}'; use one of: {', '.join(FORMATS)}.")
    return requested  # type: ignore[return-value]


def print_records(rows: Sequence[Mapping[str, Any]], fmt: str | None = None, title: str | None = None) -> None:
    """Print `rows` (dicts with the same keys) as a table, TSV (header line first) or a JSON list."""
    chosen = choose_format(fmt)
    if chosen == "json":
        print(json.dumps([dict(r) for r in rows], indent=2, default=str, ensure_ascii=False))
        return
    columns = list(rows[0]) if rows else []
    if chosen == "tsv":
        print("\t".join(columns))
        for row in rows:
            print("\t".join(str(row[c]).replace("\t", " ").replace("\n", " ") for c in columns))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title)
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)
