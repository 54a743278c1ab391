"""rm-interp: mechanistic interpretability of reward models. The public API; subpackages hold the rest.

Load a base LM and its RM, score answers, read the residual stream at a `Site`, fit or load a
`Direction`, and ablate or steer it. Names import their module on first use (PEP 562), so `import interp`
(and `rm-interp --help`) load neither torch nor transformers.

>>> import interp
>>> interp.Site(3).name
'L3.resid_post.readout'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp._util.errors import UserError
    from interp.causal import Direction, ablate, cosine, fit_leace, leace, mean_ablate, principal_angles, steer
    from interp.hooks import Site, capture
    from interp.lexicons import Lexicon, load_lexicon, match_lexicon
    from interp.models import Lineage, ModelHandle, load_lm, load_rm, rm_from_base
    from interp.render import Prompt, load_prompts, paper_prompts, render_pair
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


__getattr__, __dir__ = lazy_exports(__name__)
