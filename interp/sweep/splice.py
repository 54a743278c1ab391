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

>>> import tempfile
>>> from transformers import AutoTokenizer
>>> from interp.models.tiny import build_tiny
>>> tokenizer = AutoTokenizer.from_pretrained(build_tiny("llama", tempfile.mkdtemp()))  # a ChatML template
>>> answers = ["Love", "Freedom"]
>>> rows = splicer(tokenizer).rows("Best thing?", answers)
>>> [list(row) == token_ids(tokenizer, render_pair(tokenizer, "Best thing?", a)) for row, a in zip(rows, answers)]
[True, True]
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
from interp.sweep.seams import Seams

PLACEHOLDER = "\ue000"  # a private-use character: no template trims or rewrites it
# Probe answers, rendered once per template context; the first one tells whether the template trims answers.
PROBES = (" Two words\n", "a\nb</think>x <|im_end|><end_of_turn> naïve 42\t")
MAX_CACHED = 1 << 20  # answers whose ids are kept per template context; cleared when exceeded
MAX_CONTEXTS = 4  # template contexts kept (one for most templates: the head's end does not hold the prompt)


@dataclass(frozen=True)
class PromptPlan:
    """How one prompt's conversations are assembled from fixed parts and each answer's middle ids."""

    head: str  # the rendered conversation before the answer
    tail: str  # the rendered conversation after the answer
    head_ids: list[int]  # ids of the head before its last added token (with the BOS the tokenizer adds)
    left: str  # the head after (or from, see `Seams.alone_is_same`) its last added token: tokenised with each answer
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
        self._adds_bos = adds_bos(tokenizer)
        self.clear()

    def clear(self) -> None:
        """Forget every plan, check and answer ids kept (benchmarks time cold starts with it)."""
        self._size = len(self.tokenizer)
        self._plans: dict[tuple[str, str], PromptPlan | None] = {}
        self._strip: dict[str, bool | None] = {}
        self._checked: dict[tuple[object, ...], bool] = {}
        self._mids: dict[tuple[str, str], dict[str, list[int]]] = {}
        self.seams = Seams(self.backend)

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
                n = shared_prefix_length(full)
                return full[0][:n], [r[n:] for r in full]
            return self._split(prompt, plan, answers)

    def plan(self, prompt: str) -> PromptPlan | None:
        """The prompt's splice plan, or None when its conversations must be rendered whole.

        Per prompt the template is rendered once (around the placeholder). Whether it inserts answers
        verbatim or trimmed is probed once per template, and spliced probe ids are checked against full
        rendering once per template context (the head from its last added token on, and the tail).
        """
        if len(self.tokenizer) != self._size:  # tokens were added: every kept id may be stale
            self.clear()
        key = (chat_template(self.tokenizer), prompt)
        if key not in self._plans:
            plan = self._make_plan(prompt, key[0]) if self.backend is not None else None
            if plan is not None:
                check = (key[0], plan.left, plan.right, tuple(plan.tail_ids), plan.bad_first, plan.bad_last)
                if check not in self._checked:
                    self._checked[check] = self._probes_agree(prompt, plan)
                plan = plan if self._checked[check] else None
            self._plans[key] = plan
        return self._plans[key]

    def _probes_agree(self, prompt: str, plan: PromptPlan) -> bool:
        """Whether each probe renders as head + answer (trimmed if the template trims) + tail, and its spliced
        ids equal the ids of that full rendering."""
        prefix, tails = self._split(prompt, plan, PROBES)
        for probe, tail in zip(PROBES, tails, strict=True):
            text = render_pair(self.tokenizer, prompt, probe)
            content = probe.strip() if plan.strip else probe
            if text != plan.head + content + plan.tail or prefix + tail != token_ids(self.tokenizer, text):
                return False
        return True

    def _split(self, prompt: str, plan: PromptPlan, answers: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        contents = [_content(a, plan) for a in answers]
        distinct = [c for c in dict.fromkeys(contents) if c is not None]
        mids = self._middles(plan, distinct)
        rests = {c: mids[c] + plan.tail_ids for c in distinct}  # each row is head_ids + its rest
        full = {i: self._full(prompt, a) for i, (a, c) in enumerate(zip(answers, contents, strict=True)) if c is None}
        head = plan.head_ids
        if rests:
            n = len(head) + shared_prefix_length(list(rests.values()))
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

    def _make_plan(self, prompt: str, template: str) -> PromptPlan | None:
        rendered = render_pair(self.tokenizer, prompt, PLACEHOLDER)
        if rendered.count(PLACEHOLDER) != 1:
            return None
        head, tail = rendered.split(PLACEHOLDER)
        if template not in self._strip:
            probe = render_pair(self.tokenizer, prompt, PROBES[0])
            verbatim, trimmed = head + PROBES[0] + tail, head + PROBES[0].strip() + tail
            self._strip[template] = None if probe not in (verbatim, trimmed) else probe == trimmed
        strip = self._strip[template]
        if strip is None:
            return None
        added = self.seams.added_tokens()
        anchor = self.seams.last_added(head, added)
        if anchor is None:
            return None
        cut, head_ids, anchor_id = anchor
        bos = self.tokenizer.bos_token_id
        if self._adds_bos and (head_ids[0] if head_ids else anchor_id) != bos:
            head_ids = [bos, *head_ids]  # as `token_ids` does
        token = added[anchor_id]
        left = head[cut:]
        if self.seams.alone_is_same(token, left[len(token.content) :]):
            head_ids, left = [*head_ids, anchor_id], left[len(token.content) :]
        first = self.seams.tail_ids(tail)
        right, tail_ids = ("", first) if first is not None else (tail, [])
        bad_first, bad_last = self.seams.bad_seams(head, tail if not right else "")
        return PromptPlan(head, tail, head_ids, left, right, tail_ids, strip, bad_first, bad_last)

    def _middles(self, plan: PromptPlan, contents: list[str]) -> dict[str, list[int]]:
        """Ids of `left + content + right` for each content, tokenised in one batch, cached across prompts."""
        context = (plan.left, plan.right)
        if context not in self._mids and len(self._mids) >= MAX_CONTEXTS:
            del self._mids[next(iter(self._mids))]  # the oldest context
        cache = self._mids.setdefault(context, {})
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


def _common_length(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    """Length of the common prefix of `a` and `b`, at most `limit`."""
    limit = min(limit, len(a), len(b))
    if list(a[:limit]) == list(b[:limit]):
        return limit
    return next(i for i in range(limit) if a[i] != b[i])


def shared_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all rows share, leaving at least one token in every row.

    >>> shared_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    >>> shared_prefix_length([[1, 2], [1, 2, 3]])
    1
    """
    if not rows:
        return 0
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
