"""The one mechanism every intervention uses: edit the residual stream at sites with torch hooks.

`edit_sites(handle, sites, edit)` installs, for each site, a hook on `handle.layers[layer]` that replaces
the hidden states at the site's positions by `edit(rows)` (rows: (k, d_model)); a pre-hook on the body
records each call's attention mask so `readout` and integer positions are found per row whatever the
padding side. Hooks are removed in `finally`, even when the body raises; nested interventions compose
(hooks run in the order they were installed). Edits happen in the model's dtype after an fp32 computation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from interp._util.errors import UserError
from interp.hooks.active import counted
from interp.hooks.backend_torch import layer_input, layer_output
from interp.hooks.positions import position_mask
from interp.hooks.site import Site, check_sites
from interp.models import ModelHandle

Edit = Callable[[torch.Tensor], torch.Tensor]


def _call_mask(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    """The 2-D attention mask a body call was given, or all ones when it was given none."""
    mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
    if mask is not None:
        if mask.ndim != 2:
            raise UserError("Interventions need a 2-D (batch, seq) attention mask; pass the mask from Encoded.")
        return mask
    ids = kwargs.get("input_ids", args[0] if args else None)
    if ids is None:
        ids = kwargs["inputs_embeds"][..., 0]
    return torch.ones(ids.shape[:2], dtype=torch.long, device=ids.device)


def _apply(hidden: torch.Tensor, mask: torch.Tensor, site: Site, edit: Edit) -> torch.Tensor:
    # With a KV cache (prompt-prefix scoring) the mask spans cached + new tokens; the hidden states are the new ones.
    chosen = position_mask(mask[:, -hidden.shape[1] :].to(hidden.device), site.position)
    out = hidden.clone()
    out[chosen] = edit(hidden[chosen].float()).to(hidden.dtype)
    return out


def edit_sites(handle: ModelHandle, sites: Site | Sequence[Site], edit: Edit) -> AbstractContextManager[None]:
    """Replace the residual stream at each site's positions by `edit(rows)` while the block runs.

    Sites are checked at once (not on entering the block).
    """
    return _installed(handle, check_sites(sites, handle.n_layers), edit)


@contextmanager
def _installed(handle: ModelHandle, listed: list[Site], edit: Edit) -> Iterator[None]:
    state: dict[str, torch.Tensor] = {}

    def record(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        state["mask"] = _call_mask(args, kwargs)

    def pre(site: Site) -> Any:
        def hook(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            new = _apply(layer_input(args, kwargs), state["mask"], site, edit)
            if args:
                return (new, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": new}

        return hook

    def post(site: Site) -> Any:
        def hook(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            new = _apply(layer_output(output), state["mask"], site, edit)
            return (new, *output[1:]) if isinstance(output, tuple) else new

        return hook

    handles: list[RemovableHandle] = []
    with counted(handle):
        try:
            handles.append(handle.body.register_forward_pre_hook(record, with_kwargs=True))
            for site in listed:
                module = handle.layers[site.layer]
                if site.point == "resid_pre":
                    handles.append(module.register_forward_pre_hook(pre(site), with_kwargs=True))
                else:
                    handles.append(module.register_forward_hook(post(site)))
            yield
        finally:
            for h in handles:
                h.remove()


def no_op(handle: ModelHandle, sites: Site | Sequence[Site]) -> AbstractContextManager[None]:
    """An intervention that changes nothing (alpha 0, zero direction): sites checked, no hook installed."""
    check_sites(sites, handle.n_layers)
    return nullcontext()
