"""What every pipeline step shares: the log it writes progress to, and tables cached in the lineage folder (a
step whose tables are there reads them instead of computing them again)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from interp.causal.study import Measured

Log = Callable[[str], None]


def cached_table(path: Path, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read `path` if it exists, else compute, write and return the table.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> cached_table(path, lambda: pd.DataFrame({"a": [1]}))["a"].tolist()
    [1]
    >>> cached_table(path, lambda: 1 / 0)["a"].tolist()  # read back, not made again
    [1]
    """
    if path.exists():
        return pd.read_csv(path)
    table = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return table


def cached_measured(folder: Path, stem: str, make: Callable[[], Measured]) -> Measured:
    """A `Measured` read from `folder/<stem>_{changes,rows,gaps}.csv`, or made and written there."""
    paths = [folder / f"{stem}_{part}.csv" for part in ("changes", "rows", "gaps")]
    if all(p.exists() for p in paths):
        return Measured(*(pd.read_csv(p) for p in paths))
    found = make()
    for path, table in zip(paths, (found.changes, found.rows, found.gap_before), strict=True):
        table.to_csv(path, index=False)
    return found
