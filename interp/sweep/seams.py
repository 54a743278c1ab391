"""Where a chat template's rendered text can be cut for splicing (`interp.sweep.splice`): the tokenizer's added
tokens (`<|im_start|>`, `<end_of_turn>`, ...), the last one in a head and one starting a tail, whether text
after an added token tokenises the same on its own, and the answer characters that could complete an added
token across a seam. One `Seams` per fast tokenizer backend; every answer is cached.

>>> import tempfile
>>> from transformers import AutoTokenizer
>>> from interp.models.tiny import build_tiny
>>> tokenizer = AutoTokenizer.from_pretrained(build_tiny("llama", tempfile.mkdtemp()))  # a ChatML template
>>> seams = Seams(tokenizer.backend_tokenizer)
>>> head = "<|im_start|>user Hi<|im_end|><|im_start|>assistant "
>>> cut, ids, anchor = seams.last_added(head, seams.added_tokens())
>>> head[cut:], seams.added_tokens()[anchor].content
('<|im_start|>assistant ', '<|im_start|>')
"""

from __future__ import annotations

from typing import Any


class Seams:
    """The added tokens of one fast tokenizer backend and where they let a rendered conversation be cut."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._tails: dict[str, list[int] | None] = {}
        self._bad: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}
        self._alone: dict[tuple[str, str], bool] = {}
        self._added: dict[int, Any] | None = None

    def tail_ids(self, tail: str) -> list[int] | None:
        """`added_at_start(tail)`, cached per tail."""
        if tail not in self._tails:
            self._tails[tail] = self.added_at_start(tail, self.added_tokens())
        return self._tails[tail]

    def alone_is_same(self, anchor: Any, rest: str) -> bool:
        """Whether the text after the anchor (an added token) can be tokenised without it: the anchor strips no
        whitespace after it and the tokenizer gives that text the same ids at the start of a string as after
        the anchor (not so with Metaspace's prepend-scheme "first", which marks only a string's start)."""
        if anchor.rstrip or anchor.single_word:
            return False
        key = (anchor.content, rest)
        if key not in self._alone:
            encode = self.backend.encode
            self._alone[key] = all(
                encode(anchor.content + rest + p, add_special_tokens=False).ids[1:]
                == encode(rest + p, add_special_tokens=False).ids
                for p in ("x", " Two", "a\nb", "42")
            )
        return self._alone[key]

    def added_tokens(self) -> dict[int, Any]:
        """The tokenizer's added tokens by id (read once: Gemma has thousands)."""
        if self._added is None:
            self._added = self.backend.get_added_tokens_decoder()
        return self._added

    def last_added(self, head: str, added: dict[int, Any]) -> tuple[int, list[int], int] | None:
        """Where the head's last added token starts, the ids before it, and its id; None when there is none to
        cut at (also when that token strips the whitespace before it)."""
        enc = self.backend.encode(head, add_special_tokens=False)
        ids = enc.ids
        for k in range(len(ids) - 1, -1, -1):
            token = added.get(ids[k])
            start, end = enc.offsets[k]
            if token is not None and head[start:end] == token.content:
                return None if token.lstrip else (int(start), ids[:k], int(ids[k]))
        return None

    def added_at_start(self, tail: str, added: dict[int, Any]) -> list[int] | None:
        """The tail's ids when it starts with an added token that keeps the whitespace before it, else None."""
        enc = self.backend.encode(tail, add_special_tokens=False)
        token = added.get(enc.ids[0]) if enc.ids else None
        if token is None or token.lstrip or enc.offsets[0][0] != 0 or not tail.startswith(token.content):
            return None
        return list(enc.ids)

    def bad_seams(self, head: str, tail: str) -> tuple[frozenset[str], frozenset[str]]:
        """First (last) answer characters that would complete an added token begun at the end of the head (tail).

        `tail` is "" when the tail is tokenised with the answer (then nothing follows the answer's piece).
        """
        contents = [t.content for t in self.added_tokens().values() if len(t.content) > 1]
        longest = max((len(c) for c in contents), default=0)
        key = (head[-longest:] if longest else "", tail[:longest])
        if key not in self._bad:
            end, start = key
            first = {c[i] for c in contents for i in range(1, len(c)) if end.endswith(c[:i])}
            last = {c[i - 1] for c in contents for i in range(1, len(c)) if start and start.startswith(c[i:])}
            self._bad[key] = (frozenset(first), frozenset(last))
        return self._bad[key]
