"""Models too big for one device: accelerate's `device_map`, with the toolkit's hooks and fp32 head working.

`load_placed(name)` loads with `device_map="auto"` (layers over the visible GPUs, then CPU, then disk),
bf16 on GPUs; `dispatch(handle, device_map)` spreads a model already loaded. Both end in `place`, which
makes the rest of the toolkit work unchanged:

- the body returns its final hidden state on the device its inputs were sent to (`handle.model.device`,
  the embeddings' device), as accelerate does for the whole model, so scoring and the prompt-cache sweep
  index it there;
- the fp32 score head sits next to that output (an offloaded head's weights are loaded from accelerate's
  weights map), behind an accelerate hook so `handle.model(...)` keeps working;
- the fingerprint is computed from the real weights, offloaded ones included, so sweep shards and stores
  written by a one-device run of the same model are accepted.

Hooks on `handle.layers[i]` (captures, interventions) need nothing more: they see each layer's hidden
states on that layer's device, and `gather` / `edit_sites` move their masks there.

>>> rm = load_placed("Skywork/Skywork-Reward-V2-Llama-3.1-8B")  # bf16 over every GPU  # doctest: +SKIP

Here a tiny random RM is split between the CPU and the disk, and scores as before:

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.score import reward_scores
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))  # 4 layers
>>> pairs = [("What is best?", "Love"), ("What is best?", "Power")]
>>> before, fingerprint_before = reward_scores(rm, pairs), rm.fingerprint
>>> devices = layer_map(rm, ["cpu", "disk"])  # layers 0-1 and the embeddings on the CPU, the rest on disk
>>> devices["model.embed_tokens"], devices["model.layers.1"], devices["model.layers.2"], devices["score"]
('cpu', 'cpu', 'disk', 'disk')
>>> placed = dispatch(rm, devices, tempfile.mkdtemp(), main_device="cpu")
>>> torch.allclose(reward_scores(placed, pairs), before), placed.fingerprint == fingerprint_before
(True, True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from accelerate import dispatch_model
from accelerate.hooks import AlignDevicesHook, add_hook_to_module, remove_hook_from_module
from accelerate.utils import set_module_tensor_to_device
from transformers import PreTrainedModel
from transformers.integrations.accelerate import load_offloaded_parameter

from interp._util.errors import UserError
from interp.models import Kind, ModelHandle, fingerprint, load_lm, load_rm

Device = str | int
DeviceMap = str | dict[str, Device]


def default_dtype() -> str:
    """bf16 on GPUs, fp32 on the CPU (the reference for exactness)."""
    return "bfloat16" if torch.cuda.is_available() else "float32"


def load_placed(
    name: str,
    kind: Kind = "rm",
    device_map: DeviceMap = "auto",
    dtype: str | None = None,
    trust_remote_code: bool = False,
) -> ModelHandle:
    """An RM (or LM) spread over devices by `device_map` (default "auto"), ready for the toolkit."""
    load = load_rm if kind == "rm" else load_lm
    handle = load(name, dtype=dtype or default_dtype(), device_map=device_map, trust_remote_code=trust_remote_code)
    return place(handle)


def layer_map(handle: ModelHandle, devices: Sequence[Device]) -> dict[str, Device]:
    """An explicit device map: decoder layers split evenly over `devices` in order, the modules before them
    (embeddings) on the first device, those after them (final norm) and the head on the last (example in the
    module doc)."""
    if not devices:
        raise UserError("Give at least one device to spread the layers over.")
    names = {id(m): n for n, m in handle.model.named_modules()}
    out: dict[str, Device] = {}
    after = False
    for child, module in handle.body.named_children():
        full = f"{names[id(handle.body)]}.{child}".lstrip(".")
        if module is handle.layers:
            out.update({f"{full}.{i}": devices[i * len(devices) // handle.n_layers] for i in range(handle.n_layers)})
            after = True
        else:
            out[full] = devices[-1] if after else devices[0]
    for child, module in handle.model.named_children():
        if module is not handle.body:
            out[child] = devices[-1]
    return out


def dispatch(
    handle: ModelHandle,
    device_map: dict[str, Device],
    offload_dir: str | os.PathLike[str] | None = None,
    main_device: Device | None = None,
) -> ModelHandle:
    """Spread a loaded model over `device_map` (module name -> device, "cpu" or "disk") and `place` it.

    The fingerprint is taken before dispatch; "disk" entries need `offload_dir`. `main_device` is
    accelerate's: by default the first GPU in the map, and modules mapped to "cpu" are then offloaded
    (kept in CPU memory, run on that GPU); with `main_device="cpu"` they run on the CPU.
    """
    known = handle.fingerprint
    if "disk" in device_map.values() and offload_dir is None:
        raise UserError("The device map offloads modules to 'disk'; give an offload folder for their weights.")
    try:
        dispatch_model(
            handle.model,
            device_map,
            main_device=main_device,
            offload_dir=offload_dir,
            skip_keys=getattr(handle.model, "_skip_keys_device_placement", None),
            force_hooks=True,
        )
    except ValueError as err:
        raise UserError(f"The device map does not fit this model ({str(err).splitlines()[0]}).") from err
    return place(ModelHandle(handle.model, handle.tokenizer, handle.name, handle.kind, known))


def place(handle: ModelHandle) -> ModelHandle:
    """Make a dispatched model work with the toolkit (see the module doc); use the returned handle.

    Harmless on a model on one device.
    """
    model = handle.model
    if model.device.type == "meta":
        raise UserError(
            "The model's embeddings are offloaded (meta device); map them to a GPU or 'cpu' in the device map."
        )
    known = handle._fingerprint or weights_fingerprint(model)
    body = handle.body
    if not getattr(body, "_rm_interp_placed", False):
        body.register_forward_hook(_to_input_device, with_kwargs=True)
        body._rm_interp_placed = True
    if handle.kind == "rm" and hasattr(model, "score"):
        _place_head(model, model.device)
    return ModelHandle(model, handle.tokenizer, handle.name, handle.kind, known)


def _to_input_device(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
    """Forward hook on the body: return `last_hidden_state` on the device of `input_ids` / `inputs_embeds`."""
    given = kwargs.get("input_ids", args[0] if args else None)
    if given is None:
        given = kwargs.get("inputs_embeds")
    hidden = getattr(output, "last_hidden_state", None)
    if given is None or hidden is None or hidden.device == given.device:
        return None
    output.last_hidden_state = hidden.to(given.device)
    return output


def _dispatched(model: torch.nn.Module) -> bool:
    return any(hasattr(m, "_hf_hook") for m in model.modules())


def _place_head(model: PreTrainedModel, device: torch.device) -> None:
    """Put the `score` head's weights, fp32, on `device` (loading offloaded ones), with a matching hook."""
    head = model.get_submodule("score")
    values = {
        n: load_offloaded_parameter(model, f"score.{n}") if p.is_meta else p.detach()
        for n, p in head.named_parameters()
    }
    hooked = _dispatched(model)
    remove_hook_from_module(head)
    for n, value in values.items():
        set_module_tensor_to_device(head, n, device, value=value, dtype=torch.float32)
    if hooked:
        add_hook_to_module(head, AlignDevicesHook(execution_device=device))
        placed = getattr(model, "hf_device_map", None)
        if isinstance(placed, dict):
            placed["score"] = str(device)


def weights_fingerprint(model: PreTrainedModel) -> str:
    """`interp.models.fingerprint` of a dispatched model; offloaded (meta) weights are read, one at a time,
    from accelerate's weights map, so it equals the fingerprint of the same model on one device."""
    if not any(p.is_meta for p in model.parameters()):
        return fingerprint(model)

    def named_parameters(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        for name, param in model.named_parameters():
            yield name, load_offloaded_parameter(model, name) if param.is_meta else param

    # A stand-in with the same class name, config and (loaded) weights, so the digest is the same.
    view = type(type(model).__name__, (torch.nn.Module,), {"named_parameters": named_parameters})()
    view.config = getattr(model, "config", None)
    return fingerprint(view)
