"""Hugging Face hub names: the one hub-id pattern, path-like names, and a fast reachability check.

Light on purpose (standard library only at import), so command modules and data readers can use it.

>>> bool(HUB_ID.fullmatch("Skywork/Skywork-Reward-Llama-3.1-8B-v0.2")), bool(HUB_ID.fullmatch("../rm"))
(True, False)
>>> looks_like_path("./runs/rm1"), looks_like_path("org/name")
(True, False)
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", re.ASCII)
"""A hub repository id `org/name` (match it with `fullmatch`); a dataset may add `:config` after it."""

_reachable: bool | None = None


def looks_like_path(name: str) -> bool:
    """Whether `name` is meant as a local path: it starts with `.`, `/` or `~`, has more than
    one `/`, uses `\\`, ends with `/`, or its first part is an existing local folder (`runs/rm1`)."""
    if name.startswith((".", "/", "~")) or "\\" in name or name.endswith("/") or name.count("/") > 1:
        return True
    head, sep, _ = name.partition("/")
    return bool(sep) and Path(head).is_dir()


def hub_reachable() -> bool:
    """Whether the hub may be used: not offline by `HF_HUB_OFFLINE` and answering within 2 s (cached)."""
    global _reachable
    if _reachable is None:
        if os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() not in ("0", "", "false", "no", "off"):
            _reachable = False
        else:
            try:
                socket.create_connection(("huggingface.co", 443), timeout=2).close()
                _reachable = True
            except OSError:
                _reachable = False
    return _reachable
