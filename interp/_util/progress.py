"""A rich progress bar that can be switched off (tests, non-interactive runs) without changing the caller.

>>> with progress_bar(False) as bar:
...     task = bar.add_task("work", total=2)
...     bar.advance(task, 2)
"""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(enabled: bool = True) -> Progress:
    """A `Progress` with counts, elapsed and remaining time; `enabled=False` draws nothing."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )
