"""Token positions of a padded batch that a site names, found from the attention mask alone.

Real tokens of a row are contiguous (left or right padding), so a row is described by its first real
token and its length; positions count real tokens, which makes every result independent of padding side.

>>> import torch
>>> mask = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 0]])
>>> token_index(mask, "readout").tolist(), token_index(mask, 0).tolist(), token_index(mask, -2).tolist()
([3, 1], [1, 0], [2, 0])
>>> hidden = torch.arange(8.0).reshape(2, 4, 1)
>>> gather(hidden, mask, "all")[..., 0].tolist()
[[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]
"""

from __future__ import annotations

import torch

from interp.errors import UserError
from interp.hooks.site import Position


def _span(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First real token index and number of real tokens of each row."""
    width = mask.shape[-1]
    last = width - 1 - mask.flip(-1).long().argmax(-1)
    length = mask.long().sum(-1)
    return last - length + 1, length


def token_index(mask: torch.Tensor, position: Position) -> torch.Tensor:
    """Index into the padded sequence of one token per row: the readout token or a real-token index."""
    start, length = _span(mask)
    if position == "readout":
        return start + length - 1
    if position == "all" or isinstance(position, str):
        raise ValueError("token_index needs a single position, not 'all'")
    index = length + position if position < 0 else torch.full_like(length, position)
    bad = ((index < 0) | (index >= length)).nonzero().flatten().tolist()
    if bad:
        raise UserError(f"Token position {position} is outside row {bad[0]}, which has "
                        f"{int(length[bad[0]])} real tokens; use a position within every row or 'readout'.")
    return start + index


def gather(hidden: torch.Tensor, mask: torch.Tensor, position: Position) -> torch.Tensor:
    """(batch, seq, d) -> (batch, d) at one position, or (batch, longest row, d) for `all` (zeros past a row's end)."""
    mask = mask.to(hidden.device)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    if position != "all":
        return hidden[rows, token_index(mask, position)]
    start, length = _span(mask)
    width = int(length.max()) if len(length) else 0
    offsets = torch.arange(width, device=hidden.device)
    index = (start[:, None] + offsets).clamp(max=hidden.shape[1] - 1)
    picked = hidden[rows[:, None], index]
    return picked * (offsets < length[:, None]).unsqueeze(-1).to(picked.dtype)


def position_mask(mask: torch.Tensor, position: Position) -> torch.Tensor:
    """Boolean (batch, seq) marking the tokens a site names: real tokens for `all`, else one per row."""
    if position == "all":
        return mask.bool()
    chosen = torch.zeros(mask.shape, dtype=torch.bool, device=mask.device)
    chosen[torch.arange(mask.shape[0], device=mask.device), token_index(mask, position)] = True
    return chosen
