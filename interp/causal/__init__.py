"""Causal interventions on the residual stream, as context managers over `Site`s (torch hooks); matched null
directions, activation patching from another model, and direct attribution of the reward to components; the
`Direction` type (a unit vector at a `Site`, with provenance) they take.

>>> from interp.causal import ablate, steer, mean_ablate, leace, fit_leace  # doctest: +SKIP
"""

from interp.causal.ablation import ablate, mean_ablate
from interp.causal.attribution import component_attribution, gap_attribution
from interp.causal.directions import Direction, cosine, principal_angles, random_directions
from interp.causal.hooks import edit_sites
from interp.causal.leace import fit_leace, leace
from interp.causal.nulls import (
    PLACEBO_WORDS,
    NullDirections,
    covariance_matched_directions,
    isotropic_directions,
    null_quantiles,
    placebo_direction,
    shuffled_label_directions,
)
from interp.causal.patching import patched_scores, patching_curve
from interp.causal.steering import steer
from interp.causal.twin import TwinEffect, sign_agreement, twin_effect
from interp.hooks.active import active_interventions

__all__ = [
    "PLACEBO_WORDS",
    "Direction",
    "NullDirections",
    "TwinEffect",
    "ablate",
    "active_interventions",
    "component_attribution",
    "cosine",
    "covariance_matched_directions",
    "edit_sites",
    "fit_leace",
    "gap_attribution",
    "isotropic_directions",
    "leace",
    "mean_ablate",
    "null_quantiles",
    "patched_scores",
    "patching_curve",
    "placebo_direction",
    "principal_angles",
    "random_directions",
    "shuffled_label_directions",
    "sign_agreement",
    "steer",
    "twin_effect",
]
