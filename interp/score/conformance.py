"""Conformance of a reward model to the toolkit's scoring promises, as a list of named pass/fail checks.

Each check runs a few fixed (prompt, answer) pairs through the RM as given (its dtype, device and mode) and
compares two ways of computing the same scores, or inspects the rendered tokens for a known trap: a doubled
BOS, a missing end-of-turn token, a readout off the last real token, a pad token that collides with EOS or the
end of turn. A check that cannot run counts as failed; NaN scores fail their check and never raise.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("gemma3", tempfile.mkdtemp())))  # a tiny random RM
>>> checks = conformance(rm, dtypes=["fp32"])  # the default also checks bf16 and fp16 copies
>>> [c.check for c in checks if not c.passed], len(checks)
([], 10)
"""

from __future__ import annotations

import copy
import gc
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from interp._util.errors import UserError
from interp.models import DTYPES, ModelHandle
from interp.render import PaddingSide, encode_pairs, pad_ids, render_pair, token_ids
from interp.score import score_encoded
from interp.sweep.prefix import CachedScorer

# Answers of different token lengths (so batches pad), two answers or more per prompt (so prompt caching has a
# shared prefix), and a prompt long enough to cross a small sliding window.
PAIRS: tuple[tuple[str, str], ...] = (
    ("What, in one word, is the best thing ever?", "Love"),
    ("What, in one word, is the best thing ever?", "Freedom and success"),
    ("What, in one word, is the best thing ever?", "A family"),
    ("Name the most important thing in a long and happy life.", "Kindness"),
    ("Name the most important thing in a long and happy life.", "Power, wealth and achievement"),
)
CHECK_DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")
SHORT = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}

# Scores computed twice with reductions in another order (another batch shape, padding side or cache split)
# differ by rounding only. Reordering a length-n dot product moves it by about sqrt(n)·u·Σ|terms| (random-walk
# rounding, u = eps/2 = 2^-24 in fp32); with n up to 4096 and about 7 such reductions per layer (q, k, v, o,
# gate, up, down) one layer moves a score by sqrt(4096)·sqrt(7)·2^-24 ≈ 1e-5 of its scale, max(1, |s|)
# (the floor covers scores near 0 whose terms cancel). Independent per-layer errors add in quadrature over
# L layers. A body running in another dtype scales this by its eps relative to fp32's.
FP32_PER_LAYER = 1e-5


@dataclass(frozen=True)
class Check:
    """One conformance check: its name, whether it passed, and what was measured (with the bound used)."""

    check: str
    passed: bool
    detail: str


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
    return "" if dtype == torch.float32 else f"·eps({_name(dtype)})/eps(fp32)"


def _name(dtype: torch.dtype) -> str:
    return SHORT.get(dtype, str(dtype).removeprefix("torch."))


def _scores(handle: ModelHandle, pairs: Sequence[tuple[str, str]], side: PaddingSide = "right") -> torch.Tensor:
    return score_encoded(handle, encode_pairs(handle.tokenizer, pairs, side))


def _determinism(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    first, second = _scores(handle, pairs), _scores(handle, pairs)
    if torch.equal(first, second):
        return True, f"two runs of the same batch of {len(pairs)} are bit-identical"
    mode = " (the model is in training mode: dropout is on; call model.eval())" if handle.model.training else ""
    return False, f"two runs of the same batch differ by up to {(first - second).abs().max().item():.2g}{mode}"


def _batch(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    one_by_one = torch.cat([_scores(handle, [pair]) for pair in pairs])
    return _compare(handle, f"batch 1 vs batch {len(pairs)} (right-padded)", one_by_one, _scores(handle, pairs))


def _padding(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
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


def _own_head(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    if not hasattr(handle.model, "score"):
        return True, "the model has no separate score head; the toolkit reports its own forward output"
    enc = encode_pairs(handle.tokenizer, pairs, "right")
    ours = score_encoded(handle, enc)
    on = enc.to(handle.model.device)
    with torch.no_grad(), _head_in_fp32(handle):
        own = handle.model(input_ids=on.input_ids, attention_mask=on.attention_mask).logits[:, 0].float().cpu()
    return _compare(handle, "toolkit readout vs the model's own logits[:, 0] (right-padded batch)", own, ours)


def _cached(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
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


def _finite(handle: ModelHandle, pairs: Sequence[tuple[str, str]], dtype: torch.dtype) -> tuple[bool, str]:
    other = _in_dtype(handle, dtype)
    try:
        scores = _scores(other, pairs)
    finally:
        if other is not handle:
            del other
            gc.collect()
    bad = int((~torch.isfinite(scores)).sum())
    if bad:
        return False, f"{bad} of {len(scores)} scores are NaN or infinite in {_name(dtype)}; score in another dtype"
    span = f"{scores.min().item():.4g} to {scores.max().item():.4g}"
    if dtype != body_dtype(handle):
        gap = (scores - _scores(handle, pairs)).abs().max().item()
        span += f", max |Δ| {gap:.2g} vs {_name(body_dtype(handle))}"
    return True, f"{len(scores)} of {len(scores)} scores finite in {_name(dtype)} ({span})"


def _token(handle: ModelHandle, token_id: int) -> str:
    return f"{handle.tokenizer.decode([token_id])!r} (id {token_id})"


def _special_ids(handle: ModelHandle) -> set[int]:
    tok = handle.tokenizer
    return set(tok.all_special_ids) | {i for i, t in tok.added_tokens_decoder.items() if t.special}


def _end_of_turn(handle: ModelHandle, prompt: str, answer: str) -> int | None:
    """The first special token the template puts after the answer (the end of the assistant's turn)."""
    text = render_pair(handle.tokenizer, prompt, answer)
    at = text.rfind(answer)
    if at < 0:
        raise UserError(f"The template does not show the answer {answer!r} verbatim; check its chat template.")
    special = _special_ids(handle)
    tail = handle.tokenizer(text[at + len(answer) :], add_special_tokens=False).input_ids
    return next((t for t in tail if t in special), None)


def _template_tokens(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    tok = handle.tokenizer
    text = render_pair(tok, *pairs[0])
    ids = token_ids(tok, text)
    round_trip = tok.decode(ids) == text
    bos = tok.bos_token_id
    if bos is None:
        return round_trip, f"the tokenizer uses no BOS; tokens decode back to the text: {_yes(round_trip)}"
    doubled = ids[:2] == [bos, bos]
    again = tok(text).input_ids  # the trap: the rendered text tokenized again with special tokens
    trap = f"; tokenizing the rendered text again with special tokens would start with {_leading(again, bos)}"
    return (not doubled and round_trip), (
        f"starts with {_leading(ids, bos)} BOS {_token(handle, bos)}{trap}; "
        f"tokens decode back to the rendered text: {_yes(round_trip)}"
    )


def _leading(ids: Sequence[int], bos: int) -> int:
    return next((i for i, t in enumerate(ids) if t != bos), len(ids))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _end_of_turn_check(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    found = [_end_of_turn(handle, p, a) for p, a in pairs]
    if any(t is None for t in found):
        return False, "no special end-of-turn token follows the answer in the rendered conversation"
    kinds = sorted({_token(handle, t) for t in found if t is not None})
    return True, f"{', '.join(kinds)} follows the answer in every rendered conversation"


def _readout(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    tok = handle.tokenizer
    rows = [token_ids(tok, render_pair(tok, p, a)) for p, a in pairs]
    wrong = []
    for side in ("left", "right"):
        enc = encode_pairs(tok, pairs, side)
        for i, row in enumerate(rows):
            at = int(enc.readout[i])
            if (
                enc.input_ids[i, at] != row[-1]
                or enc.attention_mask[i, at] != 1
                or enc.position_ids[i, at] != len(row) - 1
            ):
                wrong.append(f"row {i} ({side} padding)")
    if wrong:
        return False, f"the readout is not the last real token in {', '.join(wrong)}"
    last = sorted({_token(handle, r[-1]) for r in rows})
    return True, f"reads the last real token, {', '.join(last)}, with left and right padding"


def _pad_collision(handle: ModelHandle, pairs: Sequence[tuple[str, str]]) -> tuple[bool, str]:
    tok = handle.tokenizer
    pad = int(tok.pad_token_id)
    eot = _end_of_turn(handle, *pairs[0])
    equal = [name for name, t in (("EOS", tok.eos_token_id), ("end of turn", eot)) if t == pad]
    rows = [token_ids(tok, render_pair(tok, p, a)) for p, a in pairs]
    # What masking by pad id (the model's own forward, many trainers) would do: drop real tokens equal to pad.
    dropped = max(row.count(pad) for row in rows)
    on_readout = [i for i, row in enumerate(rows) if row[-1] == pad]
    config_pad = handle.model.config.get_text_config().pad_token_id
    mismatch = "" if config_pad == pad else f"; the model config's pad_token_id is {config_pad}, not {pad}"
    collision = f"pad = {' = '.join(equal)} = {_token(handle, pad)}" if equal else f"pad {_token(handle, pad)}"
    if on_readout:
        # A readout index found from the attention mask stays right (pad_ids), but a pad-id mask, the model's
        # own forward and trainers that use it read an earlier token: scores would disagree with training.
        return False, (
            f"{collision}: the readout token is the pad token in {len(on_readout)} of {len(rows)} conversations, "
            f"so masking by pad id drops it and reads an earlier token; use another pad token{mismatch}"
        )
    # The toolkit finds the readout from the attention mask; a row ending in the pad id must still read its end.
    probe = pad_ids([[*rows[0][:-1], pad], rows[0]], pad, "right")
    safe = int(probe.readout[0]) == len(rows[0]) - 1
    if not equal:
        return safe, f"{collision} is neither EOS nor the end of turn; masking by pad id drops no real token{mismatch}"
    return safe, (
        f"warning: {collision}: masking by pad id would drop {dropped} real token(s) per conversation but not the "
        f"readout token; the toolkit masks by attention mask: {'safe' if safe else 'NOT safe'}{mismatch}"
    )


def conformance(
    handle: ModelHandle,
    pairs: Sequence[tuple[str, str]] = PAIRS,
    dtypes: Sequence[str] = CHECK_DTYPES,
) -> list[Check]:
    """Run every conformance check on an RM (as loaded: its dtype, device and train/eval mode).

    `dtypes` are the dtypes whose scores must be finite (each a temporary copy of the model, freed after).
    A check that raises is reported as failed with the reason; NaN scores never raise.
    """
    if handle.kind != "rm":
        raise UserError(f"'{handle.name}' is loaded as a language model; load it with load_rm to check it.")
    if len(pairs) < 2:
        raise UserError("Conformance needs at least two (prompt, answer) pairs.")
    for name in dtypes:
        if name not in DTYPES:
            raise UserError(f"Unknown dtype '{name}'; use one of: {', '.join(DTYPES)}.")
    checks: list[tuple[str, Callable[..., tuple[bool, str]], tuple[object, ...]]] = [
        ("determinism", _determinism, ()),
        ("batch invariance", _batch, ()),
        ("padding invariance", _padding, ()),
        ("own head", _own_head, ()),
        ("cached prefix", _cached, ()),
        *((f"finite {_name(DTYPES[name])}", _finite, (DTYPES[name],)) for name in dtypes),
        ("template tokens", _template_tokens, ()),
        ("end of turn", _end_of_turn_check, ()),
        ("readout token", _readout, ()),
        ("pad collision", _pad_collision, ()),
    ]
    return [_run(name, partial(run, handle, pairs, *extra)) for name, run, extra in checks]


def _run(name: str, run: Callable[[], tuple[bool, str]]) -> Check:
    try:
        passed, detail = run()
    except Exception as err:  # a check that cannot run is a finding about the model, not a crash
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Check(name, False, f"could not run: {reason}")
    return Check(name, passed, detail)
