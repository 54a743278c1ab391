"""A per-step metrics log that survives resumes.

>>> import tempfile
>>> log = MetricsLog(Path(tempfile.mkdtemp()) / "metrics.jsonl")
>>> log.write({"step": 1, "loss": 0.5}); log.rows()
[{'step': 1, 'loss': 0.5}]
>>> with log.path.open("a") as fh: _ = fh.write('{"step": 2, "lo')  # killed mid-line
>>> MetricsLog(log.path, keep_until_step=1).rows()
[{'step': 1, 'loss': 0.5}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interp._util.files import atomic_write


def _step(line: str) -> float:
    """The step of a log line; infinity for a line that is not a whole JSON object (so it is dropped)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return float("inf")
    return float(row.get("step", 0)) if isinstance(row, dict) else float("inf")


class MetricsLog:
    """`metrics.jsonl`, one JSON object per step; on resume, rows after the resumed step (and a line cut
    short by a kill) are dropped, and the kept rows are rewritten atomically."""

    def __init__(self, path: Path, keep_until_step: int = 0) -> None:
        self.path = path
        rows = []
        if path.is_file() and keep_until_step > 0:
            rows = [line for line in path.read_text().splitlines() if _step(line) <= keep_until_step]
        atomic_write(path, "".join(line + "\n" for line in rows))

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
