"""The TransformerLens 4.3 backend: a `TransformerBridge` around a causal-LM shell of the model.

TransformerLens takes only causal LMs, and building a bridge replaces submodules of the model it wraps.
So the bridge wraps a *shell*: a causal-LM of the same config whose body is a structural copy of
`handle.body` that shares every parameter and buffer with it (no weight is copied, the user's model is
left untouched). An RM's score head is applied by the caller to the `ln_final` output, which is read
from a hook and ends the pass before the unused LM head. Residuals stay in the raw HF coordinate frame
(no weight folding or centring). `resid_pre`/`resid_post` are `blocks.{i}.hook_resid_pre/post`.

Exactness (measured on SmolLM2-135M and Gemma-3-270M, fp32 CPU): position ids are always passed, so left-
and right-padded ragged batches both match HF bit for bit when HF runs eager attention. TransformerLens
computes attention eagerly; against HF's SDPA kernel the deepest SmolLM2 residuals (norm ~800) differ by up
to ~1e-3 absolute, ~1e-6 relative, on either padding side (reward scores within 1e-5). So the ~1e-4
left-padding difference noted in DESIGN.md is not seen here, with explicit position ids.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForCausalLM

from interp._util.errors import UserError
from interp.hooks.site import Point
from interp.hooks.types import StopForward, Take
from interp.models import ModelHandle
from interp.render import Encoded

NAME = "transformer_lens"
_bridges: weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple[int, ...], Any]] = weakref.WeakKeyDictionary()


def _shared_copy(module: torch.nn.Module) -> Any:
    """A deep copy of the module tree whose parameters and buffers are the original tensors, without hooks."""
    tensors = [*module.parameters(), *module.buffers()]
    clone = copy.deepcopy(module, memo={id(t): t for t in tensors})
    for sub in clone.modules():  # hooks on the original (e.g. a user's) must not fire in the copy
        sub._forward_hooks.clear()
        sub._forward_pre_hooks.clear()
    return clone


def _shell(handle: ModelHandle) -> Any:
    """A causal LM around a parameter-sharing copy of the handle's body."""
    if handle.kind == "lm":
        return _shared_copy(handle.model)
    config = copy.deepcopy(handle.model.config)
    with torch.device("meta"):  # the shell's own weights are never materialised
        shell: Any = AutoModelForCausalLM.from_config(config)
    body = _shared_copy(handle.body)
    setattr(shell, shell.base_model_prefix, body)
    shell.get_output_embeddings().weight = body.get_input_embeddings().weight
    return shell.eval()


def bridge(handle: ModelHandle, reaching: str = "the residual stream") -> Any:
    """The (cached) TransformerBridge of this model; rebuilt when the model's parameters are replaced.

    `reaching` names what the caller wants (e.g. `site L3.resid_post`) for the error when TransformerLens
    cannot wrap the architecture.
    """
    from transformer_lens.model_bridge.sources import build_bridge_from_module

    key = tuple(id(p) for p in handle.model.parameters())
    cached = _bridges.get(handle.model)
    if cached is not None and cached[0] == key:
        return cached[1]
    shell = _shell(handle)
    architecture = type(shell).__name__
    try:
        built = build_bridge_from_module(shell, architecture, hf_config=shell.config, tokenizer=handle.tokenizer)
    except (ValueError, NotImplementedError, KeyError) as err:
        raise UserError(
            f"Cannot reach {reaching} with backend {NAME}: TransformerLens 4.3 cannot wrap "
            f"{architecture} ({str(err).splitlines()[0]}); use backend torch or nnsight."
        ) from err
    _bridges[handle.model] = (key, built)
    return built


def _hook_name(model: Any, layer: int, point: Point) -> str:
    name = f"blocks.{layer}.hook_{point}"
    if name not in model.hook_dict:
        raise UserError(
            f"Cannot reach site L{layer}.{point} with backend {NAME}: this architecture's bridge "
            f"has no hook {name}; use backend torch."
        )
    return name


def _forward(model: Any, enc: Encoded, hooks: list[tuple[str, Any]]) -> None:
    enc = enc.to(model.cfg.device)
    with contextlib.suppress(StopForward):
        model.run_with_hooks(
            enc.input_ids,
            fwd_hooks=hooks,
            attention_mask=enc.attention_mask,
            position_ids=enc.position_ids,
            use_cache=False,
            return_type=None,
        )


def _hook(layer: int, point: Point, take: Take, stop: bool) -> Any:
    def hook(tensor: torch.Tensor, hook: Any) -> None:
        take(layer, point, tensor)
        if stop:
            raise StopForward

    return hook


@torch.no_grad()
def run(handle: ModelHandle, enc: Encoded, wanted: Sequence[tuple[int, Point]], take: Take) -> None:
    """Hook `blocks.{i}.hook_resid_pre/post` for the wanted points; stop after the last."""
    model = bridge(handle, f"site L{wanted[0][0]}.{wanted[0][1]}")
    hooks = [
        (_hook_name(model, layer, point), _hook(layer, point, take, i == len(wanted) - 1))
        for i, (layer, point) in enumerate(wanted)
    ]
    _forward(model, enc, hooks)


@torch.no_grad()
def final_hidden(handle: ModelHandle, enc: Encoded) -> torch.Tensor:
    """The `ln_final` output (the body's final norm), read before the LM head runs."""
    model = bridge(handle, "the final norm")
    if "ln_final.hook_out" not in model.hook_dict:
        raise UserError(f"The final norm cannot be reached with backend {NAME} for '{handle.name}'; use backend torch.")
    out: list[torch.Tensor] = []

    def keep(tensor: torch.Tensor, hook: Any) -> None:
        out.append(tensor)
        raise StopForward

    _forward(model, enc, [("ln_final.hook_out", keep)])
    return out[0]
