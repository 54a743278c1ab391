"""The capture backends by name: `torch` (plain forward hooks), `nnsight`, `transformer_lens`.

What a backend provides is in `interp.hooks.types`; each backend is a module `backend_<name>`, imported
only when asked for (nnsight and TransformerLens are slow to import).

>>> get_backend("torch").__name__
'interp.hooks.backend_torch'
"""

from __future__ import annotations

from interp._util.errors import UserError
from interp.hooks.types import BACKENDS, Backend, BackendName

__all__ = ["BACKENDS", "BackendName", "get_backend"]


def get_backend(name: str) -> Backend:
    """The backend called `name` (imported lazily: nnsight and TransformerLens are slow to import)."""
    if name == "torch":
        from interp.hooks import backend_torch

        return backend_torch
    if name == "nnsight":
        from interp.hooks import backend_nnsight

        return backend_nnsight
    if name == "transformer_lens":
        from interp.hooks import backend_tlens

        return backend_tlens
    raise UserError(f"Unknown backend '{name}'; use one of: {', '.join(BACKENDS)}.")
