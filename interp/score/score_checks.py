"""The numeric conformance checks (`interp.score.conformance`): the same scores computed two ways (twice, one by
one vs batched, left vs right padding, the model's own head, prompt-cached) must agree within a rounding
bound, and scores must be finite in each checked dtype. Each returns (passed, detail).

>>> dtype_name(torch.bfloat16)
'bf16'
"""

from __future__ import annotations

import copy
import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from interp.models import ModelHandle
from interp.render import PaddingSide, encode_pairs
from interp.score import score_encoded
from interp.sweep.prefix import CachedScorer

SHORT = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}

# Scores computed twice with reductions in another order (another batch shape, padding side or cache split)
# differ by rounding only. Reordering a length-n dot product moves it by about sqrt(n)·u·Σ|terms| (random-walk
# rounding, u = eps/2 = 2^-24 in fp32); with n up to 4096 and about 7 such reductions per layer (q, k, v, o,
# gate, up, down) one layer moves a score by sqrt(4096)·sqrt(7)·2^-24 ≈ 1e-5 of its scale, max(1, |s|)
# (the floor covers scores near 0 whose terms cancel). Independent per-layer errors add in quadrature over
# L layers. A body running in another dtype scales this by its eps relative to fp32's.
FP32_PER_LAYER = 1e-5


def body_dtype(handle: ModelHandle) -> torch.dtype:
    """The dtype the RM's body computes in (its head always runs in fp32)."""
    return next(handle.body.parameters()).dtype


def tolerance(handle: ModelHandle, scores: torch.Tensor) -> torch.Tensor:
    """Per-score bound on rounding differences: 1e-5 · max(1, |s|) · sqrt(n_layers), scaled to the body's dtype.

    >>> FP32_PER_LAYER * math.sqrt(18) * 5.0  # an 18-layer fp32 model, score 5  # doctest: +ELLIPSIS
    0.000212...
    """
    scale = torch.finfo(body_dtype(handle)).eps / torch.finfo(torch.float32).eps
    return FP32_PER_LAYER * scale * math.sqrt(handle.n_layers) * scores.abs().clamp(min=1.0)


def _compare(handle: ModelHandle, what: str, reference: torch.Tensor, other: torch.Tensor) -> tuple[bool, str]:
    if not bool(torch.isfinite(reference).all() and torch.isfinite(other).all()):
        bad = int((~torch.isfinite(reference)).sum() + (~torch.isfinite(other)).sum())
        return False, f"{what}: {bad} of {2 * len(reference)} scores are NaN or infinite"
    bound = tolerance(handle, reference)
    gap = (other - reference).abs()
    formula = f"1e-5·max(1,|s|)·√{handle.n_layers} layers{_dtype_note(handle)}"
    worst = int((gap / bound).argmax())
    if bool((gap <= bound).all()):
        return True, f"{what}: max |Δ| {gap.max().item():.2g} within {formula} = {bound.min().item():.2g} or more"
    return False, (
        f"{what}: |Δ| {gap[worst].item():.2g} at score {reference[worst].item():.5g} exceeds "
        f"{formula} = {bound[worst].item():.2g}"
    )


def _dtype_note(handle: ModelHandle) -> str:
    dtype = body_dtype(handle)
    return "" if dtype == torch.float32 else f"·eps({dtype_name(dtype)})/eps(fp32)"


def dtype_name(dtype: torch.dtype) -> str:
    """The short name of a dtype (fp32, bf16, fp16), for details."""
    return SHORT.get(dtype, str(dtype).removeprefix("torch."))


def _scores(handle: ModelHandle, pairs: Sequence[tuple[str, str]], side: PaddingSide = "right") -> torch.Tensor:
    return score_encoded(handle, encode_pairs(handle.tokenizer, pairs, side))


def determinism(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """Two runs of the same batch give bit-identical scores."""
    first, second = _scores(handle, pairs), _scores(handle, pairs)
    if torch.equal(first, second):
        return True, f"two runs of the same batch of {len(pairs)} are bit-identical"
    mode = " (the model is in training mode: dropout is on; call model.eval())" if handle.model.training else ""
    return False, f"two runs of the same batch differ by up to {(first - second).abs().max().item():.2g}{mode}"


def batch_invariance(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """Scores one by one equal the scores of one right-padded batch, within `tolerance`."""
    one_by_one = torch.cat([_scores(handle, [pair]) for pair in pairs])
    return _compare(handle, f"batch 1 vs batch {len(pairs)} (right-padded)", one_by_one, _scores(handle, pairs))


def padding_invariance(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """Left- and right-padded batches give the same scores, within `tolerance`."""
    return _compare(handle, "left vs right padding", _scores(handle, pairs), _scores(handle, pairs, "left"))


@contextmanager
def _head_in_fp32(handle: ModelHandle) -> Iterator[None]:
    """Let the model's own forward feed a lower-precision body's output to its fp32 head."""
    head = handle.head
    hook = head.register_forward_pre_hook(lambda _m, args: (args[0].to(head.weight.dtype), *args[1:]))
    try:
        yield
    finally:
        hook.remove()


def own_head(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """The toolkit's readout equals the model's own `logits[:, 0]`, within `tolerance`."""
    if not hasattr(handle.model, "score"):
        return True, "the model has no separate score head; the toolkit reports its own forward output"
    enc = encode_pairs(handle.tokenizer, pairs, "right")
    ours = score_encoded(handle, enc)
    on = enc.to(handle.model.device)
    with torch.no_grad(), _head_in_fp32(handle):
        own = handle.model(input_ids=on.input_ids, attention_mask=on.attention_mask).logits[:, 0].float().cpu()
    return _compare(handle, "toolkit readout vs the model's own logits[:, 0] (right-padded batch)", own, ours)


def cached_prefix(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    """Prompt-cached scores (`CachedScorer`) equal full-sequence scores, within `tolerance`."""
    cached = CachedScorer(handle, batch_size=len(pairs)).score_pairs(pairs)
    return _compare(handle, "prompt-cached vs full-sequence scores", _scores(handle, pairs), cached)


def _in_dtype(handle: ModelHandle, dtype: torch.dtype) -> ModelHandle:
    """The handle itself when it already runs in `dtype`, else a copy of the model in `dtype` (head in fp32)."""
    if body_dtype(handle) == dtype:
        return handle
    model: Any = copy.deepcopy(handle.model)
    model.to(dtype)
    if hasattr(model, "score"):
        model.score.float()
    return ModelHandle(model, handle.tokenizer, handle.name, handle.kind)


def finite_in(handle: ModelHandle, pairs: Sequence[tuple[str, str]], dtype: torch.dtype) -> tuple[bool, str]:
    """Every score is finite with the body in `dtype` (a temporary copy unless it runs in it already)."""
    other = _in_dtype(handle, dtype)
    try:
        scores = _scores(other, pairs)
    finally:
        if other is not handle:
            del other
            gc.collect()
    bad = int((~torch.isfinite(scores)).sum())
    if bad:
        return (
            False,
            f"{bad} of {len(scores)} scores are NaN or infinite in {dtype_name(dtype)}; score in another dtype",
        )
    span = f"{scores.min().item():.4g} to {scores.max().item():.4g}"
    if dtype != body_dtype(handle):
        gap = (scores - _scores(handle, pairs)).abs().max().item()
        span += f", max |Δ| {gap:.2g} vs {dtype_name(body_dtype(handle))}"
    return True, f"{len(scores)} of {len(scores)} scores finite in {dtype_name(dtype)} ({span})"
