"""Token ids of many (prompt, answer) conversations, rendered and tokenised once per prompt, not once per answer.

Per (tokenizer, prompt) the chat template is rendered once around a placeholder answer: the text before it
(`head`) and after it (`tail`) are the same for every answer. Fast tokenizers first split text at added tokens
(`<|im_start|>`, `<end_of_turn>`, ...) and then tokenise each piece between them on its own, so a
conversation's ids are

    ids(head up to its last added token)  +  ids(that added token + rest of head + answer)  +  ids(tail)

where the first and last parts are tokenised once per prompt and the middle is tokenised per distinct answer
(merges across the head/answer seam included) and cached per tokenizer across prompts. The tail is spliced
only when it starts with an added token that does not strip the whitespace before it; otherwise it is
tokenised with the answer.

An answer is rendered and tokenised whole (`interp.render`) instead when splicing could differ: the prompt's
template is not a plain insertion of the (optionally trimmed) answer on a set of probe answers, or spliced
probe ids differ from full rendering, or the answer's first (last) character could extend an added token that
ends the head (starts the tail), or the tokenizer is not a fast one. Empty answers get `render_pair`'s error.

>>> rows = conversation_ids(rm.tokenizer, "Best thing?", ["Love", "Freedom"])  # doctest: +SKIP
>>> rows[0] == token_ids(rm.tokenizer, render_pair(rm.tokenizer, "Best thing?", "Love"))  # doctest: +SKIP
True
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

from interp.render import adds_bos, chat_template, render_pair, token_ids

PLACEHOLDER = "\ue000"  # a private-use character: no template trims or rewrites it
TRIM_PROBE = " \ue001 "
PROBES = ("Love", "freedom", "Two words", "a\nb", "x</think>y", "<|im_end|>", "naïve 42", "\ue001\t", TRIM_PROBE)
MAX_CACHED = 1 << 20  # answers whose ids are kept per (tokenizer, template context); cleared when exceeded


@dataclass(frozen=True)
class PromptPlan:
    """How one prompt's conversations are assembled from fixed parts and each answer's middle ids."""

    head_ids: list[int]  # ids of the head before its last added token (with the BOS the tokenizer adds)
    left: str  # the head from its last added token on: tokenised with each answer
    right: str  # the tail when it is tokenised with each answer, else ""
    tail_ids: list[int]  # ids of the tail when it is spliced, else []
    strip: bool  # the template trims the answer
    bad_first: frozenset[str]  # an answer starting with one of these could join an added token of the head
    bad_last: frozenset[str]  # an answer ending with one of these could join an added token of the tail


class Splicer:
    """Conversation token ids for one tokenizer; keeps each answer's middle ids across prompts."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self.backend: Any = getattr(tokenizer, "backend_tokenizer", None)
        self._plans: dict[tuple[str, str, int], PromptPlan | None] = {}
        self._mids: dict[tuple[str, str, int], dict[str, list[int]]] = {}
        self._bad: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}

    def rows(self, prompt: str, answers: Sequence[str]) -> list[list[int]]:
        """Token ids of each conversation (prompt, answer), equal to `token_ids(tok, render_pair(tok, ...))`."""
        prefix, tails = self.split(prompt, answers)
        return [prefix + tail for tail in tails]

    def split(self, prompt: str, answers: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """The conversations' longest shared token prefix (leaving each row at least one token) and each rest.

        Equal to `rows[0][:n]` and `[r[n:] for r in rows]` with `n = shared_prefix_length(rows)` of the fully
        rendered rows, without building those rows.
        """
        if not answers:
            return [], []
        plan = self.plan(prompt)
        with _gc_paused():
            if plan is None:
                full = [self._full(prompt, a) for a in answers]
                n = _shared_length(full)
                return full[0][:n], [r[n:] for r in full]
            return self._split(prompt, plan, answers)

    def plan(self, prompt: str) -> PromptPlan | None:
        """The prompt's splice plan, or None when its conversations must be rendered whole."""
        key = (chat_template(self.tokenizer), prompt, len(self.tokenizer))
        if key not in self._plans:
            plan = self._make_plan(prompt) if self.backend is not None else None
            if plan is not None:
                prefix, tails = self._split(prompt, plan, PROBES)
                if [prefix + t for t in tails] != [self._full(prompt, p) for p in PROBES]:
                    plan = None
            self._plans[key] = plan
        return self._plans[key]

    def _split(self, prompt: str, plan: PromptPlan, answers: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        contents = [_content(a, plan) for a in answers]
        distinct = [c for c in dict.fromkeys(contents) if c is not None]
        mids = self._middles(plan, distinct)
        rests = {c: mids[c] + plan.tail_ids for c in distinct}  # each row is head_ids + its rest
        full = {i: self._full(prompt, a) for i, (a, c) in enumerate(zip(answers, contents, strict=True)) if c is None}
        head = plan.head_ids
        if rests:
            n = len(head) + _shared_length(list(rests.values()))
            ref = head + next(iter(rests.values()))
        else:
            ref = next(iter(full.values()))
            n = len(ref) - 1
        for row in full.values():
            n = min(n, _common_length(ref, row, len(row) - 1))
        if n >= len(head):
            cut = {c: rest[n - len(head) :] for c, rest in rests.items()}
        else:
            cut = {c: head[n:] + rest for c, rest in rests.items()}
        return ref[:n], [full[i][n:] if c is None else cut[c] for i, c in enumerate(contents)]

    def _full(self, prompt: str, answer: str) -> list[int]:
        return token_ids(self.tokenizer, render_pair(self.tokenizer, prompt, answer))

    def _make_plan(self, prompt: str) -> PromptPlan | None:
        rendered = render_pair(self.tokenizer, prompt, PLACEHOLDER)
        if rendered.count(PLACEHOLDER) != 1:
            return None
        head, tail = rendered.split(PLACEHOLDER)
        probe = render_pair(self.tokenizer, prompt, TRIM_PROBE)
        if probe not in (head + TRIM_PROBE + tail, head + TRIM_PROBE.strip() + tail):
            return None
        strip = probe == head + TRIM_PROBE.strip() + tail
        if any(render_pair(self.tokenizer, prompt, p) != head + (p.strip() if strip else p) + tail for p in PROBES):
            return None
        added = self.backend.get_added_tokens_decoder()
        anchor = self._last_added(head, added)
        if anchor is None:
            return None
        cut, anchor_id = anchor
        bos = self.tokenizer.bos_token_id
        if cut:
            head_ids = token_ids(self.tokenizer, head[:cut])
        else:  # the head is one piece from its first token: only the BOS the tokenizer adds is fixed
            head_ids = [bos] if adds_bos(self.tokenizer) and anchor_id != bos else []
        first = self._added_at_start(tail, added)
        right, tail_ids = ("", first) if first is not None else (tail, [])
        bad_first, bad_last = self._bad_seams(head, tail if not right else "", added)
        return PromptPlan(head_ids, head[cut:], right, tail_ids, strip, bad_first, bad_last)

    def _last_added(self, head: str, added: dict[int, Any]) -> tuple[int, int] | None:
        """Where the head's last added token starts, and its id; None when there is none to cut at (also when
        that token strips the whitespace before it)."""
        enc = self.backend.encode(head, add_special_tokens=False)
        for tid, (start, end) in zip(reversed(enc.ids), reversed(enc.offsets), strict=True):
            token = added.get(tid)
            if token is not None and head[start:end] == token.content:
                return None if token.lstrip else (int(start), int(tid))
        return None

    def _added_at_start(self, tail: str, added: dict[int, Any]) -> list[int] | None:
        """The tail's ids when it starts with an added token that keeps the whitespace before it, else None."""
        enc = self.backend.encode(tail, add_special_tokens=False)
        token = added.get(enc.ids[0]) if enc.ids else None
        if token is None or token.lstrip or enc.offsets[0][0] != 0 or not tail.startswith(token.content):
            return None
        return list(enc.ids)

    def _bad_seams(self, head: str, tail: str, added: dict[int, Any]) -> tuple[frozenset[str], frozenset[str]]:
        """First (last) answer characters that would complete an added token begun at the end of the head (tail).

        `tail` is "" when the tail is tokenised with the answer (then nothing follows the answer's piece).
        """
        contents = [t.content for t in added.values() if len(t.content) > 1]
        longest = max((len(c) for c in contents), default=0)
        key = (head[-longest:] if longest else "", tail[:longest])
        if key not in self._bad:
            end, start = key
            first = {c[i] for c in contents for i in range(1, len(c)) if end.endswith(c[:i])}
            last = {c[i - 1] for c in contents for i in range(1, len(c)) if start and start.startswith(c[i:])}
            self._bad[key] = (frozenset(first), frozenset(last))
        return self._bad[key]

    def _middles(self, plan: PromptPlan, contents: list[str]) -> dict[str, list[int]]:
        """Ids of `left + content + right` for each content, tokenised in one batch, cached across prompts."""
        cache = self._mids.setdefault((plan.left, plan.right, len(self.tokenizer)), {})
        missing = [c for c in contents if c not in cache]
        if len(cache) + len(missing) > MAX_CACHED:
            cache.clear()
            missing = contents
        if missing:
            encode = getattr(self.backend, "encode_batch_fast", self.backend.encode_batch)
            texts = [plan.left + c + plan.right for c in missing]
            for content, enc in zip(missing, encode(texts, add_special_tokens=False), strict=True):
                cache[content] = enc.ids
        return cache


def _common_length(a: list[int], b: list[int], limit: int) -> int:
    """Length of the common prefix of `a` and `b`, at most `limit`."""
    limit = min(limit, len(a), len(b))
    if a[:limit] == b[:limit]:
        return limit
    return next(i for i in range(limit) if a[i] != b[i])


def _shared_length(rows: list[list[int]]) -> int:
    """Length of the longest prefix all rows share, leaving at least one token in every row."""
    first = rows[0]
    n = min(len(r) for r in rows) - 1
    for row in rows:
        n = _common_length(first, row, n)
    return n


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: building ~10^5 small id lists otherwise triggers it again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _content(answer: str, plan: PromptPlan) -> str | None:
    """The answer as the template inserts it, or None when this answer must be rendered whole."""
    content = answer.strip() if plan.strip else answer
    if not content.strip() or content[0] in plan.bad_first or content[-1] in plan.bad_last:
        return None
    return content


_SPLICERS: weakref.WeakKeyDictionary[PreTrainedTokenizerBase, Splicer] = weakref.WeakKeyDictionary()


def splicer(tokenizer: PreTrainedTokenizerBase) -> Splicer:
    """The tokenizer's splicer (one per tokenizer object, so answer ids are reused by every sweep)."""
    if tokenizer not in _SPLICERS:
        _SPLICERS[tokenizer] = Splicer(tokenizer)
    return _SPLICERS[tokenizer]


def conversation_ids(tokenizer: PreTrainedTokenizerBase, prompt: str, answers: Sequence[str]) -> list[list[int]]:
    """Token ids of (prompt, answer) conversations as `token_ids(render_pair(...))` gives them, spliced."""
    return splicer(tokenizer).rows(prompt, answers)
