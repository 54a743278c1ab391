"""A per-step metrics log that survives resumes.

>>> import tempfile
>>> log = MetricsLog(Path(tempfile.mkdtemp()) / "metrics.jsonl")
>>> log.write({"step": 1, "loss": 0.5}); log.rows()
[{'step': 1, 'loss': 0.5}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """`metrics.jsonl`, one JSON object per step; on resume, rows after the resumed step are dropped."""

    def __init__(self, path: Path, keep_until_step: int = 0) -> None:
        self.path = path
        rows = []
        if path.is_file() and keep_until_step > 0:
            rows = [
                line
                for line in path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= keep_until_step
            ]
        path.write_text("".join(line + "\n" for line in rows))

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
