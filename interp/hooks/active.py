"""How many interventions are installed on each model right now.

Interventions (`interp.causal`) count themselves here while their hooks are installed; capture through a
non-torch backend and the prompt-cached scorer ask, since torch hooks are invisible to the one and change how the
other must place its edits.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from interp.models import ModelHandle

_active: weakref.WeakKeyDictionary[torch.nn.Module, int] = weakref.WeakKeyDictionary()


def active_interventions(handle: ModelHandle) -> int:
    """How many interventions are installed on this model right now."""
    return _active.get(handle.body, 0)


@contextmanager
def counted(handle: ModelHandle) -> Iterator[None]:
    """Count one more intervention on `handle` while the block runs (even when it raises)."""
    _active[handle.body] = active_interventions(handle) + 1
    try:
        yield
    finally:
        _active[handle.body] -= 1
