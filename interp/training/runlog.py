"""Run bookkeeping: a per-step metrics log that survives resumes, peak memory, library versions.

>>> peak_rss_mb() > 0
True
"""

from __future__ import annotations

import json
import platform
import resource
import sys
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def versions() -> dict[str, str]:
    """Versions of Python and the libraries a training run depends on."""
    import peft
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2, default=str))
    return path
