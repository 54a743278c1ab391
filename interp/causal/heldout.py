"""Disjoint fitting and evaluation sets for a causal claim: words split per category, prompts kept apart.

A direction fitted and evaluated on the same words proves nothing, so the words of each category are split
deterministically: every word gets a rank from a hash of (seed, word), and the `per_category` lowest-ranked
words of each category are held out for evaluation (the same number in every category), the rest fit the
directions, probes and the best layer. The split depends on nothing but the words, their categories and the
seed (not on their order). Evaluation prompts must not be fitting prompts.

>>> fit, held = split_words({"a": "x", "b": "x", "c": "x", "d": "y", "e": "y", "f": "y"}, per_category=1)
>>> sorted(held.values()), len(fit)
(['x', 'y'], 4)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from interp._util.errors import UserError
from interp.render.prompts import Prompt


def _rank(word: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{word}".encode()).hexdigest()


def split_words(
    categories: Mapping[str, str], per_category: int, seed: int = 0
) -> tuple[dict[str, str], dict[str, str]]:
    """(fitting, held-out) word -> category maps: `per_category` words of each category held out, the rest fit.

    Refused when a category would keep fewer than two fitting words.
    """
    if per_category < 1:
        raise UserError(f"Hold out at least one word per category, not {per_category}.")
    held: dict[str, str] = {}
    for category in sorted(set(categories.values())):
        members = sorted((w for w, c in categories.items() if c == category), key=lambda w: _rank(w, seed))
        if len(members) < per_category + 2:
            raise UserError(
                f"Category '{category}' has {len(members)} words, too few to hold out {per_category} and fit on "
                "the rest; hold out fewer words per category or use a larger lexicon."
            )
        held |= {w: category for w in members[:per_category]}
    fitting = {w: c for w, c in categories.items() if w not in held}
    return fitting, {w: c for w, c in categories.items() if w in held}


def disjoint_prompts(fitting: Sequence[Prompt], evaluation: Sequence[Prompt]) -> tuple[Prompt, ...]:
    """The evaluation prompts, refused if any is also a fitting prompt.

    >>> from interp.render.prompts import paper_prompts
    >>> [p.key for p in disjoint_prompts(paper_prompts()[:1], paper_prompts()[1:3])]
    ['best_ever_single', 'best_ever_please']
    """
    shared = sorted({p.key for p in fitting} & {p.key for p in evaluation})
    if shared:
        raise UserError(f"Evaluation prompts must differ from the fitting prompts; '{shared[0]}' is in both.")
    if not evaluation:
        raise UserError("Give at least one evaluation prompt.")
    return tuple(evaluation)
