"""Token positions of a padded batch that a site names, found from the attention mask alone.

Real tokens of a row are contiguous (left or right padding), so a row is described by its first real
token and its length; positions count real tokens, which makes every result independent of padding side.

>>> import torch
>>> mask = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 0]])
>>> token_index(mask, "readout").tolist(), token_index(mask, 0).tolist(), token_index(mask, -2).tolist()
([3, 1], [1, 0], [2, 0])
>>> hidden = torch.arange(8.0).reshape(2, 4, 1)
>>> Gather.of(mask, "all")(hidden)[..., 0].tolist()
[[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from interp._util.errors import UserError
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
        raise UserError(
            f"Token position {position} is outside row {bad[0]}, which has "
            f"{int(length[bad[0]])} real tokens; use a position within every row or 'readout'."
        )
    return start + index


@dataclass(frozen=True)
class Gather:
    """Precomputed indices that pick a site's tokens from (batch, seq, d) hidden states of one batch.

    Build it once per batch (`Gather.of(mask, position)`) and apply it to every layer's hidden states.
    """

    rows: torch.Tensor
    index: torch.Tensor
    keep: torch.Tensor | None  # (batch, width) real-token mask for position `all`, else None

    @classmethod
    def of(cls, mask: torch.Tensor, position: Position) -> Gather:
        rows = torch.arange(mask.shape[0], device=mask.device)
        if position != "all":
            return cls(rows, token_index(mask, position), None)
        start, length = _span(mask)
        width = int(length.max()) if len(length) else 0
        offsets = torch.arange(width, device=mask.device)
        index = (start[:, None] + offsets).clamp(max=mask.shape[1] - 1)
        return cls(rows[:, None], index, offsets < length[:, None])

    def to(self, device: torch.device) -> Gather:
        return Gather(self.rows.to(device), self.index.to(device), None if self.keep is None else self.keep.to(device))

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        g = self if self.rows.device == hidden.device else self.to(hidden.device)  # layers over several devices
        picked = hidden[g.rows, g.index]
        return picked if g.keep is None else picked * g.keep.unsqueeze(-1).to(picked.dtype)


def position_mask(mask: torch.Tensor, position: Position) -> torch.Tensor:
    """Boolean (batch, seq) marking the tokens a site names: real tokens for `all`, else one per row."""
    if position == "all":
        return mask.bool()
    chosen = torch.zeros(mask.shape, dtype=torch.bool, device=mask.device)
    chosen[torch.arange(mask.shape[0], device=mask.device), token_index(mask, position)] = True
    return chosen
