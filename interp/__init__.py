"""rm-interp: mechanistic interpretability of reward models. The public API; subpackages hold the rest.

Load a base LM and its RM, score answers, read the residual stream at a `Site`, fit or load a
`Direction`, and ablate or steer it. Names import their module on first use (PEP 562), so `import interp`
(and `rm-interp --help`) load neither torch nor transformers.

>>> import interp
>>> interp.Site(3).name
'L3.resid_post.readout'
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interp.causal import ablate, fit_leace, leace, mean_ablate, steer
    from interp.directions import Direction, cosine, principal_angles
    from interp.errors import UserError
    from interp.hooks import Site, capture
    from interp.lexicon import Lexicon, load_lexicon
    from interp.lexicon_match import match_lexicon
    from interp.lineage import Lineage
    from interp.models import ModelHandle, load_lm, load_rm, rm_from_base
    from interp.prompts import Prompt, load_prompts, paper_prompts
    from interp.render import render_pair
    from interp.score import reward_scores
    from interp.store import capture_to_store, load_site
    from interp.sweep import sweep_answers
    from interp.training import PreferencePair, TrainConfig, load_pairs, neutral_pairs, train_rm

__all__ = [
    "Direction",
    "Lexicon",
    "Lineage",
    "ModelHandle",
    "PreferencePair",
    "Prompt",
    "Site",
    "TrainConfig",
    "UserError",
    "ablate",
    "capture",
    "capture_to_store",
    "cosine",
    "fit_leace",
    "leace",
    "load_lexicon",
    "load_lm",
    "load_pairs",
    "load_prompts",
    "load_rm",
    "load_site",
    "match_lexicon",
    "mean_ablate",
    "neutral_pairs",
    "paper_prompts",
    "principal_angles",
    "render_pair",
    "reward_scores",
    "rm_from_base",
    "steer",
    "sweep_answers",
    "train_rm",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is asked for (PEP 562)."""
    import importlib

    module = _sources().get(name)
    if module is None:
        raise AttributeError(f"module 'interp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


@functools.cache
def _sources() -> dict[str, str]:
    """Each public name's module, read from the `TYPE_CHECKING` imports above (the one list to maintain)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    return {
        a.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for a in node.names
    }
