"""Reward scores of (prompt, answer) pairs (`reward`); an RM's conformance to the scoring promises
is in `interp.score.conformance`.

Names import their module on first use (`interp._util.lazy`), so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp.score.reward import (
        body_forward,
        body_readout,
        check_finite,
        head_on,
        readout_hidden,
        reward_scores,
        score_encoded,
    )

__all__ = [
    "body_forward",
    "body_readout",
    "check_finite",
    "head_on",
    "readout_hidden",
    "reward_scores",
    "score_encoded",
]

__getattr__, __dir__ = lazy_exports(__name__)
