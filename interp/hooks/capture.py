"""Read the residual stream at chosen sites, batched, straight to CPU, with any of three backends.

Only the sites asked for are kept (gathered at their positions inside the hook), and the forward pass
stops right after the last layer needed. Every backend gives the same numbers (fp32: within 1e-5).

>>> acts = capture(rm, texts, Site.grid(range(rm.n_layers)))  # doctest: +SKIP
>>> acts[Site(3)].shape  # (len(texts), d_model)  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from interp._util.errors import UserError
from interp.hooks.active import active_interventions
from interp.hooks.backend import get_backend
from interp.hooks.positions import Gather
from interp.hooks.site import Point, Position, Site, check_sites
from interp.hooks.types import BackendName
from interp.models import ModelHandle
from interp.render import Encoded, PaddingSide, encode_texts
from interp.score import head_on, readout_hidden

Inputs = Encoded | Sequence[str]


def batches(
    handle: ModelHandle, inputs: Inputs, batch_size: int, padding_side: PaddingSide = "right"
) -> Iterator[Encoded]:
    """Encoded batches: slices of an `Encoded`, or rendered texts tokenized (one BOS) batch by batch."""
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    if isinstance(inputs, str):
        raise UserError("capture takes a list of texts, not a single string; wrap it in a list.")
    if isinstance(inputs, Encoded):
        fields = (inputs.input_ids, inputs.attention_mask, inputs.position_ids, inputs.readout)
        for i in range(0, inputs.input_ids.shape[0], batch_size):
            yield Encoded(*(t[i : i + batch_size] for t in fields))
        return
    for i in range(0, len(inputs), batch_size):
        yield encode_texts(handle.tokenizer, inputs[i : i + batch_size], padding_side)


def _check_no_interventions(handle: ModelHandle, backend: str) -> None:
    if backend != "torch" and active_interventions(handle):
        raise UserError(
            f"Interventions run as torch hooks and are invisible to backend {backend}; "
            "capture inside an intervention with backend='torch'."
        )


def capture_batch(
    handle: ModelHandle, enc: Encoded, sites: Sequence[Site], backend: BackendName = "torch"
) -> dict[Site, torch.Tensor]:
    """Activations of one encoded batch at each site, on the CPU, in the model's dtype."""
    sites = check_sites(sites, handle.n_layers)
    _check_no_interventions(handle, backend)
    by_point: dict[tuple[int, Point], list[Site]] = defaultdict(list)
    for site in sites:
        by_point[(site.layer, site.point)].append(site)
    wanted = sorted(by_point, key=lambda lp: Site(lp[0], lp[1]).order)
    mask = enc.attention_mask.to(handle.model.device)
    pickers = {site.position: _picker(mask, site.position) for site in sites}  # once per batch, not per layer
    out: dict[Site, torch.Tensor] = {}

    def take(layer: int, point: Point, hidden: torch.Tensor) -> None:
        for site in by_point[(layer, point)]:
            out[site] = pickers[site.position](hidden.detach())

    get_backend(backend).run(handle, enc, wanted, take)
    missing = [s.name for s in sites if s not in out]
    if missing:
        raise UserError(f"Backend {backend} did not reach site {missing[0]}; use backend torch.")
    return _to_cpu({site: out[site] for site in sites})


def _picker(mask: torch.Tensor, position: Position) -> Callable[[torch.Tensor], torch.Tensor]:
    """What picks a site's tokens from each layer's (batch, seq, d) hidden states: for one token per row, a
    single `index_select` of flat row indices computed once per batch (cheaper per layer than `Gather`'s
    two-index lookup, and no host sync); `Gather` for position `all`."""
    gather = Gather.of(mask, position)
    if gather.keep is not None:
        return gather
    flat = gather.rows * mask.shape[1] + gather.index

    def pick(hidden: torch.Tensor) -> torch.Tensor:
        index = flat if flat.device == hidden.device else flat.to(hidden.device)  # layers over several devices
        return hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)

    return pick


def _to_cpu(tensors: dict[Site, torch.Tensor]) -> dict[Site, torch.Tensor]:
    """Move every tensor to the CPU with one device-to-host copy (one sync per batch, not one per site)."""
    values = list(tensors.values())
    if all(t.device.type == "cpu" for t in values) or len({t.dtype for t in values}) > 1:
        return {site: t.cpu() for site, t in tensors.items()}
    flat = torch.cat([t.reshape(-1) for t in values]).cpu()
    parts = flat.split([t.numel() for t in values])
    return {site: part.view(t.shape) for (site, t), part in zip(tensors.items(), parts, strict=True)}


def _concat(parts: list[torch.Tensor], position: object) -> torch.Tensor:
    if position != "all":
        return torch.cat(parts)
    width = max(p.shape[1] for p in parts)
    return torch.cat([F.pad(p, (0, 0, 0, width - p.shape[1])) for p in parts])


def capture(
    handle: ModelHandle,
    inputs: Inputs,
    sites: Site | Sequence[Site],
    backend: BackendName = "torch",
    batch_size: int = 16,
    padding_side: PaddingSide = "right",
    on_batch: Callable[[int], None] | None = None,
) -> dict[Site, torch.Tensor]:
    """Activations at each site for every input: (n, d_model), or (n, longest, d_model) for position `all`.

    `inputs` are rendered texts (tokenized with exactly one BOS) or an `Encoded` batch. Position `all`
    returns real tokens left-aligned (token j is position id j) with zeros past a row's end, whatever the
    padding side. `on_batch(n_rows)` is called after each batch (for progress bars).
    """
    listed = check_sites(sites, handle.n_layers)
    parts: dict[Site, list[torch.Tensor]] = {s: [] for s in listed}
    for enc in batches(handle, inputs, batch_size, padding_side):
        for site, acts in capture_batch(handle, enc, listed, backend).items():
            parts[site].append(acts)
        if on_batch is not None:
            on_batch(enc.input_ids.shape[0])
    if not any(parts.values()):
        raise UserError("No inputs to capture; give at least one text.")
    return {site: _concat(chunks, site.position) for site, chunks in parts.items()}


def scores_with(handle: ModelHandle, enc: Encoded, backend: BackendName = "torch") -> torch.Tensor:
    """Reward scores of one encoded batch computed through a backend (fp32 head on the final-norm readout)."""
    if handle.kind != "rm" or not hasattr(handle.model, "score"):
        raise UserError(f"'{handle.name}' has no scalar score head; load it with load_rm to score rewards.")
    _check_no_interventions(handle, backend)
    hidden = get_backend(backend).final_hidden(handle, enc)
    return head_on(handle, readout_hidden(hidden, enc.readout.to(hidden.device))).detach().cpu()
