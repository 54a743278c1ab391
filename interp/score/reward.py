"""Reward scores of (prompt, answer) pairs: the body's final-norm state at the readout token, then the head.

The head runs in fp32 on the readout hidden state; position ids count real tokens, so padding side and
batch size do not change a score.

>>> scores = reward_scores(rm, [("What is best?", "Love")])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

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


@torch.no_grad()
def score_encoded(handle: ModelHandle, enc: Encoded, readout_kind: Readout = "logits0") -> torch.Tensor:
    """Scores of one encoded batch, as fp32 on the CPU."""
    device = handle.model.device
    enc = enc.to(device)
    if not hasattr(handle.model, "score"):  # remote-code RMs with their own output type
        out = handle.model(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        return read_score(out, readout_kind).cpu()
    hidden = handle.body(
        input_ids=enc.input_ids,
        attention_mask=enc.attention_mask,
        position_ids=enc.position_ids,
        use_cache=False,
    ).last_hidden_state
    return head_on(handle, readout_hidden(hidden, enc.readout)).cpu()


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
