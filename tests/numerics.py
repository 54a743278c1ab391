"""Tolerances derived from the arithmetic: how far fp32 rounding alone can move an RM's scores.

Batch size and padding side change only the order of fp32 sums (kernels block a matrix product differently
for other shapes and thread counts), never what is summed. Two runs that differ only in summation order both
lie within the fp32 rounding error of the exact score, so they differ by at most twice that error. We measure
the error against the same weights in fp64 (rounding ~1e-16, i.e. exact at this scale) and allow a factor 4
(twice the bound, as each configuration's own rounding may exceed batch 1's). A real padding or readout bug
moves scores by far more (the wrong token's score, a shifted position): ~1e-2 to 1, not ~1e-5.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from interp.models import ModelHandle
from interp.render import encode_pairs
from interp.score import readout_hidden, reward_scores

ORDER_FACTOR = 4.0


@torch.no_grad()
def fp64_scores(rm: ModelHandle, pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
    """The RM's scores with every weight and the head in fp64 (one pair per forward, no padding)."""
    model = copy.deepcopy(rm.model).double()
    out = []
    for pair in pairs:
        enc = encode_pairs(rm.tokenizer, [pair])
        hidden = model.base_model(
            input_ids=enc.input_ids, attention_mask=enc.attention_mask, position_ids=enc.position_ids, use_cache=False
        ).last_hidden_state
        out.append(model.score(readout_hidden(hidden, enc.readout))[:, 0])
    del model
    return torch.cat(out)


def reduction_order_tolerance(rm: ModelHandle, pairs: Sequence[tuple[str, str]]) -> float:
    """The largest score change a different fp32 summation order can cause on these pairs (see module doc)."""
    error = (reward_scores(rm, pairs, batch_size=1).double() - fp64_scores(rm, pairs)).abs().max().item()
    return ORDER_FACTOR * max(error, float(torch.finfo(torch.float32).eps))
