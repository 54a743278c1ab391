"""Score many answers per forward pass: prompts and answers packed into rows under a block attention mask.

Prompts first: the prompt prefixes of a group (`SharedPrefixes`) run once as ONE row, their common start
(system turn, ...) once and then each prompt's remainder, every remainder attending to the common start and to
itself. Then answers: each row holds the tails (answer + template tail) of several answers, back to back, after
the keys/values their prompts need (the common start and the remainders of the prompts in that row, gathered
from the prompts' row); a tail token attends to its own prompt's and to the earlier tokens of its own answer
only. Position ids restart after the
prompt for every answer, so each answer sees exactly the keys, values and positions it has in its own full
sequence; its score is read at its own last token. Nothing is padded but the ends of rows.

Sliding-window layers (Gemma 2/3, Qwen2 with a window) get a mask of their own over the same positions (the
cache keeps every key; the mask applies the window); Gemma's attention soft-capping acts before the additive
mask, so it needs nothing. Models whose masks cannot be given this way (attention kernels without arbitrary
masks, sliding windows of an unknown layout, non-attention layers, RMs without a `score` head) are not
`packable`; `CachedScorer` batches their answers on a copied prompt cache instead (`interp.sweep.prefix`).

>>> pack([[5, 6], [7], [8]], [0, 0, 1], row_tokens=3).answer.tolist()  # 4 tokens: 2 rows of about 2
[[0, 0], [1, 2]]
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, pairwise

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from interp.models import ModelHandle
from interp.score import head_on

# Model types whose decoder takes one mask per layer type ({"full_attention": ..., "sliding_attention": ...}).
LAYER_TYPE_MASKS = frozenset({"gemma2", "gemma3_text", "qwen2"})


def packable(handle: ModelHandle) -> bool:
    """Whether answers can be packed for this RM: SDPA or eager attention, a score head, attention layers only
    and a known sliding-window layout."""
    config = handle.model.config.get_text_config()
    if config._attn_implementation not in ("sdpa", "eager") or not hasattr(handle.model, "score"):
        return False
    types = getattr(config, "layer_types", None)
    if types is not None and set(types) - {"full_attention", "sliding_attention"}:
        return False  # linear-attention or other layers keep no per-token keys to mask
    if types is not None and "sliding_attention" in types:
        return config.model_type in LAYER_TYPE_MASKS
    return types is not None or getattr(config, "sliding_window", None) is None


@dataclass(frozen=True)
class Tokens:
    """Where packed tokens come from: prompt (-1: the common start, -2: padding of a prompt's keys), answer
    (-1: none), position, column."""

    prompt: torch.Tensor
    answer: torch.Tensor
    position: torch.Tensor
    column: torch.Tensor

    def fields(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.prompt, self.answer, self.position, self.column

    def to(self, device: torch.device, column_offset: int = 0) -> Tokens:
        """On `device`, columns shifted by `column_offset` (packed rows come after the prompts' row)."""
        return Tokens(
            self.prompt.to(device),
            self.answer.to(device),
            self.position.to(device),
            self.column.to(device) + column_offset,
        )


def _allowed(queries: Tokens, keys: Tokens, window: int | None) -> torch.Tensor:
    """Boolean (..., q, k): a query sees a key of the common start or of its own prompt, or an earlier token of
    its own answer, within the window, and itself (so a padding query, at a row's end, sees something too)."""
    q_prompt, q_answer, q_position, q_column = (t[..., :, None] for t in queries.fields())
    k_prompt, k_answer, k_position, k_column = (t[..., None, :] for t in keys.fields())
    earlier = k_column <= q_column
    prompt_key = (k_answer < 0) & ((k_prompt == -1) | (k_prompt == q_prompt)) & earlier
    answer_key = (k_answer >= 0) & (k_answer == q_answer) & earlier
    allowed = prompt_key | answer_key
    if window is not None:
        allowed = allowed & (q_position - k_position < window)
    return allowed | (k_column == q_column)


def _masks(handle: ModelHandle, queries: Tokens, keys: Tokens) -> torch.Tensor | dict[str, torch.Tensor]:
    """The 4-D mask(s) for one forward: one per layer type for models with sliding layers; bool for SDPA,
    additive for eager attention."""
    config = handle.model.config.get_text_config()
    types = getattr(config, "layer_types", None) or ["full_attention"]
    built: dict[str, torch.Tensor] = {}
    for kind in dict.fromkeys(types):
        allowed = _allowed(queries, keys, config.sliding_window if kind == "sliding_attention" else None)
        allowed = allowed.reshape(-1, 1, *allowed.shape[-2:])
        if config._attn_implementation == "eager":
            dtype = handle.model.dtype
            zeros = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
            built[kind] = zeros.masked_fill(~allowed, torch.finfo(dtype).min)
        else:
            built[kind] = allowed
    return built if len(built) > 1 else next(iter(built.values()))


class SharedPrefixes:
    """The keys/values of several prompt prefixes, run once as one row: common start, then each remainder.

    `lengths[s]` is the number of tokens of prefix s (where its answers' positions start). `view(row_prompts)`
    gives, for packed rows holding answers to the prompts `row_prompts[r]`, a fresh cache whose row r holds
    the common start and those prompts' remainders (gathered, padded to the longest; the stored cache is never
    written into) and the `Tokens` describing those keys (padding marked with prompt -2).
    """

    def __init__(self, handle: ModelHandle, prefixes: Sequence[Sequence[int]]) -> None:
        self.prefixes = tuple(tuple(p) for p in prefixes)
        self.common = _common_length(self.prefixes)
        rests = [p[self.common :] for p in self.prefixes]
        ids = list(chain(self.prefixes[0][: self.common], *rests))
        device = handle.model.device
        self.row = Tokens(  # the prompts' row: common start (prompt -1), then each prompt's remainder
            torch.tensor([-1] * self.common + [s for s, rest in enumerate(rests) for _ in rest]),
            torch.full((len(ids),), -1),
            torch.tensor([*range(self.common), *(self.common + i for rest in rests for i in range(len(rest)))]),
            torch.arange(len(ids)),
        ).to(device)
        self.cache = DynamicCache()  # every layer keeps every key; the masks apply sliding windows
        with torch.no_grad():
            handle.body(
                input_ids=torch.tensor([ids], device=device),
                attention_mask=_masks(handle, self.row, self.row),
                position_ids=self.row.position[None],
                past_key_values=self.cache,
                use_cache=True,
            )
        self.lengths = torch.tensor([len(p) for p in self.prefixes])
        ends = list(accumulate((len(r) for r in rests), initial=self.common))
        self.spans = [range(a, b) for a, b in pairwise(ends)]  # each remainder's columns in the row

    def view(self, row_prompts: Sequence[Sequence[int]]) -> tuple[DynamicCache, Tokens]:
        """The cache rows and key descriptions for packed rows holding answers to `row_prompts[r]`."""
        columns = [[*range(self.common), *(c for s in prompts for c in self.spans[s])] for prompts in row_prompts]
        width = max(len(c) for c in columns)
        device = self.row.column.device
        index = torch.tensor([c + [0] * (width - len(c)) for c in columns], device=device)
        valid = (
            torch.arange(width, device=device)[None] < torch.tensor([len(c) for c in columns], device=device)[:, None]
        )
        keys = Tokens(
            torch.where(valid, self.row.prompt[index], -2),
            torch.full(index.shape, -1, device=device),
            self.row.position[index],
            torch.arange(width, device=device).expand(index.shape),
        )
        out = copy.copy(self.cache)
        out.layers = []
        for layer in self.cache.layers:
            assert isinstance(layer, DynamicLayer)  # packable models have attention layers only
            view = copy.copy(layer)
            if layer.keys is not None and layer.values is not None:
                view.keys = layer.keys[0][:, index].transpose(0, 1)
                view.values = layer.values[0][:, index].transpose(0, 1)
            out.layers.append(view)
        return out, keys


def _common_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix all rows share (possibly a whole row)."""
    n = min(len(r) for r in rows)
    for row in rows[1:]:
        n = next((i for i in range(n) if row[i] != rows[0][i]), n)
    return n


@dataclass(frozen=True)
class Packing:
    """Tails packed into rows: ids, where each token comes from, and where each answer's score is read."""

    input_ids: torch.Tensor  # (rows, width), padded with 0 at the end of rows
    tokens: Tokens  # (rows, width) each; prompt and answer -1 on padding
    row_prompts: list[list[int]]  # the prompts each row holds answers to
    readout: tuple[torch.Tensor, torch.Tensor]  # row and column of each answer's last token, in input order

    @property
    def answer(self) -> torch.Tensor:
        return self.tokens.answer


def pack(
    tails: Sequence[Sequence[int]], slots: Sequence[int], row_tokens: int, lengths: torch.Tensor | None = None
) -> Packing:
    """Pack tails, in order, into rows of about `row_tokens` tokens: as many rows as that takes, each tail in
    the row its first token falls in when the tokens are shared out evenly (so rows end with little padding).

    `slots[i]` is the prompt of tail i; `lengths[s]` (default 0) where the positions of prompt s's answers start.
    """
    firsts = list(accumulate((len(t) for t in tails), initial=0))
    total = firsts.pop()
    n_rows = -(-total // row_tokens)
    share = [first * n_rows // total for first in firsts]  # nondecreasing; some rows may get no tail
    renumber = {r: i for i, r in enumerate(dict.fromkeys(share))}
    row_of = [renumber[r] for r in share]
    row_first: dict[int, int] = {}
    for row, first in zip(row_of, firsts, strict=True):
        row_first.setdefault(row, first)
    start_of = [first - row_first[row] for row, first in zip(row_of, firsts, strict=True)]
    fill = [0] * len(row_first)  # tokens in each row
    for row, column_start, tail in zip(row_of, start_of, tails, strict=True):
        fill[row] = column_start + len(tail)
    row_prompts: list[dict[int, None]] = [{} for _ in fill]
    for row, prompt_slot in zip(row_of, slots, strict=True):
        row_prompts[row][prompt_slot] = None
    sizes = torch.tensor([len(t) for t in tails])
    offset = torch.arange(int(sizes.sum())) - (torch.cumsum(sizes, 0) - sizes).repeat_interleave(sizes)
    rows = torch.tensor(row_of).repeat_interleave(sizes)
    cols = torch.tensor(start_of).repeat_interleave(sizes) + offset
    slot = torch.tensor(list(slots))
    prompt_length = (lengths if lengths is not None else torch.zeros(int(slot.max()) + 1, dtype=torch.long))[slot]
    shape = (len(fill), max(fill))
    ids = torch.zeros(shape, dtype=torch.long)
    prompt, answer, position = torch.full(shape, -1), torch.full(shape, -1), torch.zeros(shape, dtype=torch.long)
    ids[rows, cols] = torch.tensor(list(chain.from_iterable(tails)), dtype=torch.long)
    prompt[rows, cols] = slot.repeat_interleave(sizes)
    answer[rows, cols] = torch.arange(len(tails)).repeat_interleave(sizes)
    position[rows, cols] = prompt_length.repeat_interleave(sizes) + offset
    column = torch.arange(shape[1]).expand(shape)
    readout = (torch.tensor(row_of), torch.tensor(start_of) + sizes - 1)
    return Packing(ids, Tokens(prompt, answer, position, column), [list(p) for p in row_prompts], readout)


@torch.no_grad()
def score_packed(
    handle: ModelHandle, prefixes: SharedPrefixes, slots: Sequence[int], tails: Sequence[Sequence[int]], row_tokens: int
) -> torch.Tensor:
    """Scores (fp32, CPU) of `prefixes[slots[i]] + tails[i]` for one batch of non-empty tails, packed into rows."""
    device = handle.model.device
    packing = pack(tails, slots, row_tokens, prefixes.lengths)
    cache, seen = prefixes.view(packing.row_prompts)
    here = packing.tokens.to(device, column_offset=seen.column.shape[1])
    keys = Tokens(*(torch.cat([k, q], dim=1) for k, q in zip(seen.fields(), here.fields(), strict=True)))
    hidden = handle.body(
        input_ids=packing.input_ids.to(device),
        attention_mask=_masks(handle, here, keys),
        position_ids=here.position,
        past_key_values=cache,
        use_cache=True,
    ).last_hidden_state
    row, col = (t.to(device) for t in packing.readout)
    return head_on(handle, hidden[row, col]).cpu()
