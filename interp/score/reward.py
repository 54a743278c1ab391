"""Reward scores of (prompt, answer) pairs: the body's final-norm state at the readout token, then the head.

`body_forward` is the one run of the body on an encoded batch (also the torch hooks backend's), `body_readout`
its readout states; the head runs in fp32 on them. Position ids count real tokens, so padding side and batch
size do not change a score.

>>> scores = reward_scores(rm, [("What is best?", "Love")])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from interp._util.errors import UserError
from interp.models import ModelHandle
from interp.models.registry import Readout, read_score
from interp.render import Encoded, PaddingSide, encode_pairs


def head_on(handle: ModelHandle, final_hidden: torch.Tensor) -> torch.Tensor:
    """Apply the RM's scalar head (fp32) to final-norm hidden states of shape (batch, d_model)."""
    head = handle.head
    return head(final_hidden.to(head.weight.device, torch.float32))[:, 0]


def readout_hidden(hidden: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
    """Pick each row's readout token: (batch, seq, d) -> (batch, d)."""
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), readout.to(hidden.device)]


def body_forward(handle: ModelHandle, enc: Encoded) -> Any:
    """Run the decoder stack on a batch with explicit position ids (so padding side never matters)."""
    enc = enc.to(handle.model.device)
    return handle.body(
        input_ids=enc.input_ids, attention_mask=enc.attention_mask, position_ids=enc.position_ids, use_cache=False
    )


def body_readout(handle: ModelHandle, enc: Encoded) -> torch.Tensor:
    """The body's final-norm state at each row's readout token, (batch, d_model) in the model's dtype and on its
    device; gradients flow when enabled."""
    return readout_hidden(body_forward(handle, enc).last_hidden_state, enc.readout)


@torch.no_grad()
def score_encoded(handle: ModelHandle, enc: Encoded, readout_kind: Readout = "logits0") -> torch.Tensor:
    """Scores of one encoded batch, as fp32 on the CPU."""
    if not hasattr(handle.model, "score"):  # remote-code RMs with their own output type
        enc = enc.to(handle.model.device)
        out = handle.model(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        return read_score(out, readout_kind).cpu()
    return head_on(handle, body_readout(handle, enc)).cpu()


def check_finite(scores: torch.Tensor, what: str) -> torch.Tensor:
    """Raise a clear error when any score is NaN or infinite."""
    bad = (~torch.isfinite(scores)).nonzero().flatten().tolist()
    if bad:
        raise UserError(
            f"{len(bad)} {what} are NaN or infinite (first at index {bad[0]}); "
            "try --dtype float32 or check the model weights."
        )
    return scores


def reward_scores(
    handle: ModelHandle,
    pairs: Sequence[tuple[str, str]],
    batch_size: int = 16,
    padding_side: PaddingSide = "right",
) -> torch.Tensor:
    """Reward of each (prompt, answer) pair, rendered with the RM's chat template; shape (len(pairs),)."""
    if handle.kind != "rm":
        raise UserError(f"'{handle.name}' is loaded as a language model; load it with load_rm to score rewards.")
    chunks = [
        score_encoded(handle, encode_pairs(handle.tokenizer, pairs[i : i + batch_size], padding_side))
        for i in range(0, len(pairs), batch_size)
    ]
    return check_finite(torch.cat(chunks) if chunks else torch.empty(0), "reward scores")
