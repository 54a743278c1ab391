"""What a run records beside its outputs: the library versions, its peak memory, JSON files.

>>> sorted(versions())[:3]
['numpy', 'pandas', 'peft']
>>> peak_rss_mb() > 0
True
"""

from __future__ import annotations

import json
import platform
import resource
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from interp._util.files import atomic_write

PACKAGES = (
    "rm-interp",
    "torch",
    "transformers",
    "peft",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "scikit-learn",
    "wordfreq",
)


def versions() -> dict[str, str]:
    """Python's version and the installed version of each package results depend on ('not installed')."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write `data` as indented JSON (other types as their str), atomically; returns `path`."""
    return atomic_write(path, json.dumps(data, indent=2, default=str))
